"""Vectorised helpers on flat 1-D tensors: masks, shifts, neighbour searches, row ids.

The basic tokenizer works on the characters of a whole batch laid end to end; these
helpers answer "which row", "the previous / next flagged position" and similar questions
in O(n) or O(n log n) ops, with no Python loop and no `[rows, longest row]` mask.

Example:
    >>> next_flagged(tf.constant([True, False, False, True])).numpy().tolist()
    [3, 3, 3, 4]
"""

import tensorflow as tf


def row_ids(row_limits, size):
    """The row of each of `size` values given each row's end (`RaggedTensor.row_limits`).

    `RaggedTensor.value_rowids()` and `tf.repeat` build a `[rows, longest row]` mask,
    which is slow when one string or word is long; a binary search per value is not.
    """
    positions = tf.range(tf.cast(size, row_limits.dtype))
    return tf.searchsorted(row_limits, positions, side="right", out_type=tf.int64)


def keep(mask, *arrays):
    """The elements of each 1-D array where `mask` is true."""
    index = tf.reshape(tf.where(mask), [-1])
    return tuple(tf.gather(array, index) for array in arrays)


def shift_right(values, first):
    """`values` moved one place later (same length); position 0 gets `first`."""
    return tf.concat([tf.fill([1], tf.cast(first, values.dtype)), values], axis=0)[:-1]


def starts_new_run(ids):
    """True where a non-negative id differs from the one before (always at position 0)."""
    return tf.not_equal(ids, shift_right(ids, -1))


def previous_flagged(flags):
    """For each i, the largest j < i with flags[j], or -1."""
    positions = tf.reshape(tf.where(flags), [-1])
    count_before = tf.cumsum(tf.cast(flags, tf.int64), exclusive=True)
    return tf.gather(tf.concat([tf.constant([-1], tf.int64), positions], axis=0), count_before)


def next_flagged(flags):
    """For each i, the smallest j > i with flags[j], or len(flags)."""
    positions = tf.reshape(tf.where(flags), [-1])
    count_through = tf.cumsum(tf.cast(flags, tf.int64))
    end = tf.size(flags, out_type=tf.int64)[tf.newaxis]
    return tf.gather(tf.concat([positions, end], axis=0), count_through)


def gather_padded(values, index, fill):
    """`values[index]` for index in [-1, len(values)]; both ends read `fill`."""
    pad = tf.fill([1], tf.cast(fill, values.dtype))
    padded = tf.concat([pad, values, pad], axis=0)
    return tf.gather(padded, index + 1)
