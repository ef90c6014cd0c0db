"""Static pretraining data: TFRecord files of the original `create_pretraining_data.py`.

Each `tf.train.Example` holds `input_ids`, `input_mask`, `segment_ids`
(`[max_seq_length]` int64), `masked_lm_positions`, `masked_lm_ids`
(`[max_predictions_per_seq]` int64), `masked_lm_weights` (float32) and
`next_sentence_labels` (`[1]` int64; 0 = IsNext, 1 = random). `pretraining_records`
turns them into the batches `BertPreTraining` trains on with `preprocessor=None`
inputs: `(x, y, sample_weight)` keyed like `BertPreTrainingPreprocessor`'s output.

Example:
    >>> batches = pretraining_records(["data/part-0.tfrecord"], max_seq_length=128,
    ...                               max_predictions_per_seq=20, batch_size=32)
    >>> x, y, weights = next(iter(batches))   # x["mask_positions"]: [32, 20]
"""

import tensorflow as tf

SEQUENCE_FEATURES = ("input_ids", "input_mask", "segment_ids")
PREDICTION_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")


def is_tfrecord_file(path):
    """True when `path` starts with a whole TFRecord (length and checksums valid)."""
    try:
        for _ in tf.data.TFRecordDataset(str(path)).take(1):
            return True
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError):
        return False
    return False  # an empty file holds no record


def check_record_lengths(path, max_seq_length, max_predictions_per_seq):
    """Raises a ValueError naming the feature when the first record of `path` was written
    for another `max_seq_length` or `max_predictions_per_seq`."""
    for serialized in tf.data.TFRecordDataset(str(path)).take(1):
        features = tf.train.Example.FromString(serialized.numpy()).features.feature
        expected = {**{name: max_seq_length for name in SEQUENCE_FEATURES},
                    **{name: max_predictions_per_seq for name in PREDICTION_FEATURES}, "next_sentence_labels": 1}
        for name, length in expected.items():
            if name not in features:
                raise ValueError(f"{path}: the records have no feature {name!r}; expected the features of "
                                 "create_pretraining_data.py (kbs create-pretraining-data).")
            found = len(getattr(features[name], features[name].WhichOneof("kind")).value)
            if found != length:
                flag = "--max-seq-length" if name in SEQUENCE_FEATURES else "--max-predictions-per-seq"
                raise ValueError(f"{path}: {name} holds {found} values per record, expected {length}; the file was "
                                 f"written with another {flag}: pass {flag} {found}.")


def parse_batch(serialized, max_seq_length, max_predictions_per_seq):
    """A batch of serialized examples -> `(x, y, sample_weight)` for `BertPreTraining`."""
    spec = {name: tf.io.FixedLenFeature([max_seq_length], tf.int64) for name in SEQUENCE_FEATURES}
    spec.update({name: tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64) for name in PREDICTION_FEATURES})
    spec["masked_lm_weights"] = tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32)
    spec["next_sentence_labels"] = tf.io.FixedLenFeature([1], tf.int64)
    features = tf.io.parse_example(serialized, spec)
    as_int = {name: tf.cast(value, tf.int32) for name, value in features.items() if value.dtype == tf.int64}
    x = {"token_ids": as_int["input_ids"], "segment_ids": as_int["segment_ids"],
         "padding_mask": as_int["input_mask"], "mask_positions": as_int["masked_lm_positions"]}
    labels = as_int["next_sentence_labels"][:, 0]
    y = {"mlm_logits": as_int["masked_lm_ids"], "nsp_logits": labels}
    weights = {"mlm_logits": features["masked_lm_weights"], "nsp_logits": tf.ones_like(labels, tf.float32)}
    return x, y, weights


def pretraining_records(files, max_seq_length, max_predictions_per_seq, batch_size, repeat=False, seed=None):
    """Batches of the records in `files` (in order; with `repeat`, endlessly, the files'
    order and a 10,000-record buffer shuffled with `seed`, the same sequence on every run).

    The last, smaller batch is dropped when repeating (every step a full batch), kept otherwise.
    """
    files = [str(path) for path in files]
    for path in files:
        check_record_lengths(path, max_seq_length, max_predictions_per_seq)
    records = tf.data.TFRecordDataset(files)
    if repeat:
        records = tf.data.Dataset.from_tensor_slices(files).shuffle(len(files), seed=seed).interleave(
            tf.data.TFRecordDataset, cycle_length=min(4, len(files)))
        records = records.repeat().shuffle(10_000, seed=seed, reshuffle_each_iteration=False)
    batches = records.batch(batch_size, drop_remainder=repeat)
    return batches.map(lambda serialized: parse_batch(serialized, max_seq_length, max_predictions_per_seq),
                       num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
