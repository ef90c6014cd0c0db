"""Presets: named checkpoints (every Google BERT release, plus an embedded default) and
the resolution of a preset name, zip URL or local folder into a checked checkpoint folder.

The registry is one JSON per Google release, kept inside this package
(`keras_bert_suite/presets/*.json`) rather than in a top-level `presets/` folder as the
architecture card draws it, so that wheels ship them. Each JSON gives the download URL,
the folder inside the zip, the casing, the architecture, the parameter count, an
approximate download size and the sha256 (null until known: the first download records
it in the cache's `checksums.json`).

Example:
    >>> from keras_bert_suite.presets import list_presets, resolve_preset
    >>> len(list_presets())
    34
    >>> resolved = resolve_preset(DEFAULT_PRESET)  # Installed locally, no download.
    >>> resolved.format, resolved.lowercase, resolved.config.num_layers
    ('huggingface', True, 6)
"""

from keras_bert_suite.presets.registry import (
    DEFAULT_PRESET,
    get_preset_info,
    list_presets,
    lookup_preset,
    parameter_count,
)
from keras_bert_suite.presets.resolve import ResolvedPreset, resolve_preset

__all__ = [
    "DEFAULT_PRESET",
    "ResolvedPreset",
    "get_preset_info",
    "list_presets",
    "lookup_preset",
    "parameter_count",
    "resolve_preset",
]
