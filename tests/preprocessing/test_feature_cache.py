"""FeatureCache: exact round trip, keys that follow inputs and settings, bad files, and its use by
`BertQuestionAnswerer` (fit windows, `answer`) and `kbs squad`."""

import argparse
import json
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.models import task as task_module
from keras_bert_suite.models.question_answerer import BertQuestionAnswerer
from keras_bert_suite.preprocessing.feature_cache import FeatureCache
from keras_bert_suite.preprocessing.question_answerer import BertQuestionAnswererPreprocessor
from keras_bert_suite.recipes import squad
from keras_bert_suite.tokenizers import WordPieceTokenizer
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

QUESTIONS = ["Who wrote the book?", "Where is the tower?"]
CONTEXTS = ["The book was written by Ada Lovelace in London. " * 3, "The tower is in Paris, near the river."]
ANSWERS = ["Ada Lovelace", "Paris"]
STARTS = [context.index(answer) for context, answer in zip(CONTEXTS, ANSWERS)]


def _preprocessor(**kwargs):
    return BertQuestionAnswererPreprocessor(minilm_tokenizer(), **{"sequence_length": 32, "doc_stride": 8, **kwargs})


def _assert_same(expected, found):
    assert type(found) is type(expected)
    if isinstance(expected, dict):
        assert list(found) == list(expected)
        for name in expected:
            _assert_same(expected[name], found[name])
    elif isinstance(expected, (tuple, list)):
        assert len(found) == len(expected)
        for a, b in zip(expected, found):
            _assert_same(a, b)
    elif isinstance(expected, tf.RaggedTensor):
        assert found.dtype == expected.dtype
        np.testing.assert_array_equal(found.flat_values.numpy(), expected.flat_values.numpy())
        np.testing.assert_array_equal(found.row_splits.numpy(), expected.row_splits.numpy())
    else:
        expected, found = np.asarray(expected), np.asarray(found)
        assert found.dtype == expected.dtype and found.shape == expected.shape
        np.testing.assert_array_equal(found, expected)


def test_windows_come_back_exactly_and_are_made_once(tmp_path):
    preprocessor, cache = _preprocessor(), FeatureCache(tmp_path / "cache")
    made = []

    def make():
        made.append(1)
        return preprocessor.windows(QUESTIONS, CONTEXTS)

    first = cache.load_or_make(preprocessor, (QUESTIONS, CONTEXTS), make)
    again = FeatureCache(tmp_path / "cache").load_or_make(preprocessor, (QUESTIONS, CONTEXTS), make)
    assert len(made) == 1
    assert isinstance(first["pieces"], tf.RaggedTensor) and first["num_windows"].numpy().tolist()[0] > 1
    _assert_same(first, again)
    files = sorted(path.name for path in (tmp_path / "cache").iterdir())
    assert files == [cache.path(preprocessor, (QUESTIONS, CONTEXTS)).name]  # no temporary file left
    assert cache.written and not cache.read


def test_nested_arrays_keep_types_and_dtypes(tmp_path):
    features = ({"ids": np.arange(6, dtype="int32").reshape(2, 3), "mask": np.array([True, False])},
                [tf.constant([1.5, 2.5]), tf.ragged.constant([[1], [2, 3], []], dtype=tf.int64)],
                np.array(["a", "é"]))
    cache = FeatureCache(tmp_path)
    cache.load_or_make(_preprocessor(), ["x"], lambda: features)
    _assert_same(features, FeatureCache(tmp_path).load_or_make(_preprocessor(), ["x"], lambda: pytest.fail("made")))


def test_key_follows_inputs_settings_and_vocabulary(tmp_path):
    cache = FeatureCache(tmp_path)
    key = cache.key(_preprocessor(), (QUESTIONS, CONTEXTS))
    assert key == cache.key(_preprocessor(), (list(QUESTIONS), np.array(CONTEXTS, dtype=object)))
    different = {
        "a question": cache.key(_preprocessor(), (QUESTIONS[:1] + ["Who wrote it?"], CONTEXTS)),
        "the order": cache.key(_preprocessor(), (QUESTIONS[::-1], CONTEXTS[::-1])),
        "a label": cache.key(_preprocessor(), (QUESTIONS, CONTEXTS, [STARTS[0] + 1, STARTS[1]])),
        "doc_stride": cache.key(_preprocessor(doc_stride=16), (QUESTIONS, CONTEXTS)),
        "sequence_length": cache.key(_preprocessor(sequence_length=48), (QUESTIONS, CONTEXTS)),
        "max_query_length": cache.key(_preprocessor(max_query_length=4), (QUESTIONS, CONTEXTS)),
    }
    vocabulary = minilm_tokenizer().get_vocabulary()
    for name, tokenizer in (("casing", WordPieceTokenizer(vocabulary, lowercase=False)),
                            ("vocabulary", WordPieceTokenizer(vocabulary[:-1] + ["newtoken"], lowercase=True))):
        preprocessor = BertQuestionAnswererPreprocessor(tokenizer, sequence_length=32, doc_stride=8)
        different[name] = cache.key(preprocessor, (QUESTIONS, CONTEXTS))
    assert key not in different.values()
    assert len(set(different.values())) == len(different)


