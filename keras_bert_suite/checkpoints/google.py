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
            "bert_model.ckpt.data-00000-of-00001. Copy or download the whole checkpoint folder again."
        )
    return str(index_files[0])[: -len(".index")]


def _data_files(prefix):
    """The `.data-NNNNN-of-NNNNN` shards beside the `prefix.index` file."""
    prefix = pathlib.Path(prefix)
    return sorted(prefix.parent.glob(f"{prefix.name}.data-*"))


def read_google_checkpoint(prefix):
    """Reads every weight of the TF1 checkpoint at `prefix` into numpy arrays."""
    data_files = _data_files(prefix)
    if not data_files:
        raise FileNotFoundError(
            f"{prefix}.data-00000-of-00001 is missing: a TF checkpoint is its .index file plus "
            "its .data-* shard(s). Copy or download the whole checkpoint folder again."
        )
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        names = [name for name in reader.get_variable_to_shape_map() if not is_ignored(name)]
        return {name: reader.get_tensor(name) for name in names}
    except (tf.errors.OpError, ValueError, IndexError) as error:
        # TF reports a short .data file as IndexError("Read less bytes than requested").
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        files = ", ".join(path.name for path in [pathlib.Path(f"{prefix}.index"), *data_files])
        raise ValueError(
            f"Could not read the TF checkpoint {prefix} ({files}): {first_line}. "
            "The files are truncated or corrupt: download the checkpoint again."
        ) from None
