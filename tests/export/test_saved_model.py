"""export_saved_model: string-in SavedModels for every task, vocabulary inside, atomic writes."""

import gc
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite import (
    BertClassifier,
    BertClassifierPreprocessor,
    BertMultipleChoice,
    BertMultipleChoicePreprocessor,
    BertQuestionAnswerer,
    BertQuestionAnswererPreprocessor,
    BertTokenClassifier,
    BertTokenClassifierPreprocessor,
    WordPieceTokenizer,
)
from keras_bert_suite.export import export_saved_model
from tests.helpers.minilm import minilm_folder
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

TEXTS = ["A fine film.", "Naïve café, DULL plot!", "", "great acting " * 12]
SECOND_TEXTS = ["It was good.", "", "The plot was dull.", "Yes"]


def _spread_head(layer, seed=0):
    """Random head weights large enough that the logits of different inputs differ clearly."""
    rng = np.random.default_rng(seed)
    layer.kernel.assign(rng.normal(scale=3.0, size=layer.kernel.shape).astype("float32"))


def _serving(path):
    return tf.saved_model.load(str(path)).signatures["serving_default"]


def _classifier(tokenizer, num_classes=3, **kwargs):
    preprocessor = BertClassifierPreprocessor(tokenizer, sequence_length=16)
    model = BertClassifier(tiny_backbone(), num_classes, preprocessor=preprocessor, **kwargs)
    _spread_head(model.get_layer("logits"))
    return model


@pytest.fixture(scope="module")
def exported_classifier(tmp_path_factory):
    """`(folder, expected logits of TEXTS)`: the vocabulary file and the model are gone."""
    tmp_path = tmp_path_factory.mktemp("classifier")
    vocab_file = tmp_path / "vocab.txt"
    shutil.copy(minilm_folder() / "vocab.txt", vocab_file)
    model = _classifier(WordPieceTokenizer(str(vocab_file)))
    expected = model.predict(TEXTS, verbose=0)
    returned = export_saved_model(model, tmp_path / "exported")
    assert returned == tmp_path / "exported"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported", "vocab.txt"]  # No staging left.
    del model
    gc.collect()
    vocab_file.unlink()
    return tmp_path / "exported", expected


def test_classifier_serves_strings_without_vocabulary_file_or_model(exported_classifier):
    path, expected = exported_classifier
    outputs = _serving(path)(text=tf.constant(TEXTS))
    assert sorted(outputs) == ["logits", "probabilities"]
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), tf.nn.softmax(expected).numpy(), atol=1e-6)
    assert np.ptp(expected[:, 0]) > 1e-2  # The inputs give clearly different logits.
    loaded = tf.saved_model.load(str(path))  # The endpoint is also reachable by name.
    np.testing.assert_allclose(loaded.serve(tf.constant(TEXTS[:1]))["logits"].numpy(), expected[:1], atol=1e-5)


def test_fresh_process_needs_only_tensorflow_and_tensorflow_text(exported_classifier):
    path, expected = exported_classifier
    script = (
        "import json, sys, tensorflow as tf, tensorflow_text\n"
        "serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "logits = serve(text=tf.constant(json.loads(sys.argv[2])))['logits']\n"
        "assert not [name for name in sys.modules if name.startswith('keras_bert_suite')]\n"
        "print(json.dumps(logits.numpy().tolist()))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(path), json.dumps(TEXTS)],
        cwd=path.parent, capture_output=True, text=True, env={**environment, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_allclose(json.loads(result.stdout.splitlines()[-1]), expected, atol=1e-5)


def test_pair_classifier_and_multi_label_probabilities(tmp_path):
    model = _classifier(minilm_tokenizer(), problem_type="multi_label")
    expected = model.predict((TEXTS, SECOND_TEXTS), verbose=0)
    export_saved_model(model, tmp_path / "pairs", pairs=True)
    outputs = _serving(tmp_path / "pairs")(text=tf.constant(TEXTS), text_b=tf.constant(SECOND_TEXTS))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), tf.sigmoid(expected).numpy(), atol=1e-6)


