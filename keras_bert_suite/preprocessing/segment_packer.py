"""Packs one or two token segments into BERT's fixed-length input layout.

`[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, segment ids 0/1, padding mask, padded
to `sequence_length`. Pairs are truncated like the original `_truncate_seq_pair`:
one token at a time from the longer segment (the second on ties), which has the
closed form used below, so it runs as vectorised TF ops inside `tf.data`.

Example:
    >>> ids, segments, mask = pack_segments(tokens_a, tokens_b, 128, cls_id=101, sep_id=102)
"""

import tensorflow as tf


def _keep_first(ragged, lengths):
    """Keeps the first `lengths[i]` tokens of row i of a ragged tensor."""
    positions = tf.ragged.range(ragged.row_lengths())
    return tf.ragged.boolean_mask(ragged, positions < tf.expand_dims(lengths, 1))


def truncated_pair_lengths(length_a, length_b, budget):
    """Lengths after `_truncate_seq_pair(a, b, budget)`: trim the longer side, b on ties."""
    total_fits = length_a + length_b <= budget
    half = (budget + 1) // 2
    keep_a = tf.minimum(length_a, tf.maximum(budget - length_b, half))
    keep_a = tf.where(total_fits, length_a, keep_a)
    keep_b = tf.where(total_fits, length_b, budget - keep_a)
    return keep_a, keep_b


def pack_segments(first, second, sequence_length, cls_id, sep_id, pad_id=0):
    """Returns dense int32 `(token_ids, segment_ids, padding_mask)`, `[batch, sequence_length]`.

    `first` and `second` are ragged int `[batch, None]` token ids (`second` may be None).
    """
    first = tf.cast(first, tf.int32)
    batch = first.nrows()
    cls = tf.fill([batch, 1], tf.constant(cls_id, tf.int32))
    sep = tf.fill([batch, 1], tf.constant(sep_id, tf.int32))
    cls, sep = tf.RaggedTensor.from_tensor(cls), tf.RaggedTensor.from_tensor(sep)
    if second is None:
        first = _keep_first(first, tf.minimum(first.row_lengths(), sequence_length - 2))
        pieces = [cls, first, sep]
        segments = [tf.zeros_like(cls), tf.zeros_like(first), tf.zeros_like(sep)]
    else:
        second = tf.cast(second, tf.int32)
        keep_a, keep_b = truncated_pair_lengths(
            first.row_lengths(), second.row_lengths(), tf.cast(sequence_length - 3, tf.int64)
        )
        first, second = _keep_first(first, keep_a), _keep_first(second, keep_b)
        pieces = [cls, first, sep, second, sep]
        segments = [tf.zeros_like(cls), tf.zeros_like(first), tf.zeros_like(sep),
                    tf.ones_like(second), tf.ones_like(sep)]
    token_ids = tf.concat(pieces, axis=1)
    segment_ids = tf.concat(segments, axis=1)
    shape = [None, sequence_length]
    padding_mask = tf.ones_like(token_ids).to_tensor(shape=shape)
    return (
        token_ids.to_tensor(default_value=pad_id, shape=shape),
        segment_ids.to_tensor(shape=shape),
        padding_mask,
    )
