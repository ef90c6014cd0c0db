"""BertQuestionAnswerer: windows, fit on raw text and tf.data, answer(), null answers, saving, errors."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.models.question_answerer import BertQuestionAnswerer
from keras_bert_suite.preprocessing.question_answerer import BertQuestionAnswererPreprocessor
from keras_bert_suite.recipes.squad_data import read_squad_file
from keras_bert_suite.recipes.squad_eval import normalize_answer
from tests.helpers.google_checkpoint import write_google_folder
from tests.helpers.minilm import minilm_folder, minilm_weights
from tests.helpers.shared_data import shared
from tests.helpers.tasks import assert_same_predictions, keras_round_trip, minilm_tokenizer, tiny_backbone

SQUAD_DEV = "squad_v1.1/dev-v1.1-part1.json"

QUESTIONS = ["Who wrote the book?", "Where is the tower?", "When did it open?", "What colour is the car?"]
CONTEXTS = [
    "The book was written by Ada Lovelace in London.",
    "The tower is in Paris, near the river.",
    "The museum opened in 1895 after a long delay.",
    "My neighbour owns a red car and a blue bike.",
]
ANSWERS = ["Ada Lovelace", "Paris", "1895", "red"]
STARTS = [context.index(answer) for context, answer in zip(CONTEXTS, ANSWERS)]
LONG_CONTEXT = " ".join(f"Sentence {i} talks about topic number {i}." for i in range(12)) + " Ada Lovelace wrote it."


def _preprocessor(**kwargs):
    return BertQuestionAnswererPreprocessor(minilm_tokenizer(), **{"sequence_length": 48, "doc_stride": 16, **kwargs})


def _model(**kwargs):
    return BertQuestionAnswerer(tiny_backbone(dropout=0.0), preprocessor=_preprocessor(), **kwargs)


@pytest.fixture(scope="module")
def trained():
    """A tiny model overfit on the four questions; returns `(model, history)`."""
    model = _model()
    model.compile(learning_rate=3e-3)
    history = model.fit((QUESTIONS * 4, CONTEXTS * 4), (STARTS * 4, ANSWERS * 4), epochs=10, batch_size=4,
                        validation_data=((QUESTIONS, CONTEXTS), (STARTS, ANSWERS)), verbose=0)
    return model, history


def _packed(preprocessor, questions, contexts, answers):
    """The windows' packed inputs and targets, as numpy arrays."""
    x, y = preprocessor(*preprocessor.labelled(questions, contexts, answers))
    return {k: v.numpy() for k, v in x.items()}, {k: v.numpy() for k, v in y.items()}


def _pieces(preprocessor, token_ids):
    vocabulary = preprocessor.tokenizer.get_vocabulary()
    return [vocabulary[i] for i in token_ids if i != preprocessor.tokenizer.pad_token_id]


def test_windows_and_training_targets():
    preprocessor = _preprocessor()
    x, y = _packed(preprocessor, QUESTIONS, CONTEXTS, (STARTS, ANSWERS))
    assert len(x["token_ids"]) == 4
    assert _pieces(preprocessor, x["token_ids"][0]) == [
        "[CLS]", "who", "wrote", "the", "book", "?", "[SEP]",
        "the", "book", "was", "written", "by", "ada", "love", "##lace", "in", "london", ".", "[SEP]",
    ]
    assert list(zip(y["start_logits"].tolist(), y["end_logits"].tolist())) == [(12, 14), (11, 11), (11, 11), (12, 12)]
    assert x["token_ids"].shape == (4, 48) and x["token_ids"][0, :3].tolist() == [101, 2040, 2626]
    assert x["padding_mask"][0].sum() == 19 and x["segment_ids"][0, 7:19].tolist() == [1] * 12
    # A question without an answer (-1 / "") trains towards [CLS] in every window.
    _, impossible = _packed(preprocessor, QUESTIONS[:2], CONTEXTS[:2], ([-1, STARTS[1]], ["", ANSWERS[1]]))
    assert list(zip(impossible["start_logits"].tolist(), impossible["end_logits"].tolist())) == [(0, 0), (11, 11)]
    # The same answers as dicts give the same targets.
    _, from_dicts = _packed(preprocessor, QUESTIONS, CONTEXTS,
                            [{"text": a, "answer_start": s} for a, s in zip(ANSWERS, STARTS)])
    assert from_dicts["start_logits"].tolist() == y["start_logits"].tolist()


def test_long_context_windows_in_eager_and_in_tf_data():
    preprocessor = _preprocessor()
    start = LONG_CONTEXT.index("Ada Lovelace")
    x, y = _packed(preprocessor, ["Who wrote it?"], [LONG_CONTEXT], ([start], ["Ada Lovelace"]))
    assert len(x["token_ids"]) > 1
    inside = [row for row, position in enumerate(y["start_logits"]) if position]
    assert inside and all(
        _pieces(preprocessor, x["token_ids"][row][y["start_logits"][row]:y["end_logits"][row] + 1])
        == ["ada", "love", "##lace"] for row in inside)
    assert y["start_logits"][0] == 0  # the answer is not in the first window
    # `call` makes every window in TF ops, also inside a tf.data map.
    dataset = tf.data.Dataset.from_tensor_slices((["Who wrote it?"], [LONG_CONTEXT])).batch(1)
    packed = next(iter(dataset.map(lambda q, c: preprocessor((q, c)))))
    for name in ("token_ids", "segment_ids", "padding_mask"):
        np.testing.assert_array_equal(packed[name].numpy(), x[name])


