"""Loads a resolved preset's weights into a backbone (and task heads), any format.

Example:
    >>> resolved = resolve_preset("bert_base_uncased")
    >>> backbone = BertBackbone(**resolved.config.backbone_kwargs())
    >>> load_backbone_weights(backbone, resolved)
"""

import warnings

from keras_bert_suite.checkpoints.google import checkpoint_prefix, read_google_checkpoint
from keras_bert_suite.checkpoints.huggingface import (
    huggingface_name,
    huggingface_weights_file,
    read_huggingface_weights,
)
from keras_bert_suite.checkpoints.keras import load_preset_weights
from keras_bert_suite.checkpoints.names import assign_weights, backbone_variables

# Names of heads a backbone-only load leaves alone without comment.
HEAD_PREFIXES = ("cls/", "output_weights", "output_bias")


def count_vocabulary(path):
    """Number of entries in a `vocab.txt` (one token per line)."""
    try:
        with open(path, encoding="utf-8") as file:
            return sum(1 for line in file if line.rstrip("\n"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: the vocabulary that goes with these weights must sit beside "
            "them. Copy or download the whole checkpoint folder again."
        ) from None


def check_vocabulary(backbone, resolved):
    """Raises if the vocabulary file and the embedding table disagree in size."""
    found = count_vocabulary(resolved.vocabulary_file)
    if found != backbone.vocabulary_size:
        raise ValueError(
            f"{resolved.vocabulary_file} has {found} tokens but the model's word-embedding "
            f"table has {backbone.vocabulary_size} rows (vocab_size in the config). "
            "The vocabulary does not belong to this checkpoint: use the vocab.txt released "
            "with these weights."
        )


POOLER_PREFIX = "bert/pooler/"


def read_checkpoint_weights(resolved):
    """`{google_name: array}` of a Google or HF preset folder."""
    if resolved.format == "google":
        return read_google_checkpoint(checkpoint_prefix(resolved.folder))
    if resolved.format == "huggingface":
        return read_huggingface_weights(resolved.folder)
    raise ValueError(f"{resolved.folder}: format {resolved.format!r} has no name-keyed reader.")


def load_backbone_weights(backbone, resolved):
    """Fills `backbone` with the weights of `resolved` (a `ResolvedPreset`)."""
    check_vocabulary(backbone, resolved)
    if resolved.format == "keras":
        load_preset_weights(backbone, resolved.folder)
        return
    if resolved.format == "huggingface":
        source, stored_as = huggingface_weights_file(resolved.folder), huggingface_name
    else:
        source, stored_as = checkpoint_prefix(resolved.folder), None
    weights = read_checkpoint_weights(resolved)
    # HF saves its span, token and choice heads without the pooler (`add_pooling_layer=False`):
    # such a checkpoint loads, and the pooler, which those heads never read, starts fresh.
    unexpected = assign_weights(backbone_variables(backbone), weights, str(source), stored_as=stored_as,
                                optional_prefixes=(POOLER_PREFIX,))
    unexpected = [name for name in unexpected if not name.startswith(HEAD_PREFIXES)]
    if stored_as:
        unexpected = [stored_as(name)[0] for name in unexpected]
    if unexpected:
        warnings.warn(
            f"{source}: weights not used by BertBackbone: {', '.join(unexpected)}.",
            stacklevel=2,
        )
