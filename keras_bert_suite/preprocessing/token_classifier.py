"""`BertTokenClassifierPreprocessor`: word lists (and word labels) -> packed inputs.

NER data comes as words with one tag per word; BERT sees WordPiece pieces. Each word
is tokenized on its own, the pieces are packed as `[CLS] pieces [SEP]`, and the word's
label lands on its FIRST piece, as in the original BERT NER setup. Keras losses have no
"ignore index", so instead of the usual -100 the preprocessor returns label id 0 on the
other positions with `sample_weight` 0.0 there (and 1.0 on each word's first piece).

Example:
    >>> preprocessor = BertTokenClassifierPreprocessor(tokenizer, sequence_length=8)
    >>> x, y, w = preprocessor([["Johanson", "lives", "in", "Berlin"]], [[1, 0, 0, 2]])
    >>> x["token_ids"][0].numpy()   # [CLS] johan ##son lives in berlin [SEP] [PAD]
    array([  101, 13093,  3385,  3268,  1999,  4068,   102,     0], dtype=int32)
    >>> y[0].numpy(), w[0].numpy()
    (array([0, 1, 0, 0, 0, 2, 0, 0], dtype=int32), array([0., 1., 0., 1., 1., 1., 0., 0.], dtype=float32))
"""

from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.preprocessing.base import TaskPreprocessor

# The tag of a word outside every entity (IOB/IOB2); a word cut off by the sequence length gets it.
OUTSIDE = "O"


def as_word_batch(x):
    """A ragged string tensor `[batch, words]` from word lists or raw texts.

    A list of word lists (or a rank-2 string tensor, ragged or dense) is taken as it
    is; raw texts (a str, a list of str or a 1-D string tensor) are split on ASCII
    whitespace with `tf.strings.split`.
    """
    if isinstance(x, str):
        x = [x]
    if isinstance(x, np.ndarray) and x.dtype == object:
        x = x.tolist()
    if isinstance(x, (list, tuple)) and x and not isinstance(x[0], (str, bytes)):
        rows = [row.tolist() if isinstance(row, np.ndarray) else list(row) for row in x]
        bad = next((i for i, row in enumerate(rows) if not all(isinstance(w, (str, bytes)) for w in row)), None)
        if bad is not None:
            raise TypeError(f"Expected words as strings; example {bad} holds {rows[bad][:5]!r}.")
        return tf.ragged.constant(rows, dtype=tf.string, ragged_rank=1)
    if not isinstance(x, (tf.Tensor, tf.RaggedTensor)):
        x = tf.convert_to_tensor(x, dtype=tf.string)
    if x.dtype != tf.string:
        raise TypeError(f"Expected words or texts as strings, found dtype {x.dtype.name}.")
    if x.shape.rank == 1:
        return tf.strings.split(x)
    if x.shape.rank == 2:
        return x if isinstance(x, tf.RaggedTensor) else tf.RaggedTensor.from_tensor(x)
    raise ValueError(
        f"Expected a batch of texts [batch] or of word lists [batch, words]; found rank {x.shape.rank}."
    )


def as_label_batch(y):
    """Word-level label ids as a ragged int32 tensor `[batch, words]`."""
    if isinstance(y, tf.RaggedTensor):
        labels = y
    elif isinstance(y, tf.Tensor):
        labels = tf.RaggedTensor.from_tensor(y) if y.shape.rank == 2 else y
    elif isinstance(y, np.ndarray) and y.dtype != object:
        labels = tf.RaggedTensor.from_tensor(y) if y.ndim == 2 else tf.convert_to_tensor(y)
    else:
        if any(np.ndim(row) != 1 for row in y):
            raise ValueError("Expected one list of label ids per example ([batch, words]), e.g. [[3, 0, 0, 1]].")
        rows = [row.tolist() if isinstance(row, np.ndarray) else list(row) for row in y]
        # Only empty rows leave the dtype open; they are (vacuously) integer ids.
        dtype = None if any(rows) else tf.int32
        labels = tf.ragged.constant(rows, dtype=dtype, ragged_rank=1)
    if not isinstance(labels, tf.RaggedTensor) or labels.shape.rank != 2:
        raise ValueError(f"Expected one list of label ids per example ([batch, words]); found shape {labels.shape}.")
    if not labels.dtype.is_integer:
        raise ValueError(
            f"Expected integer label ids, found dtype {labels.dtype.name}. Map tags to ids first, "
            "e.g. [labels.index(tag) for tag in tags]."
        )
    return tf.cast(labels, tf.int32)


