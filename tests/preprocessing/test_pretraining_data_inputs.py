"""Pretraining inputs: the original's TFRecord features parsed into BertPreTraining batches,
dynamic next-sentence pairs and masks from raw text, and stateless mask keys."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.preprocessing import BertPreTrainingPreprocessor
from keras_bert_suite.preprocessing.masked_lm import mask_seed
from keras_bert_suite.preprocessing.pretraining_records import is_tfrecord_file, pretraining_records
from keras_bert_suite.preprocessing.pretraining_text import dynamic_pretraining_batches, read_text_documents
from tests.helpers.tasks import minilm_tokenizer

DOCUMENTS = [["the cat sat on the mat .", "it was very happy .", "then it slept ."],
             ["rivers run to the sea .", "the sea is salty ."],
             ["one lonely sentence ."]]


def write_records(path, rows):
    """Records with the original feature names, shapes and dtypes."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for row in rows:
            features = {name: tf.train.Feature(int64_list=tf.train.Int64List(value=row[name]))
                        for name in ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
                                     "next_sentence_labels")}
            features["masked_lm_weights"] = tf.train.Feature(float_list=tf.train.FloatList(value=row["masked_lm_weights"]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())


def record_row(seed, length=8, predictions=3):
    rng = np.random.default_rng(seed)
    return {"input_ids": rng.integers(1000, 2000, length).tolist(), "input_mask": [1] * 6 + [0] * (length - 6),
            "segment_ids": [0] * 3 + [1] * (length - 3), "masked_lm_positions": [1, 4, 0][:predictions],
            "masked_lm_ids": rng.integers(1000, 2000, predictions).tolist(), "masked_lm_weights": [1.0, 1.0, 0.0],
            "next_sentence_labels": [seed % 2]}


def test_records_parse_into_the_pretraining_layout(tmp_path):
    rows = [record_row(seed) for seed in range(5)]
    write_records(tmp_path / "a.tfrecord", rows)
    assert is_tfrecord_file(tmp_path / "a.tfrecord")
    (tmp_path / "text.txt").write_text("not a record\n")
    assert not is_tfrecord_file(tmp_path / "text.txt")
    batches = list(pretraining_records([tmp_path / "a.tfrecord"], 8, 3, batch_size=2))
    assert [len(y["nsp_logits"]) for _, y, _ in batches] == [2, 2, 1]
    x, y, weights = batches[0]
    np.testing.assert_array_equal(x["token_ids"], [rows[0]["input_ids"], rows[1]["input_ids"]])
    np.testing.assert_array_equal(x["padding_mask"][1], rows[1]["input_mask"])
    np.testing.assert_array_equal(x["segment_ids"][0], rows[0]["segment_ids"])
    np.testing.assert_array_equal(x["mask_positions"][0], [1, 4, 0])
    np.testing.assert_array_equal(y["mlm_logits"][1], rows[1]["masked_lm_ids"])
    np.testing.assert_array_equal(y["nsp_logits"], [0, 1])
    np.testing.assert_array_equal(weights["mlm_logits"][0], [1.0, 1.0, 0.0])
    assert x["token_ids"].dtype == tf.int32 and weights["nsp_logits"].numpy().tolist() == [1.0, 1.0]
    repeated = pretraining_records([tmp_path / "a.tfrecord"], 8, 3, batch_size=2, repeat=True, seed=3)
    first, again = ([y["mlm_logits"].numpy() for _, y, _ in repeated.take(6)] for _ in range(2))
    np.testing.assert_array_equal(first, again)  # endless, full batches, the same order every run
    with pytest.raises(ValueError, match="input_ids holds 8 values per record, expected 16.*--max-seq-length 8"):
        pretraining_records([tmp_path / "a.tfrecord"], 16, 3, batch_size=2)


def test_text_files_make_next_and_random_next_pairs_keyed_on_seed_and_step(tmp_path):
    (tmp_path / "corpus.txt").write_text("\n\n".join("\n".join(document) for document in DOCUMENTS) + "\n")
    documents = read_text_documents([tmp_path / "corpus.txt"])
    assert documents == DOCUMENTS
    tokenizer = minilm_tokenizer()
    preprocessor = BertPreTrainingPreprocessor(tokenizer, sequence_length=24, mask_selection_length=4)
    stream = dynamic_pretraining_batches(documents, preprocessor, batch_size=64, seed=5)
    batches = list(stream.take(3))
    sentences = [sentence for document in DOCUMENTS for sentence in document]
    pieces = dict(zip(sentences, tokenizer(sentences).to_list()))
    document_of = {sentence: index for index, document in enumerate(DOCUMENTS) for sentence in document}
    x, y, weights = batches[0]
    labels = y["nsp_logits"].numpy()
    assert 0.3 < labels.mean() < 0.7
    for row, label in enumerate(labels):
        ids, segments = x["token_ids"].numpy()[row], x["segment_ids"].numpy()[row]
        # Put the masked pieces back to read the pair.
        ids[x["mask_positions"].numpy()[row][weights["mlm_logits"].numpy()[row] == 1]] = \
            y["mlm_logits"].numpy()[row][weights["mlm_logits"].numpy()[row] == 1]
        first = [s for s in pieces if pieces[s] == ids[1:1 + len(pieces[s])].tolist() and segments[1] == 0]
        second = [s for s in pieces if pieces[s] == ids[segments == 1][:-1].tolist()]
        assert len(first) == 1 and len(second) == 1
        a, b = first[0], second[0]
        if label == 0:  # IsNext: the sentence after A in its document
            sentences = DOCUMENTS[document_of[a]]
            assert sentences.index(b) == sentences.index(a) + 1
        else:  # random next: from another document
            assert document_of[b] != document_of[a]
    assert (weights["mlm_logits"].numpy().sum(1) >= 1).all()
    # Stateless: another step or seed draws anew, and a stream of the same seed started at step 1
    # (a resumed run) gives the batches of steps 1 and 2 again.
    resumed = list(dynamic_pretraining_batches(documents, preprocessor, batch_size=64, seed=5, start_step=1).take(2))
    for found, expected in zip(resumed, batches[1:]):
        np.testing.assert_array_equal(found[0]["token_ids"], expected[0]["token_ids"])
        np.testing.assert_array_equal(found[0]["mask_positions"], expected[0]["mask_positions"])
    assert not np.array_equal(batches[0][0]["token_ids"], batches[1][0]["token_ids"])
    other = next(iter(dynamic_pretraining_batches(documents, preprocessor, batch_size=64, seed=6)))
    assert not np.array_equal(other[0]["token_ids"], batches[0][0]["token_ids"])


def test_dynamic_masking_needs_documents_with_pairs(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="empty.txt holds no sentence"):
        read_text_documents([tmp_path / "empty.txt"])
    preprocessor = BertPreTrainingPreprocessor(minilm_tokenizer(), sequence_length=16)
    with pytest.raises(ValueError, match="at least 2 documents"):
        dynamic_pretraining_batches([["a b .", "c d ."]], preprocessor, batch_size=2, seed=1)


def test_mask_keys_are_stateless_and_differ_by_epoch_and_step():
    keys = {(epoch, step): tuple(mask_seed(3, epoch, step).numpy()) for epoch in range(3) for step in range(3)}
    assert len(set(keys.values())) == 9
    assert tuple(mask_seed(3, 1, 2).numpy()) == keys[(1, 2)]