def test_fit_lowers_the_loss_and_answer_returns_the_gold_spans(trained):
    model, history = trained
    losses = history.history["loss"]
    assert losses[-1] < losses[0] / 2 and history.history["val_loss"][-1] < losses[0] / 2
    scores = model.evaluate((QUESTIONS, CONTEXTS), (STARTS, ANSWERS), verbose=0, return_dict=True)
    assert scores["loss"] == pytest.approx((scores["start_logits_loss"] + scores["end_logits_loss"]) / 2)
    assert scores["start_logits_accuracy"] == scores["end_logits_accuracy"] == 1.0
    results = model.answer(QUESTIONS, CONTEXTS)
    assert [[entry["text"] for entry in result] for result in results] == [[answer] for answer in ANSWERS]
    assert [result[0]["start"] for result in results] == STARTS
    single = model.answer(QUESTIONS[0], CONTEXTS[0], top_k=3)
    assert len(single) == 3 and single[0]["text"] == "Ada Lovelace"
    assert [entry["score"] for entry in single] == sorted((entry["score"] for entry in single), reverse=True)
    for entry in single:
        assert CONTEXTS[0][entry["start"]:entry["end"]] == entry["text"] and 0 < entry["score"] < 1


def test_predict_returns_logits_per_window(trained):
    model, _ = trained
    windows = model.preprocessor.windows(["Who wrote it?"] + QUESTIONS[:1], [LONG_CONTEXT] + CONTEXTS[:1])
    output = model.predict((["Who wrote it?"] + QUESTIONS[:1], [LONG_CONTEXT] + CONTEXTS[:1]), verbose=0)
    assert sorted(output) == ["end_logits", "start_logits"]
    assert windows["num_windows"].numpy()[0] > 1
    for logits in output.values():
        assert logits.shape == (int(tf.reduce_sum(windows["num_windows"])), 48) and logits.dtype == np.float32
    answers = model.answer("Who wrote it?", LONG_CONTEXT, top_k=2)
    for entry in answers:
        assert LONG_CONTEXT[entry["start"]:entry["end"]] == entry["text"]