def test_regression_serves_logits_only(tmp_path):
    model = _classifier(minilm_tokenizer(), num_classes=1)
    expected = model.predict(TEXTS, verbose=0)
    export_saved_model(model, tmp_path / "regression")
    outputs = _serving(tmp_path / "regression")(text=tf.constant(TEXTS))
    assert sorted(outputs) == ["logits"]
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)


def test_token_classifier_serves_logits_and_word_tags(tmp_path):
    preprocessor = BertTokenClassifierPreprocessor(minilm_tokenizer(), sequence_length=8)
    model = BertTokenClassifier(tiny_backbone(), 3, labels=["B-PER", "O", "B-LOC"], preprocessor=preprocessor)
    _spread_head(model.get_layer("logits"))
    texts = ["Johanson lives in Berlin with Ada Lovelace", "Hi", ""]
    expected_logits = model.predict(texts, verbose=0)
    expected_tags = model.tag(texts)
    assert expected_tags[0][-1] == "O"  # "Lovelace" is cut off by the sequence length.
    export_saved_model(model, tmp_path / "ner")

    outputs = _serving(tmp_path / "ner")(text=tf.constant(texts))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected_logits, atol=1e-5)
    words = [[w.decode() for w in row if w] for row in outputs["words"].numpy()]
    assert words == [texts[0].split(), ["Hi"], []]
    tags = [[t.decode() for t in row if t] for row in outputs["tags"].numpy()]
    assert tags == expected_tags
    labels = model.labels
    assert outputs["predictions"].numpy().tolist() == [
        [labels.index(t) for t in row] + [-1] * (7 - len(row)) for row in expected_tags
    ]


def test_multiple_choice_serves_contexts_and_choices(tmp_path):
    preprocessor = BertMultipleChoicePreprocessor(minilm_tokenizer(), sequence_length=16, num_choices=3)
    model = BertMultipleChoice(tiny_backbone(), 3, preprocessor=preprocessor)
    _spread_head(model.get_layer("choice_score"))
    contexts = ["A man opens the door.", "She sits at the piano."]
    choices = [["He walks in.", "He flies away.", "The door eats him."], ["She plays.", "She swims.", ""]]
    expected = model.predict((contexts, choices), verbose=0)
    export_saved_model(model, tmp_path / "swag")
    outputs = _serving(tmp_path / "swag")(context=tf.constant(contexts), choices=tf.constant(choices))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), tf.nn.softmax(expected).numpy(), atol=1e-6)


def _question_answerer():
    preprocessor = BertQuestionAnswererPreprocessor(minilm_tokenizer(), sequence_length=32, max_query_length=8)
    model = BertQuestionAnswerer(tiny_backbone(), preprocessor=preprocessor)
    _spread_head(model.span_dense)
    return model


def _best_span(model, question, context, start_logits, end_logits, max_answer_length):
    """Brute force over the first window's context pieces: (start char, end char)."""
    _, features = model.preprocessor.make_features([question], [context])
    context_positions = sorted(features[0].token_to_orig_map)
    _, starts, ends = model.preprocessor.tokenizer.tokenize_with_offsets(context)
    first = context_positions[0]
    spans = [(i, j) for i in context_positions for j in context_positions if 0 <= j - i < max_answer_length]
    i, j = max(spans, key=lambda span: start_logits[span[0]] + end_logits[span[1]])
    return int(starts[i - first]), int(ends[j - first])


