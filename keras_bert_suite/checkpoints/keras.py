"""Our own preset folder: what `save_to_preset` writes and `from_preset` reads back.

Layout: `kbs_metadata.json` (format marker, versions), `backbone_config.json`
(BertConfig names), `model.weights.h5` (Keras weights, bit-exact), `vocab.txt`,
`tokenizer_config.json`, and, when a task saved its heads, `heads.weights.h5`: head
arrays under their Google checkpoint names (`cls/predictions/...`,
`cls/seq_relationship/...`), so every task reads the heads it has. The folder is written beside the target and renamed into
place, so a crash never leaves half a preset.

Example:
    >>> backbone.save_to_preset("my_bert", tokenizer=tokenizer)
    >>> same = BertBackbone.from_preset("my_bert")
"""

import json
import pathlib
import tempfile

import h5py
import keras

from keras_bert_suite.utils import atomic_directory
from keras_bert_suite.version import __version__

METADATA_FILE = "kbs_metadata.json"
CONFIG_FILE = "backbone_config.json"
WEIGHTS_FILE = "model.weights.h5"
VOCABULARY_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
HEADS_FILE = "heads.weights.h5"
FORMAT_VERSION = 1


def _write_json(path, data):
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def save_preset(path, backbone, tokenizer, head_weights=None):
    """Writes `backbone` (+ `tokenizer`'s vocabulary and casing, and `head_weights`
    `{google_name: array}` if given) as a preset folder."""
    if tokenizer is None:
        raise ValueError(
            "save_to_preset needs the tokenizer whose vocabulary goes with these weights: "
            "backbone.save_to_preset(path, tokenizer=WordPieceTokenizer.from_preset(...))."
        )
    vocabulary = tokenizer.get_vocabulary()
    if len(vocabulary) != backbone.vocabulary_size:
        raise ValueError(
            f"The tokenizer has {len(vocabulary)} tokens but the backbone's embedding table "
            f"has {backbone.vocabulary_size} rows; they do not belong together."
        )
    target = pathlib.Path(path)
    if target.exists() and not (target / METADATA_FILE).is_file():
        raise FileExistsError(f"{target} exists and is not a keras_bert_suite preset; choose another path.")
    with atomic_directory(target) as staging:
        _write_json(staging / METADATA_FILE, {
            "format": "keras_bert_suite", "format_version": FORMAT_VERSION,
            "class": type(backbone).__name__, "keras_bert_suite_version": __version__,
            "keras_version": keras.__version__,
        })
        backbone.bert_config.to_json_file(staging / CONFIG_FILE)
        backbone.save_weights(str(staging / WEIGHTS_FILE))
        (staging / VOCABULARY_FILE).write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
        _write_json(staging / TOKENIZER_CONFIG_FILE, {
            "lowercase": tokenizer.lowercase, "strip_accents": tokenizer.strip_accents,
        })
        if head_weights:
            with h5py.File(staging / HEADS_FILE, "w") as file:
                for name, array in head_weights.items():
                    file.create_dataset(name, data=array)


def read_head_weights(folder):
    """`{google_name: array}` of a preset folder's `heads.weights.h5`; `{}` without one."""
    path = pathlib.Path(folder) / HEADS_FILE
    if not path.is_file():
        return {}
    weights = {}

    def record(name, item):
        if isinstance(item, h5py.Dataset):
            weights[name] = item[()]

    try:
        with h5py.File(path, "r") as file:
            file.visititems(record)
    except OSError as error:
        raise ValueError(f"{path} is truncated or corrupt ({_first_line(error)}). Save the preset again with "
                         "model.save_to_preset(...), or copy the file again.") from None
    return weights


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _stored_shapes(weights_file):
    """`{path inside the file: shape}` of every array in a `.weights.h5` file."""
    shapes = {}

    def record(name, item):
        if isinstance(item, h5py.Dataset):
            shapes[name] = tuple(item.shape)

    try:
        with h5py.File(weights_file, "r") as file:
            file.visititems(record)
    except OSError as error:
        raise ValueError(
            f"{weights_file} is truncated or corrupt ({_first_line(error)}). Save the preset again "
            "with backbone.save_to_preset(...), or copy the file again."
        ) from None
    return shapes


def _expected_shapes(backbone):
    """What `_stored_shapes` reads from this backbone's own weights file."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / WEIGHTS_FILE
        backbone.save_weights(str(path))
        return _stored_shapes(path)


def _differences(expected, found, limit=8):
    """Lines naming every reshaped, missing and unexpected array; empty when both agree."""
    lines = [
        f"{name}: expected shape {shape}, found {found[name]}"
        for name, shape in sorted(expected.items())
        if name in found and found[name] != shape
    ]
    lines += [f"{name}: missing" for name in sorted(set(expected) - set(found))]
    lines += [f"{name}: unexpected" for name in sorted(set(found) - set(expected))]
    return lines[:limit] + ([f"... ({len(lines) - limit} more)"] if len(lines) > limit else [])


def _mismatch_error(folder, differences):
    """The ValueError that says how the weights file differs from `backbone_config.json`."""
    return ValueError(
        f"{folder / WEIGHTS_FILE} does not match {folder / CONFIG_FILE}: {'; '.join(differences)}. "
        "Save the preset again with save_to_preset from the model these weights came from, "
        "or restore the backbone_config.json that was saved with them."
    )


def load_preset_weights(backbone, folder):
    """Loads `model.weights.h5` from one of our preset folders into `backbone`."""
    folder = pathlib.Path(folder)
    weights_file = folder / WEIGHTS_FILE
    if not weights_file.is_file():
        raise FileNotFoundError(
            f"{weights_file} is missing; the preset folder is incomplete. Save it again with "
            "backbone.save_to_preset(...), or copy the whole folder again."
        )
    found = _stored_shapes(weights_file)
    # Comparing shapes is cheap; naming the differing arrays needs a scratch save, so only on error.
    if sorted(found.values()) != sorted(tuple(weight.shape) for weight in backbone.weights):
        raise _mismatch_error(folder, _differences(_expected_shapes(backbone), found))
    try:
        backbone.load_weights(str(weights_file))
    except (OSError, ValueError, KeyError) as error:
        differences = _differences(_expected_shapes(backbone), found)
        if differences:
            raise _mismatch_error(folder, differences) from None
        raise ValueError(
            f"Could not load {weights_file}: {_first_line(error)}. The file is truncated or corrupt: "
            "save the preset again with backbone.save_to_preset(...), or copy the file again."
        ) from None
