"""The one weight map: our Keras variables by Google checkpoint name.

Every reader turns its file into `{google_name: numpy array}` (HF names are renamed
to Google's in huggingface.py), and `assign_weights` below copies such a dict into
variables after checking every name and shape.

Example:
    >>> variables = backbone_variables(backbone)
    >>> variables["bert/encoder/layer_0/attention/self/query/kernel"].shape
"""

import re
import warnings

import numpy as np

# Optimizer slots and step counters some checkpoints carry; never weights.
_IGNORED = re.compile(r"(/adam_[mv]$|^global_step$|/Momentum$|^_CHECKPOINTABLE_OBJECT_GRAPH$)")

_LAYER_MAP = {
    "attention/self/query": "attention/query",
    "attention/self/key": "attention/key",
    "attention/self/value": "attention/value",
    "attention/output/dense": "attention/output",
    "attention/output/LayerNorm": "attention_layer_norm",
    "intermediate/dense": "intermediate",
    "output/dense": "output",
    "output/LayerNorm": "output_layer_norm",
}


def is_ignored(name):
    """True for optimizer slots and counters, which loading skips."""
    return bool(_IGNORED.search(name))


def _variables_by_path(model):
    return {variable.path: variable for variable in model.weights}


def _dense(prefix, layer_path, variables):
    return {
        f"{prefix}/kernel": variables[f"{layer_path}/kernel"],
        f"{prefix}/bias": variables[f"{layer_path}/bias"],
    }


def _layer_norm(prefix, layer_path, variables):
    return {
        f"{prefix}/gamma": variables[f"{layer_path}/gamma"],
        f"{prefix}/beta": variables[f"{layer_path}/beta"],
    }


def backbone_variables(backbone):
    """`{google_name: keras.Variable}` for every weight of a BertBackbone."""
    paths = _variables_by_path(backbone)
    names = {
        "bert/embeddings/word_embeddings": paths["embeddings/word_embeddings/embeddings"],
        "bert/embeddings/token_type_embeddings": paths["embeddings/token_type_embeddings/embeddings"],
        "bert/embeddings/position_embeddings": paths["embeddings/position_embeddings"],
    }
    names.update(_layer_norm("bert/embeddings/LayerNorm", "embeddings/layer_norm", paths))
    for index in range(backbone.num_layers):
        for google, ours in _LAYER_MAP.items():
            builder = _layer_norm if google.endswith("LayerNorm") else _dense
            names.update(builder(f"bert/encoder/layer_{index}/{google}", f"encoder_layer_{index}/{ours}", paths))
    names.update(_dense("bert/pooler/dense", "pooler", paths))
    return names


def masked_lm_variables(head):
    """`{google_name: keras.Variable}` for a BertMaskedLMHead (`cls/predictions/*`)."""
    return {
        "cls/predictions/transform/dense/kernel": head.transform.kernel,
        "cls/predictions/transform/dense/bias": head.transform.bias,
        "cls/predictions/transform/LayerNorm/gamma": head.transform_layer_norm.gamma,
        "cls/predictions/transform/LayerNorm/beta": head.transform_layer_norm.beta,
        "cls/predictions/output_bias": head.output_bias,
    }


def output_layer_variables(dense, prefix):
    """`{google_name: variable}` for a head stored as `{prefix}output_weights` [out, in].

    The caller transposes `output_weights` to a Keras kernel before assigning.
    """
    return {f"{prefix}output_weights": dense.kernel, f"{prefix}output_bias": dense.bias}


def _listed(names, separator=", ", limit=8):
    shown = separator.join(names[:limit])
    return shown if len(names) <= limit else f"{shown} ... ({len(names) - limit} more)"


def _as_stored(name):
    return name, False


def assign_weights(variables, weights, source, optional_prefixes=(), stored_as=None):
    """Copies `weights` into `variables` (both keyed by Google name), checking everything.

    Raises ValueError naming every missing weight (unless its name starts with one of
    `optional_prefixes`, which are left initialised, with a warning) and every shape
    mismatch. `stored_as(google_name)` gives the name the file uses and whether the file
    holds that array transposed, so messages speak the file's language (default: Google
    names as they are). Returns the sorted names in `weights` that nothing used.
    """
    stored_as = stored_as or _as_stored
    missing = sorted(name for name in variables if name not in weights)
    required_missing = [name for name in missing if not name.startswith(tuple(optional_prefixes))]
    if required_missing:
        raise ValueError(
            f"{source}: {len(required_missing)} weight(s) the model needs are missing: "
            f"{_listed([stored_as(name)[0] for name in required_missing])}. Use the config file "
            "released with these weights, or weights of the architecture the config describes."
        )
    if missing:
        warnings.warn(
            f"{source} has no weights for {', '.join(missing)}; they keep their fresh "
            "initialisation and need training.",
            stacklevel=3,
        )
    mismatched = []
    for name, variable in variables.items():
        if name not in weights or tuple(weights[name].shape) == tuple(variable.shape):
            continue
        expected, found = tuple(variable.shape), tuple(weights[name].shape)
        stored_name, transposed = stored_as(name)
        if transposed:
            expected, found = expected[::-1], found[::-1]
        mismatched.append(f"{stored_name}: expected shape {expected}, found {found}")
    if mismatched:
        raise ValueError(
            f"{source}: weight shapes do not match the model config: {_listed(mismatched, '; ')}. "
            "Check that the config file belongs to these weights."
        )
    for name, variable in variables.items():
        if name in weights:
            variable.assign(np.asarray(weights[name], dtype=variable.dtype))
    return sorted(name for name in weights if name not in variables and not is_ignored(name))
