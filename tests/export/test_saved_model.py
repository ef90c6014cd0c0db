"""export_saved_model: string-in SavedModels for every task, vocabulary inside, atomic writes.

The exports are made once (tests/export/conftest.py); the fresh-process checks (only TensorFlow
and TensorFlow Text) are in test_model_export.py."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite import (
    BertClassifier,
    BertQuestionAnswererPreprocessor,
    BertTokenClassifier,
    BertTokenClassifierPreprocessor,
)
from keras_bert_suite.export import export_saved_model
from tests.export.conftest import classifier, masked_lm, question_answerer
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

TEXTS = ["A fine film.", "Naïve café, DULL plot!", "", "great acting " * 12]
SECOND_TEXTS = ["It was good.", "", "The plot was dull.", "Yes"]


def _serving(path):
    return tf.saved_model.load(str(path)).signatures["serving_default"]


def test_classifier_serves_strings_without_vocabulary_file(exported):
    model, path = exported["classifier"]
    expected = model.predict(TEXTS, verbose=0)
    outputs = _serving(path)(text=tf.constant(TEXTS))
    assert sorted(outputs) == ["logits", "probabilities"]
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), tf.nn.softmax(expected).numpy(), atol=1e-6)
    assert np.ptp(expected[:, 0]) > 1e-2  # The inputs give clearly different logits.
    loaded = tf.saved_model.load(str(path))  # The endpoint is also reachable by name.
    np.testing.assert_allclose(loaded.serve(tf.constant(TEXTS[:1]))["logits"].numpy(), expected[:1], atol=1e-5)


def test_pair_classifier_and_multi_label_probabilities(tmp_path):
    model = classifier(minilm_tokenizer(), problem_type="multi_label")
    expected = model.predict((TEXTS, SECOND_TEXTS), verbose=0)
    export_saved_model(model, tmp_path / "pairs", pairs=True)
    outputs = _serving(tmp_path / "pairs")(text=tf.constant(TEXTS), text_b=tf.constant(SECOND_TEXTS))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), tf.sigmoid(expected).numpy(), atol=1e-6)


def test_regression_serves_logits_only(tmp_path):
    model = classifier(minilm_tokenizer(), num_classes=1)
    expected = model.predict(TEXTS, verbose=0)
    export_saved_model(model, tmp_path / "regression")
    outputs = _serving(tmp_path / "regression")(text=tf.constant(TEXTS))
    assert sorted(outputs) == ["logits"]
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)


def test_token_classifier_serves_logits_and_word_tags(exported):
    model, path = exported["token_classifier"]
    texts = ["Johanson lives in Berlin with Ada Lovelace", "Hi", ""]
    expected_logits = model.predict(texts, verbose=0)
    expected_tags = model.tag(texts)
    assert expected_tags[0][-1] == "O"  # "Lovelace" is cut off by the sequence length.
    outputs = _serving(path)(text=tf.constant(texts))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected_logits, atol=1e-5)
    words = [[w.decode() for w in row if w] for row in outputs["words"].numpy()]
    assert words == [texts[0].split(), ["Hi"], []]
    tags = [[t.decode() for t in row if t] for row in outputs["tags"].numpy()]
    assert tags == expected_tags
    labels = model.labels
    assert outputs["predictions"].numpy().tolist() == [
        [labels.index(t) for t in row] + [-1] * (7 - len(row)) for row in expected_tags
    ]


def test_multiple_choice_serves_contexts_and_choices(exported):
    model, path = exported["multiple_choice"]
    contexts = ["A man opens the door.", "She sits at the piano."]
    choices = [["He walks in.", "He flies away.", "The door eats him."], ["She plays.", "She swims.", ""]]
    expected = model.predict((contexts, choices), verbose=0)
    outputs = _serving(path)(context=tf.constant(contexts), choices=tf.constant(choices))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), tf.nn.softmax(expected).numpy(), atol=1e-6)


QA_QUESTIONS = ["Who wrote it?", "Where is Zürich, and in which country of the world is it?", "Who?", "What?",
                "What?"]
QA_CONTEXTS = [
    "Zürich's Ada Lovelace wrote it in 1843.",
    " ".join(["Zürich is the largest city in Switzerland, on Lake Zürich, south east of the city centre "
              "with many boats and swans."] * 3),
    "",
    "Hello   there, general Kenobi!",
    " ".join(["boats and swans"] * 10),  # Repeats: the best unrestricted start is not max-context.
]


def _windows(preprocessor, questions, contexts):
    windows = preprocessor.windows(questions, contexts)
    return {name: (value.numpy() if hasattr(value, "numpy") else value) for name, value in windows.items()
            if name != "inputs"}, {name: value.numpy() for name, value in windows["inputs"].items()}


def _best_unrestricted_score(windows, logits, example_index, max_answer_length):
    """The best start + end logit over the example's windows WITHOUT the max-context rule."""
    return max(
        logits["start_logits"][row, i] + logits["end_logits"][row, j]
        for row in np.flatnonzero(windows["example"] == example_index)
        for i in np.flatnonzero(windows["in_doc"][row]) for j in np.flatnonzero(windows["in_doc"][row])
        if 0 <= j - i < max_answer_length
    )


