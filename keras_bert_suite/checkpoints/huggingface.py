"""Reader for HF checkpoints (`model.safetensors`, or `pytorch_model.bin` via torch).

Renames HF parameters to Google's checkpoint names and transposes every
`nn.Linear` weight ([out, in]) into a Keras kernel ([in, out]), so one weight map
(names.py) serves both formats.

Example:
    >>> weights = read_huggingface_weights("all-MiniLM-L6-v2/")
    >>> weights["bert/encoder/layer_0/attention/self/query/kernel"].shape
    (384, 384)
"""

import pathlib
import re

import numpy as np
from safetensors import SafetensorError, safe_open

# HF heads whose `.weight` is [out, in] in Google too (Google's `output_weights`).
_OUTPUT_WEIGHTS = {
    "cls.seq_relationship": "cls/seq_relationship",
    "classifier": "",
    "qa_outputs": "cls/squad",
}
_SKIPPED = ("embeddings.position_ids", "cls.predictions.decoder.weight")


def _load_safetensors(path):
    try:
        with safe_open(str(path), framework="numpy") as file:
            return {name: file.get_tensor(name) for name in file.keys()}
    except TypeError as error:  # numpy has no bfloat16.
        raise ValueError(
            f"Could not read {path}: {error}. Its weights are bfloat16, which numpy cannot hold: "
            "convert the file to float32 (or float16) safetensors first."
        ) from None
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(
            f"Could not read {path}: {error}. The file is truncated or corrupt: download it again."
        ) from None


def _load_pytorch_bin(path):
    try:
        import torch  # optional and heavy: only a pytorch_model.bin needs it
    except ImportError:
        raise ImportError(
            f"{path} is a PyTorch pickle; reading it needs torch (`pip install torch`). "
            "Prefer model.safetensors, which needs nothing."
        ) from None
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or unsafe files.
        raise ValueError(f"Could not read {path} with torch.load(weights_only=True): {error}") from None
    return {name: tensor.float().numpy() for name, tensor in state.items()}


def _google_name(name, value):
    """One HF parameter -> (Google name, array in Google layout), or None to skip."""
    if name in _SKIPPED or name.startswith("bert.embeddings.position_ids"):
        return None
    name = name.removeprefix("bert.")
    for head, google in _OUTPUT_WEIGHTS.items():
        if name in (f"{head}.weight", f"{head}.bias"):
            suffix = "output_weights" if name.endswith("weight") else "output_bias"
            return (f"{google}/{suffix}" if google else suffix), value
    if name in ("cls.predictions.bias", "cls.predictions.decoder.bias"):
        return "cls/predictions/output_bias", value
    parts = name.split(".")
    leaf = parts.pop()
    if not parts:  # A top-level name of no BERT module; reported as unused.
        return name, value
    path = re.sub(r"layer/(\d+)", r"layer_\1", "/".join(parts))
    if not path.startswith("cls/"):
        path = f"bert/{path}"
    if parts[-1] == "LayerNorm":
        return f"{path}/{ {'weight': 'gamma', 'bias': 'beta'}.get(leaf, leaf)}", value
    if parts[-1].endswith("embeddings"):
        return path, value
    if leaf == "weight":
        return f"{path}/kernel", np.ascontiguousarray(value.T)
    return f"{path}/{leaf}", value


def huggingface_name(google_name):
    """The HF parameter name of a Google name (without the `bert.` of head models), and
    whether HF stores the array transposed (an `nn.Linear` weight)."""
    for head, google in _OUTPUT_WEIGHTS.items():
        for suffix, leaf in (("output_weights", "weight"), ("output_bias", "bias")):
            if google_name == (f"{google}/{suffix}" if google else suffix):
                return f"{head}.{leaf}", False
    if google_name == "cls/predictions/output_bias":
        return "cls.predictions.bias", False
    *parts, leaf = google_name.removeprefix("bert/").split("/")
    if leaf.endswith("embeddings"):
        parts, renamed = [*parts, leaf], "weight"
    else:
        renamed = {"kernel": "weight", "gamma": "weight", "beta": "bias"}.get(leaf, leaf)
    return re.sub(r"layer_(\d+)", r"layer.\1", ".".join([*parts, renamed])), leaf == "kernel"


def huggingface_weights_file(folder):
    """`model.safetensors` (preferred) or `pytorch_model.bin` of an HF folder."""
    folder = pathlib.Path(folder)
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{folder} has neither model.safetensors nor pytorch_model.bin: copy or download "
        "the checkpoint's weights file into it."
    )


def read_huggingface_weights(folder):
    """Reads `model.safetensors` (preferred) or `pytorch_model.bin` from an HF folder."""
    weights_file = huggingface_weights_file(folder)
    if weights_file.suffix == ".safetensors":
        raw = _load_safetensors(weights_file)
    else:
        raw = _load_pytorch_bin(weights_file)
    weights = {}
    for name, value in raw.items():
        converted = _google_name(name, np.asarray(value))
        if converted:
            google, array = converted
            if google == "cls/predictions/output_bias" and google in weights:
                continue  # decoder.bias duplicates predictions.bias.
            weights[google] = array
    return weights
