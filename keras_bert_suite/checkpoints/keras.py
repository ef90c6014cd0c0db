"""Our own preset folder: what `save_to_preset` writes and `from_preset` reads back.

Layout: `kbs_metadata.json` (format marker, versions), `backbone_config.json`
(BertConfig names), `model.weights.h5` (Keras weights, bit-exact), `vocab.txt`,
`tokenizer_config.json`. The folder is written beside the target and renamed into
place, so a crash never leaves half a preset.

Example:
    >>> backbone.save_to_preset("my_bert", tokenizer=tokenizer)
    >>> same = BertBackbone.from_preset("my_bert")
"""

import json
import pathlib
import shutil
import tempfile

import keras

METADATA_FILE = "kbs_metadata.json"
CONFIG_FILE = "backbone_config.json"
WEIGHTS_FILE = "model.weights.h5"
VOCABULARY_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
FORMAT_VERSION = 1


def _write_json(path, data):
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def save_preset(path, backbone, tokenizer):
    """Writes `backbone` (+ `tokenizer`'s vocabulary and casing) as a preset folder."""
    from keras_bert_suite import __version__

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
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
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
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_preset_weights(backbone, folder):
    """Loads `model.weights.h5` from one of our preset folders into `backbone`."""
    weights_file = pathlib.Path(folder) / WEIGHTS_FILE
    if not weights_file.is_file():
        raise FileNotFoundError(f"{weights_file} is missing; the preset folder is incomplete.")
    try:
        backbone.load_weights(str(weights_file))
    except (OSError, ValueError, KeyError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"Could not load {weights_file}: {first_line}. The file is truncated, corrupt, "
            f"or was saved from a different architecture than {folder / CONFIG_FILE}."
        ) from None
