"""The segment packer reproduces the original `_truncate_seq_pair` and layout."""

import random

import tensorflow as tf

from keras_bert_suite.preprocessing.segment_packer import pack_segments


def _original_truncate(a, b, budget):
    a, b = list(a), list(b)
    while len(a) + len(b) > budget:
        (a if len(a) > len(b) else b).pop()
    return a, b


def _ragged(rows):
    return tf.RaggedTensor.from_row_lengths(tf.constant(sum(rows, []), tf.int32), [len(r) for r in rows])


def test_pairs_match_the_original_truncation_and_layout():
    rng = random.Random(0)
    first = [[rng.randint(1000, 2000) for _ in range(rng.randint(0, 20))] for _ in range(300)]
    second = [[rng.randint(1000, 2000) for _ in range(rng.randint(0, 20))] for _ in range(300)]
    ids, segments, mask = pack_segments(_ragged(first), _ragged(second), 16, cls_id=101, sep_id=102)
    assert ids.shape == segments.shape == mask.shape == (300, 16)
    for row, (a, b) in enumerate(zip(first, second)):
        a, b = _original_truncate(a, b, 13)
        expected = [101] + a + [102] + b + [102]
        pad = 16 - len(expected)
        assert ids[row].numpy().tolist() == expected + [0] * pad
        assert segments[row].numpy().tolist() == [0] * (len(a) + 2) + [1] * (len(b) + 1) + [0] * pad
        assert mask[row].numpy().tolist() == [1] * len(expected) + [0] * pad


def test_single_segment_is_truncated_to_fit():
    ids, segments, mask = pack_segments(_ragged([[5] * 10, [6, 7]]), None, 6, cls_id=1, sep_id=2)
    assert ids.numpy().tolist() == [[1, 5, 5, 5, 5, 2], [1, 6, 7, 2, 0, 0]]
    assert segments.numpy().sum() == 0
    assert mask.numpy().tolist()[1] == [1, 1, 1, 1, 0, 0]