def test_unreadable_file_is_named_and_made_again(tmp_path):
    preprocessor, cache = _preprocessor(), FeatureCache(tmp_path)
    path = cache.path(preprocessor, ["q"])
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match=f"{path.name}.*could not be read"):
        found = cache.load_or_make(preprocessor, ["q"], lambda: {"ids": np.array([4, 5])})
    np.testing.assert_array_equal(found["ids"], [4, 5])
    _assert_same({"ids": np.array([4, 5])}, FeatureCache(tmp_path).load_or_make(preprocessor, ["q"], pytest.fail))


def test_python_objects_are_refused_and_nothing_is_left(tmp_path):
    cache = FeatureCache(tmp_path)
    with pytest.raises(ValueError, match="not Python objects"):
        cache.load_or_make(_preprocessor(), ["q"], lambda: {"x": np.array([{"a": 1}], dtype=object)})
    assert list(tmp_path.iterdir()) == []


def test_question_answerer_reads_fit_windows_and_answer_windows_back(tmp_path):
    model = BertQuestionAnswerer(tiny_backbone(dropout=0.0), preprocessor=_preprocessor())
    model.feature_cache = tmp_path / "cache"
    assert isinstance(model.feature_cache, FeatureCache)
    x, y = (QUESTIONS, CONTEXTS), (STARTS, ANSWERS)
    fresh = list(model.make_dataset(x, y, batch_size=4))
    answers = model.answer(QUESTIONS, CONTEXTS)
    assert len(model.feature_cache.written) == 2
    with mock.patch.object(task_module, "_preprocessed_now", side_effect=AssertionError("windows made again")), \
            mock.patch.object(BertQuestionAnswererPreprocessor, "windows", side_effect=AssertionError("made again")):
        cached = list(model.make_dataset(x, y, batch_size=4))
        assert model.answer(QUESTIONS, CONTEXTS) == answers
    _assert_same(fresh, cached)
    assert len(model.feature_cache.read) == 2
    model.feature_cache = None
    _assert_same(fresh, list(model.make_dataset(x, y, batch_size=4)))


def test_kbs_squad_rerun_reads_its_windows_from_the_cache(tmp_path, capsys):
    preset = tmp_path / "preset"
    tiny_backbone().save_to_preset(preset, tokenizer=minilm_tokenizer())
    data = {"version": "1.1", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": [{"id": f"q{i}", "question": question,
                                      "answers": [{"text": answer, "answer_start": start}]}]}
        for i, (question, context, answer, start) in enumerate(zip(QUESTIONS, CONTEXTS, ANSWERS, STARTS))]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    output = tmp_path / "out"
    flags = ["--preset", str(preset), "--output-dir", str(output), "--max-seq-length", "32", "--doc-stride", "8",
             "--batch-size", "2", "--epochs", "1", "--train-file", str(path), "--predict-file", str(path),
             "--do-train", "--do-predict", "--overwrite-output-dir"]
    parser = argparse.ArgumentParser()
    squad.add_arguments(parser)

    with pytest.warns(UserWarning, match="head starts untrained"):
        squad.run(parser.parse_args(flags))
    assert "Wrote training windows to the feature cache" in capsys.readouterr().out
    assert len(list((output / "feature_cache").glob("*.npz"))) == 2
    with mock.patch.object(task_module, "_preprocessed_now", side_effect=AssertionError("windows made again")), \
            mock.patch.object(BertQuestionAnswererPreprocessor, "windows", side_effect=AssertionError("made again")), \
            pytest.warns(UserWarning, match="head starts untrained"):
        squad.run(parser.parse_args(flags))
    out = capsys.readouterr().out
    assert "Read training windows from the feature cache" in out
    assert "Read prediction windows from the feature cache" in out
    assert "to the feature cache" not in out

    # Another window flag makes (and keeps) new windows; --no-feature-cache keeps none.
    squad.run(parser.parse_args(flags[:-1] + ["--doc-stride", "16"]))
    assert len(list((output / "feature_cache").glob("*.npz"))) == 3
    squad.run(parser.parse_args(flags[:-1] + ["--doc-stride", "12", "--no-feature-cache"]))
    assert len(list((output / "feature_cache").glob("*.npz"))) == 3