class WordAlignment(NamedTuple):
    """Where the words of a batch went. Piece tensors are ragged `[batch, kept pieces]`."""

    pieces: tf.RaggedTensor  # token ids of the words kept whole
    piece_words: tf.RaggedTensor  # index of each piece's word in `words.flat_values`
    first_piece: tf.RaggedTensor  # True on the first piece of each word
    first_positions: tf.RaggedTensor  # [batch, words]: position in the packed sequence, -1 if none


def align_words(pieces, budget):
    """Keeps the words whose pieces fit in `budget` in full and maps pieces to words.

    `pieces` is ragged `[batch, words, pieces]`. A word that would overflow is dropped
    whole, with every word after it, so no word is cut in the middle. (Google's NER
    scripts and HF's `run_ner` cut the piece list at `budget` instead, which can keep
    the first pieces of the last word; both agree whenever every word fits.) A word
    with no pieces (e.g. only control characters) has no position.
    """
    piece_counts = pieces.values.row_lengths()
    ends = tf.cumsum(piece_counts)
    totals_before_row = tf.gather(tf.concat([tf.zeros([1], tf.int64), ends], 0), pieces.row_splits[:-1])
    ends_in_row = ends - tf.gather(totals_before_row, pieces.value_rowids())
    starts_in_row = ends_in_row - piece_counts
    word_kept = ends_in_row <= tf.cast(budget, tf.int64)

    flat_pieces = pieces.merge_dims(1, 2)
    piece_kept = tf.repeat(word_kept, piece_counts)
    piece_words = tf.repeat(tf.range(tf.size(piece_counts, out_type=tf.int64)), piece_counts)
    first_piece = tf.ragged.range(piece_counts).flat_values == 0

    def kept(values):
        return tf.ragged.boolean_mask(flat_pieces.with_values(values), flat_pieces.with_values(piece_kept))

    has_position = word_kept & (piece_counts > 0)
    positions = tf.where(has_position, starts_in_row + 1, -1)  # + 1 for [CLS]
    return WordAlignment(
        pieces=kept(flat_pieces.values),
        piece_words=kept(piece_words),
        first_piece=kept(first_piece),
        first_positions=pieces.with_values(positions).with_row_splits_dtype(tf.int64),
    )


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertTokenClassifierPreprocessor(TaskPreprocessor):
    """`x` = word lists (`[batch, words]`) or raw texts; `y` = one label id per word.

    Returns `x` (the backbone's inputs) alone, or `(x, y, sample_weight)` with `y`
    int32 `[batch, sequence_length]` (the word's label on its first piece, 0 elsewhere)
    and `sample_weight` float32 (1.0 on first pieces, 0.0 on other pieces, `[CLS]`,
    `[SEP]` and padding). An optional per-example `sample_weight` `[batch]` scales
    that example's weights. Words that do not fit in `sequence_length - 2` pieces are
    dropped whole (see `align_words`).
    """

    def align(self, x):
        """`(words, WordAlignment)` for a batch of word lists or texts."""
        words = as_word_batch(x)
        alignment = align_words(self.tokenizer(words), self.sequence_length - 2)
        return words, alignment

    def first_piece_positions(self, x):
        """Ragged int64 `[batch, words]`: each word's first-piece position, -1 if cut off."""
        return self.align(x)[1].first_positions

    def call(self, x, y=None, sample_weight=None):
        words, alignment = self.align(x)
        packed = self.pack(alignment.pieces)
        if y is None:
            return packed
        labels = as_label_batch(y)
        check = tf.debugging.assert_equal(
            labels.row_lengths(), words.row_lengths(),
            message="Every word needs exactly one label: an example's label count differs from its word count",
        )
        with tf.control_dependencies([check]):
            word_labels = tf.identity(labels.flat_values)
        piece_labels = tf.gather(word_labels, alignment.piece_words.values)
        first = alignment.first_piece.values
        label_ids = self._to_sequence(alignment, tf.where(first, piece_labels, 0))
        weights = self._to_sequence(alignment, tf.cast(first, tf.float32))
        if sample_weight is not None:
            weights *= tf.cast(tf.reshape(sample_weight, [-1, 1]), tf.float32)
        return packed, label_ids, weights

    def _to_sequence(self, alignment, piece_values):
        """Kept-piece values -> dense `[batch, sequence_length]`, after `[CLS]`, zero-padded."""
        ragged = alignment.pieces.with_values(piece_values)
        cls = tf.RaggedTensor.from_tensor(tf.zeros([ragged.nrows(), 1], piece_values.dtype))
        return tf.concat([cls, ragged], axis=1).to_tensor(shape=[None, self.sequence_length])
