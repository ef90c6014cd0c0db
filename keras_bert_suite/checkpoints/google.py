"""Reader for Google TF1 checkpoints (`bert_model.ckpt.{index,data-*}`).

Returns `{name: numpy array}` in Google's own names; optimizer slots and
`global_step` are dropped.

Example:
    >>> weights = read_google_checkpoint("uncased_L-12_H-768_A-12/bert_model.ckpt")
    >>> weights["bert/embeddings/word_embeddings"].shape
    (30522, 768)
"""

import pathlib

import tensorflow as tf

from keras_bert_suite.checkpoints.names import is_ignored


def checkpoint_prefix(folder):
    """The `bert_model.ckpt` prefix in `folder` (the one file name Google releases use)."""
    index_files = sorted(pathlib.Path(folder).glob("*.ckpt*.index"))
    if not index_files:
        raise FileNotFoundError(
            f"No TF checkpoint in {folder}: expected bert_model.ckpt.index and "
            "bert_model.ckpt.data-00000-of-00001."
        )
    return str(index_files[0])[: -len(".index")]


def read_google_checkpoint(prefix):
    """Reads every weight of the TF1 checkpoint at `prefix` into numpy arrays."""
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        names = [name for name in reader.get_variable_to_shape_map() if not is_ignored(name)]
        return {name: reader.get_tensor(name) for name in names}
    except (tf.errors.OpError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"Could not read the TF checkpoint {prefix}.index/.data-*: {first_line}. "
            "The files are probably truncated or corrupt: download them again."
        ) from None