def test_question_answerer_serves_first_window_logits_and_best_span(tmp_path):
    model = _question_answerer()
    questions = ["Who wrote it?", "Where is Zürich, and in which country of the world is it?"]
    contexts = [
        "Zürich's Ada Lovelace wrote it in 1843.",
        "Zürich is the largest city in Switzerland, on Lake Zürich, south east of the city centre "
        "with many boats and swans.",
    ]
    _, features = model.preprocessor.make_features(questions, contexts)
    assert len(features) > 2  # The second context needs more than one window.
    first_windows = [next(f for f in features if f.example_index == i) for i in range(2)]
    expected = model.predict(model.preprocessor.arrays(first_windows), verbose=0)
    export_saved_model(model, tmp_path / "squad", max_answer_length=4)

    serve = _serving(tmp_path / "squad")
    outputs = serve(question=tf.constant(questions + ["Who?", "Where?"]),
                    context=tf.constant(contexts + ["", " Zürich"]))
    for name in ("start_logits", "end_logits"):
        np.testing.assert_allclose(outputs[name].numpy()[:2], expected[name], atol=1e-5)
    for row, (question, context) in enumerate(zip(questions, contexts)):
        start, end = _best_span(model, question, context, expected["start_logits"][row],
                                expected["end_logits"][row], max_answer_length=4)
        assert (int(outputs["answer_start"][row]), int(outputs["answer_end"][row])) == (start, end)
        assert outputs["answer_text"][row].numpy().decode() == context[start:end]
    # An empty context has no span; a one-piece context is its own answer, with offsets in
    # characters ("ü" is one, not two UTF-8 bytes) and the original casing.
    answers = [t.decode() for t in outputs["answer_text"].numpy()[2:]]
    assert answers == ["", "Zürich"]
    assert outputs["answer_start"].numpy()[2:].tolist() == [0, 1]
    assert outputs["answer_end"].numpy()[2:].tolist() == [0, 7]


def _quick_save(obj, export_dir, **kwargs):
    """Stands in for `tf.saved_model.save` where only the folder handling is under test."""
    with open(f"{export_dir}/saved_model.pb", "w") as file:
        file.write("new")


def _failing_save(obj, export_dir, **kwargs):
    with open(f"{export_dir}/saved_model.pb", "w") as file:
        file.write("half")
    raise OSError("disk full")


def test_existing_path_is_refused_unless_overwrite(tmp_path, monkeypatch):
    model = _classifier(minilm_tokenizer())
    target = tmp_path / "exported"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="exported already exists and is not empty.*overwrite=True"):
        export_saved_model(model, target)
    assert (target / "notes.txt").read_text() == "keep me"

    monkeypatch.setattr(tf.saved_model, "save", _quick_save)
    export_saved_model(model, target, overwrite=True)
    assert [p.name for p in target.iterdir()] == ["saved_model.pb"]
    assert (target / "saved_model.pb").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["exported"]


def test_an_empty_folder_is_filled_and_a_file_is_refused(tmp_path, monkeypatch):
    model = _classifier(minilm_tokenizer())
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="file already exists"):
        export_saved_model(model, tmp_path / "file")
    monkeypatch.setattr(tf.saved_model, "save", _quick_save)
    export_saved_model(model, tmp_path / "empty")
    assert (tmp_path / "empty" / "saved_model.pb").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file"]


def test_failure_midway_leaves_no_folder(tmp_path, monkeypatch):
    model = _classifier(minilm_tokenizer())
    monkeypatch.setattr(tf.saved_model, "save", _failing_save)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, tmp_path / "out" / "exported")
    assert list((tmp_path / "out").iterdir()) == []


def test_failure_midway_keeps_the_previous_export(tmp_path, monkeypatch):
    model = _classifier(minilm_tokenizer())
    target = tmp_path / "exported"
    target.mkdir()
    (target / "saved_model.pb").write_text("previous")
    monkeypatch.setattr(tf.saved_model, "save", _failing_save)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, target, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["exported"]
    assert (target / "saved_model.pb").read_text() == "previous"


def test_unsupported_models_give_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="serves BertClassifier.*found BertBackbone.*model.save"):
        export_saved_model(tiny_backbone(), tmp_path / "a")
    with pytest.raises(ValueError, match="has no preprocessor.*from_preset"):
        export_saved_model(BertClassifier(tiny_backbone(), 2), tmp_path / "b")
    preprocessor = BertTokenClassifierPreprocessor(minilm_tokenizer(), sequence_length=8)
    with pytest.raises(ValueError, match="pairs=True is for BertClassifier only"):
        export_saved_model(BertTokenClassifier(tiny_backbone(), 2, preprocessor=preprocessor), tmp_path / "c",
                           pairs=True)
    assert list(tmp_path.iterdir()) == []