def test_question_answerer_windows():
    windows, _ = _windows(question_answerer().preprocessor, QA_QUESTIONS, QA_CONTEXTS)
    counts = windows["num_windows"].tolist()
    assert counts[1] > 5 and counts[2] == 0  # an empty context has no window, as in run_squad.py
    marks = windows["can_start"][windows["in_doc"]]
    assert 0 < marks.sum() < marks.size  # Overlapping windows share pieces.


def test_question_answerer_max_context_length_bonus():
    """The `0.01 * window length` term decides only when windows differ by over 100 pieces."""
    preprocessor = BertQuestionAnswererPreprocessor(
        minilm_tokenizer(), sequence_length=128, max_query_length=8, doc_stride=111
    )
    # "who wrote it ?" leaves 121 pieces: windows [0, 121) and [111, 122). Piece 116 is 4
    # from the first window's end and 5 from the second's edges, 4 + 1.21 > 5 + 0.11.
    windows, _ = _windows(preprocessor, ["Who wrote it?"], [" ".join(["swans"] * 122)])
    assert windows["length"].tolist() == [121, 11] and windows["start"].tolist() == [0, 111]
    assert windows["can_start"][0, 6 + 116] and not windows["can_start"][1, 6 + 116 - 111]


def test_question_answerer_serves_the_answer_of_answer(exported):
    """The SavedModel and `answer` run the same windows and span code: same best span."""
    model, path = exported["question_answerer"]  # exported with max_answer_length=4, n_best_size=32
    windows, inputs = _windows(model.preprocessor, QA_QUESTIONS, QA_CONTEXTS)
    logits = model.predict(inputs, verbose=0)
    # n-best as large as a window: no candidate is left out, the best span is exhaustive.
    decoded = model.postprocessor.decode(QA_QUESTIONS, QA_CONTEXTS, n_best_size=32, max_answer_length=4)
    answers = model.answer(QA_QUESTIONS, QA_CONTEXTS, top_k=1, max_answer_length=4, n_best_size=32)
    outputs = _serving(path)(question=tf.constant(QA_QUESTIONS), context=tf.constant(QA_CONTEXTS))
    assert sorted(outputs) == ["answer_end", "answer_start", "answer_text", "null_score", "score"]
    texts = [text.decode() for text in outputs["answer_text"].numpy()]
    for row in (0, 1, 3, 4):
        best = decoded[row].nbest[0]
        np.testing.assert_allclose(float(outputs["score"][row]), best["start_logit"] + best["end_logit"], atol=1e-4)
        # The Python path finds the normalised answer text again inside the original words
        # (get_final_text); these answers start and end on piece boundaries, so the served
        # piece offsets are the same characters.
        assert (int(outputs["answer_start"][row]), int(outputs["answer_end"][row])) == (best["start"], best["end"])
        assert texts[row] == QA_CONTEXTS[row][best["start"]:best["end"]] == answers[row][0]["text"]
        rows = np.flatnonzero(windows["example"] == row)
        null = min(logits["start_logits"][i, 0] + logits["end_logits"][i, 0] for i in rows)
        np.testing.assert_allclose(float(outputs["null_score"][row]), null, atol=1e-4)
    # The long context's best span is beyond its first window ("ü" counts one character).
    first_window_end = windows["char_ends"][1][windows["length"][np.flatnonzero(windows["example"] == 1)[0]] - 1]
    assert int(outputs["answer_start"][1]) >= int(first_window_end)
    # The repeated context's best span obeys the max-context rule, which here costs score.
    best = decoded[4].nbest[0]
    assert _best_unrestricted_score(windows, logits, 4, max_answer_length=4) > (
        best["start_logit"] + best["end_logit"] + 1e-3)
    # An empty context: no window, no span, and nothing speaks against "no answer".
    assert (texts[2], int(outputs["answer_start"][2]), int(outputs["answer_end"][2])) == ("", 0, 0)
    assert outputs["score"][2] == -np.inf and outputs["null_score"][2] == np.inf
    assert answers[2] == []


MLM_FILLED = ["[MASK] is the capital of France.", "A fine [MASK][MASK] of red wine."]
# Its second [MASK] lies beyond sequence_length 16, so only the first is served.
MLM_CUT = "The [MASK] sat on the mat" + " and slept" * 10
MLM_EMPTY = ["No mask here.", ""]


