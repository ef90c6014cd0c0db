"""Turn a preset (registered name, zip URL or file, local folder) into a checked checkpoint folder.

Example:
    >>> resolved = resolve_preset("minilm_l6_h384_uncased")
    >>> resolved.format, resolved.lowercase, resolved.config.hidden_dim
    ('huggingface', True, 384)
"""

import dataclasses
import importlib.resources
import os
import pathlib
import re

from keras_bert_suite.checkpoints.download import download_preset
from keras_bert_suite.config import BertConfig
from keras_bert_suite.presets.registry import lookup_preset, unknown_preset_error
from keras_bert_suite.utils import read_json_object

# Format -> files it needs; a tuple lists alternatives of which one must be present.
_LAYOUTS = {
    "keras": ("kbs_metadata.json", "backbone_config.json", "model.weights.h5", "vocab.txt", "tokenizer_config.json"),
    "google": ("bert_config.json", "bert_model.ckpt.index", "vocab.txt"),
    "huggingface": ("config.json", ("model.safetensors", "pytorch_model.bin"), "vocab.txt"),
}
# Format -> files whose presence says "this folder means to be that format", checked in order.
_MARKERS = {
    "keras": ("kbs_metadata.json",),
    "google": ("bert_config.json", "bert_model.ckpt.index"),
    "huggingface": ("config.json", "model.safetensors", "pytorch_model.bin"),
}
_CONFIG_FILES = {"keras": "backbone_config.json", "google": "bert_config.json", "huggingface": "config.json"}
_URL_SCHEMES = ("http://", "https://", "file://")


@dataclasses.dataclass(frozen=True)
class ResolvedPreset:
    """A checkpoint folder on disk, with what it takes to load it.

    Attributes:
        folder: the folder holding the checkpoint files.
        format: "google" (bert_model.ckpt), "huggingface" (config.json + safetensors/bin)
            or "keras" (our own `kbs_metadata.json` layout).
        vocabulary_file: the WordPiece `vocab.txt`.
        lowercase: whether the tokenizer must lowercase and strip accents.
        config: the architecture.
        name: the registered preset name, or None for a URL or local folder.
    """

    folder: pathlib.Path
    format: str
    vocabulary_file: pathlib.Path
    lowercase: bool
    config: BertConfig
    name: str | None = None


def resolve_preset(preset):
    """Finds (downloading if needed) and checks the checkpoint folder behind `preset`.

    Args:
        preset: a registered name or alias (see `list_presets()`), an `http(s)://` or
            `file://` URL of a zip, a local `.zip` file, or a local folder. A registered name wins over a folder
            of the same name in the working directory; write `./name` for the folder.

    Returns:
        A `ResolvedPreset`. Raises ValueError for an unknown name (with suggestions) and
        FileNotFoundError for a folder that is not a complete checkpoint layout.
    """
    text = os.fspath(preset)
    info = lookup_preset(text) if isinstance(preset, str) else None
    if info is not None:
        folder = _package_folder(info) if info["url"] is None else _downloaded_folder(info)
    elif text.startswith(_URL_SCHEMES):
        folder = download_preset(text)
    elif pathlib.Path(text).is_dir():
        folder = pathlib.Path(text)
    elif pathlib.Path(text).is_file() and text.endswith(".zip"):
        folder = download_preset(pathlib.Path(text).resolve().as_uri())
    elif isinstance(preset, str) and "/" not in text and os.sep not in text:
        raise unknown_preset_error(text)
    else:
        raise FileNotFoundError(
            f"Preset folder {text} does not exist. Pass an existing checkpoint folder, a zip URL, "
            "or a registered name from `keras_bert_suite.presets.list_presets()`."
        )
    folder = _descend_into_single_subfolder(folder)
    layout = _detect_format(folder)
    lowercase = info["lowercase"] if info is not None else _detect_lowercase(folder, layout)
    return ResolvedPreset(
        folder=folder,
        format=layout,
        vocabulary_file=folder / "vocab.txt",
        lowercase=lowercase,
        config=BertConfig.from_json_file(folder / _CONFIG_FILES[layout]),
        name=info["name"] if info is not None else None,
    )


def _downloaded_folder(info):
    """Downloads and unpacks a registered Google release into the cache (once)."""
    return download_preset(info["url"], name=f"{info['name']}.zip", expected_sha256=info["sha256"])


def _package_folder(info):
    """The checkpoint folder shipped inside an installed Python package."""
    try:
        root = importlib.resources.files(info["package"])
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"Preset {info['name']!r} ships in the Python package {info['package']!r}, which is "
            f"not installed. Install it with: {info['install']}"
        ) from None
    return pathlib.Path(str(root / info["archive_folder"]))


def _descend_into_single_subfolder(folder):
    """Google zips hold one folder (`uncased_L-12_H-768_A-12/...`): step into it."""
    while not any((folder / marker).exists() for markers in _MARKERS.values() for marker in markers):
        entries = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
        if len(entries) != 1 or not entries[0].is_dir():
            break
        folder = entries[0]
    return folder


def _detect_format(folder):
    """The layout a folder follows; FileNotFoundError naming missing or expected files."""
    present = sorted(p.name for p in folder.iterdir())
    for layout, markers in _MARKERS.items():
        if not any((folder / marker).exists() for marker in markers):
            continue
        missing = [
            " or ".join(need) if isinstance(need, tuple) else need
            for need in _LAYOUTS[layout]
            if not any((folder / name).is_file() for name in (need if isinstance(need, tuple) else (need,)))
        ]
        if missing:
            raise FileNotFoundError(
                f"{folder} looks like a {layout} checkpoint but is missing {', '.join(missing)}. "
                f"A {layout} folder needs: {_describe(layout)}. Found: {_summarize(present)}."
            )
        return layout
    layouts = "\n".join(f"  {layout}: {_describe(layout)}" for layout in _LAYOUTS)
    raise FileNotFoundError(
        f"{folder} is not a BERT checkpoint folder. Found: {_summarize(present)}. "
        f"Expected one of these layouts:\n{layouts}"
    )


def _detect_lowercase(folder, layout):
    """Whether the vocabulary expects lowercased text, from the files or the folder's name."""
    if layout == "keras":
        return _read_bool(folder / "tokenizer_config.json", "lowercase")
    tokenizer_file = folder / "tokenizer_config.json"
    if layout == "huggingface" and tokenizer_file.is_file() and "do_lower_case" in read_json_object(tokenizer_file):
        return _read_bool(tokenizer_file, "do_lower_case")
    hints = [folder.name]
    if layout == "huggingface":
        hints.insert(0, str(read_json_object(folder / "config.json").get("_name_or_path", "")))
    for hint in hints:
        words = re.split(r"[^a-z]+", hint.lower())
        if "uncased" in words:
            return True
        if "cased" in words:
            return False
    return True


def _read_bool(path, key):
    value = read_json_object(path).get(key)
    if not isinstance(value, bool):
        raise ValueError(f"{path}: key {key!r} must be true or false, found {value!r}.")
    return value


def _describe(layout):
    return ", ".join(" or ".join(need) if isinstance(need, tuple) else need for need in _LAYOUTS[layout])


def _summarize(names, limit=20):
    if not names:
        return "no files"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} ... ({len(names) - limit} more)"