def test_tf_data_input_matches_lists_and_trains():
    model = _model()
    model.compile(learning_rate=3e-3, run_eagerly=True)  # eager: the data path is what is tested here
    dataset = tf.data.Dataset.from_tensor_slices(((QUESTIONS, CONTEXTS), (STARTS, ANSWERS)))
    from_lists = list(model.make_dataset((QUESTIONS, CONTEXTS), (STARTS, ANSWERS), batch_size=4))
    for materialised in (dataset, dataset.batch(3)):
        from_dataset = list(model.make_dataset(materialised, batch_size=4))
        keras.tree.map_structure(np.testing.assert_array_equal, from_lists, from_dataset)
    history = model.fit(dataset.repeat(4).batch(4), epochs=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_null_answer_wins_only_with_a_threshold():
    model = BertQuestionAnswerer(tiny_backbone(), preprocessor=_preprocessor(sequence_length=16))
    question, context = "Who is it?", "It is Ada."
    # Untrained, padding may outscore the context; answer() still ranks the context's spans.
    spans = model.answer(question, context, top_k=20)
    assert sorted(entry["text"] for entry in spans) == sorted(
        ["It", "It is", "It is Ada", "It is Ada.", "is", "is Ada", "is Ada.", "Ada", "Ada.", "."])
    assert all(context[entry["start"]:entry["end"]] == entry["text"] for entry in spans)
    assert sum(entry["score"] for entry in spans) == pytest.approx(1.0)
    arrays = {k: v.numpy() for k, v in model.preprocessor.windows([question], [context])["inputs"].items()}
    length = int(arrays["padding_mask"][0].sum())
    hidden = np.asarray(model.backbone.predict(arrays, verbose=0)["sequence_output"][0], "float64")
    # Solve for a head that scores [CLS] +20, the other tokens -20 and padding -40 (starts and ends).
    target = np.full((16, 2), -40.0)
    target[:length] = -20.0
    target[0] = 20.0
    solution = np.linalg.lstsq(np.hstack([hidden, np.ones((16, 1))]), target, rcond=None)[0]
    model.span_dense.kernel.assign(solution[:-1].astype("float32"))
    model.span_dense.bias.assign(solution[-1].astype("float32"))
    logits = model.predict((question, context), verbose=0)
    assert int(np.argmax(logits["start_logits"][0, :length])) == 0
    assert int(np.argmax(logits["end_logits"][0, :length])) == 0
    null_first = model.answer(question, context, top_k=2, null_score_diff_threshold=0.0)
    assert null_first[0]["text"] == "" and (null_first[0]["start"], null_first[0]["end"]) == (0, 0)
    assert null_first[0]["score"] > 0.99 and null_first[1]["text"] != ""
    for threshold in (None, 1000.0):
        best = model.answer(question, context, null_score_diff_threshold=threshold)
        assert len(best) == 1 and best[0]["text"] != ""
        assert context[best[0]["start"]:best[0]["end"]] == best[0]["text"]


def test_keras_round_trip(trained, tmp_path):
    model, _ = trained
    restored = keras_round_trip(model, tmp_path)
    assert isinstance(restored, BertQuestionAnswerer)
    assert (restored.preprocessor.sequence_length, restored.preprocessor.doc_stride,
            restored.preprocessor.max_query_length) == (48, 16, 64)
    assert_same_predictions(model, restored, (QUESTIONS + ["Who wrote it?"], CONTEXTS + [LONG_CONTEXT]))
    assert restored.answer(QUESTIONS, CONTEXTS) == model.answer(QUESTIONS, CONTEXTS)


def test_squad_head_loads_from_a_google_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    head = {"cls/squad/output_weights": rng.normal(size=(2, 384)).astype("float32"),
            "cls/squad/output_bias": np.array([0.5, -0.5], "float32")}
    folder = write_google_folder(tmp_path / "uncased_squad", minilm_folder(), minilm_weights(), head)
    model = BertQuestionAnswerer.from_preset(str(folder), compile=False)
    assert model.preprocessor.sequence_length == 384
    assert sorted(model.head_checkpoint_variables()) == ["cls/squad/output_bias", "cls/squad/output_weights"]
    np.testing.assert_array_equal(model.span_dense.kernel.numpy(), head["cls/squad/output_weights"].T)
    np.testing.assert_array_equal(model.span_dense.bias.numpy(), head["cls/squad/output_bias"])


def test_real_squad_targets_point_at_the_gold_answers():
    examples = read_squad_file(shared(SQUAD_DEV), is_training=True).examples[:8]
    preprocessor = _preprocessor(sequence_length=64, doc_stride=24, max_query_length=24)
    tokenizer = preprocessor.tokenizer
    x, y = _packed(preprocessor, [e.question for e in examples], [e.context for e in examples],
                   [e.answers[0] for e in examples])
    windows = preprocessor.windows([e.question for e in examples], [e.context for e in examples])
    found = {}
    for row, example_index in enumerate(windows["example"].numpy()):
        if y["start_logits"][row]:
            ids = x["token_ids"][row][y["start_logits"][row]:y["end_logits"][row] + 1]
            found.setdefault(int(example_index), set()).add(tokenizer.detokenize(ids).numpy().decode())
    assert sorted(found) == list(range(8))  # every answer is inside some window
    assert len(x["token_ids"]) > 8 and any(position == 0 for position in y["start_logits"])
    for index, example in enumerate(examples):
        gold = example.answers[0]["text"]
        if gold == "gold":  # part of the word '"golden': the original keeps the whole word's pieces
            assert found[index] == {'" golden'}
        else:
            assert {normalize_answer(text) for text in found[index]} == {normalize_answer(gold)}


def test_bad_input_errors():
    model = _model()
    with pytest.raises(ValueError, match="expected 'Rome' at character 16 of its context, found 'Pari'"):
        model.fit((QUESTIONS[1:2], CONTEXTS[1:2]), ([16], ["Rome"]), verbose=0)
    with pytest.raises(ValueError, match="got 3 questions but 2 contexts"):
        model.predict((QUESTIONS[:3], CONTEXTS[:2]))
    with pytest.raises(ValueError, match="got 2 answer_starts but 3 answer_texts"):
        model.fit((QUESTIONS[:3], CONTEXTS[:3]), (STARTS[:2], ANSWERS[:3]), verbose=0)
    with pytest.raises(ValueError, match="got 3 questions but 2 answers"):
        model.fit((QUESTIONS[:3], CONTEXTS[:3]), (STARTS[:2], ANSWERS[:2]), verbose=0)
    with pytest.raises(ValueError, match="disagree on whether the question has an answer"):
        model.fit((QUESTIONS[:1], CONTEXTS[:1]), ([-1], ["Ada Lovelace"]), verbose=0)
    with pytest.raises(ValueError, match="fit on raw .* needs answers"):
        model.fit((QUESTIONS, CONTEXTS), verbose=0)
    packed_only = BertQuestionAnswerer(tiny_backbone())
    with pytest.raises(ValueError, match="preprocessor=None.*not raw strings"):
        packed_only.predict((QUESTIONS, CONTEXTS))
    with pytest.raises(ValueError, match="answer\\(\\) needs a preprocessor"):
        packed_only.answer(QUESTIONS, CONTEXTS)
    uncompiled = BertQuestionAnswerer(tiny_backbone(), preprocessor=model.preprocessor, compile=False)
    with pytest.raises(RuntimeError, match="compile=False"):
        uncompiled.fit((QUESTIONS, CONTEXTS), (STARTS, ANSWERS))