def test_masked_lm_serves_fill_mask(exported):
    model, path = exported["masked_lm"]  # exported with top_k=3
    expected = model.fill_mask(MLM_FILLED + [MLM_CUT], top_k=3)
    texts = [MLM_FILLED[0], MLM_EMPTY[0], MLM_FILLED[1], MLM_CUT + " [MASK].", MLM_EMPTY[1]]
    outputs = _serving(path)(text=tf.constant(texts))
    assert sorted(outputs) == ["num_masks", "scores", "token_ids", "tokens"]
    assert outputs["num_masks"].numpy().tolist() == [1, 0, 2, 1, 0]
    assert outputs["token_ids"].shape == outputs["tokens"].shape == outputs["scores"].shape == (5, 2, 3)
    ids, tokens, scores = (outputs[name].numpy() for name in ("token_ids", "tokens", "scores"))
    for row, per_mask in zip([0, 2, 3], expected):
        for slot, best in enumerate(per_mask):
            assert ids[row, slot].tolist() == [entry["token_id"] for entry in best]
            assert [t.decode() for t in tokens[row, slot]] == [entry["token"] for entry in best]
            np.testing.assert_allclose(scores[row, slot], [entry["score"] for entry in best], atol=1e-5)
    # Slots past a text's masks are padding.
    for row, slot in [(0, 1), (1, 0), (1, 1), (3, 1), (4, 0), (4, 1)]:
        assert ids[row, slot].tolist() == [-1] * 3 and tokens[row, slot].tolist() == [b""] * 3
        assert scores[row, slot].tolist() == [0.0] * 3
    # The predictions depend on the context: the masks do not all get the same best token.
    assert len({ids[0, 0, 0], ids[2, 0, 0], ids[2, 1, 0], ids[3, 0, 0]}) > 1
    assert scores[:, :, 0].max() > 0.1

    none = _serving(path)(text=tf.constant(MLM_EMPTY))
    assert none["num_masks"].numpy().tolist() == [0, 0] and none["token_ids"].shape == (2, 0, 3)
    with pytest.raises(ValueError, match="has no \\[MASK\\]"):
        model.fill_mask(MLM_EMPTY[:1])


def test_masked_lm_top_k_must_be_a_positive_int(tmp_path):
    model = masked_lm()
    for top_k in (0, -1, 2.0, "5", True):
        with pytest.raises(ValueError, match="top_k must be a positive int"):
            export_saved_model(model, tmp_path / "mlm", top_k=top_k)
    assert list(tmp_path.iterdir()) == []


def _quick_save(obj, export_dir, **kwargs):
    """Stands in for `tf.saved_model.save` where only the folder handling is under test."""
    with open(f"{export_dir}/saved_model.pb", "w") as file:
        file.write("new")


def _failing_save(obj, export_dir, **kwargs):
    with open(f"{export_dir}/saved_model.pb", "w") as file:
        file.write("half")
    raise OSError("disk full")


def test_existing_path_is_refused_unless_overwrite(tmp_path, monkeypatch):
    model = classifier(minilm_tokenizer())
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
    model = classifier(minilm_tokenizer())
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="file already exists"):
        export_saved_model(model, tmp_path / "file")
    monkeypatch.setattr(tf.saved_model, "save", _quick_save)
    export_saved_model(model, tmp_path / "empty")
    assert (tmp_path / "empty" / "saved_model.pb").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file"]


def test_failure_midway_leaves_no_folder(tmp_path, monkeypatch):
    model = classifier(minilm_tokenizer())
    monkeypatch.setattr(tf.saved_model, "save", _failing_save)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, tmp_path / "out" / "exported")
    assert list((tmp_path / "out").iterdir()) == []


def test_failure_midway_keeps_the_previous_export(tmp_path, monkeypatch):
    model = classifier(minilm_tokenizer())
    target = tmp_path / "exported"
    target.mkdir()
    (target / "saved_model.pb").write_text("previous")
    monkeypatch.setattr(tf.saved_model, "save", _failing_save)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, target, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["exported"]
    assert (target / "saved_model.pb").read_text() == "previous"


def test_unsupported_models_give_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="serves BertClassifier.*BertMaskedLM and BertPreTraining; found BertBackbone.*model.save"):
        export_saved_model(tiny_backbone(), tmp_path / "a")
    with pytest.raises(ValueError, match="has no preprocessor.*from_preset"):
        export_saved_model(BertClassifier(tiny_backbone(), 2), tmp_path / "b")
    preprocessor = BertTokenClassifierPreprocessor(minilm_tokenizer(), sequence_length=8)
    with pytest.raises(ValueError, match="pairs=True is for BertClassifier only"):
        export_saved_model(BertTokenClassifier(tiny_backbone(), 2, preprocessor=preprocessor), tmp_path / "c",
                           pairs=True)
    assert list(tmp_path.iterdir()) == []
