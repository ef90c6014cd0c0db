"""BertClassifier: raw-text fit/predict, pairs, problem types, saving and errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite import BertClassifier, BertClassifierPreprocessor
from keras_bert_suite.models import task
from tests.helpers.tasks import assert_same_predictions, keras_round_trip, minilm_tokenizer, tiny_backbone

TEXTS = ["a good movie", "a bad film", "great acting", "awful plot", "lovely story", "dull script"] * 4
LABELS = [1, 0, 1, 0, 1, 0] * 4


def _classifier(num_classes=2, **kwargs):
    preprocessor = BertClassifierPreprocessor(minilm_tokenizer(), sequence_length=16)
    model = BertClassifier(tiny_backbone(), num_classes, preprocessor=preprocessor, **kwargs)
    model.compile(learning_rate=1e-2)
    return model


def test_fit_on_raw_strings_lowers_the_loss_and_predicts_logits():
    model = _classifier()
    history = model.fit(TEXTS, LABELS, epochs=10, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    logits = model.predict(TEXTS[:5], verbose=0)
    assert logits.shape == (5, 2) and logits.dtype == np.float32
    assert model.evaluate(TEXTS, LABELS, verbose=0)[1] == 1.0


def test_pairs_and_tf_data():
    model = _classifier()
    pairs = (TEXTS, TEXTS[::-1])
    dataset = tf.data.Dataset.from_tensor_slices((pairs, LABELS)).batch(6)
    history = model.fit(dataset, epochs=10, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(pairs, verbose=0).shape == (24, 2)


def test_changed_preprocessor_settings_apply_to_the_next_predict():
    model = _classifier()
    head = model.get_layer("logits")
    head.set_weights([np.random.default_rng(0).normal(size=w.shape) for w in head.get_weights()])
    long_texts = ["a good movie with great acting, a lovely story and a script that never drags"] * 2
    at_16 = model.predict(long_texts, verbose=0)
    model.preprocessor.sequence_length = 6
    at_6 = model.predict(long_texts, verbose=0)
    cut_early = BertClassifier(model.backbone, 2, preprocessor=BertClassifierPreprocessor(minilm_tokenizer(), 6))
    cut_early.get_layer("logits").set_weights(head.get_weights())
    np.testing.assert_allclose(at_6, cut_early.predict(long_texts, verbose=0), atol=1e-6)
    assert np.abs(at_6 - at_16).max() > 1e-4


def test_predict_paths_agree_in_memory_streamed_and_packed(monkeypatch):
    model = _classifier()
    pairs = (TEXTS[:10], TEXTS[10:20])
    in_memory = model.predict(pairs, batch_size=4, verbose=0)  # preprocessed up front
    streamed = model.predict(tf.data.Dataset.from_tensor_slices((pairs,)).batch(4), verbose=0)  # x only
    packed = model.preprocessor(pairs)
    np.testing.assert_array_equal(in_memory, streamed)
    np.testing.assert_array_equal(in_memory, model.predict(packed, batch_size=4, verbose=0))
    np.testing.assert_array_equal(in_memory, model.predict(tf.data.Dataset.from_tensor_slices(packed).batch(4),
                                                           verbose=0))
    monkeypatch.setattr(task, "MATERIALIZE_LIMIT", 3)  # more texts than this stream through tf.data
    np.testing.assert_array_equal(in_memory, model.predict(pairs, batch_size=4, verbose=0))
    labels = np.array(LABELS[:10])
    assert model.evaluate(packed, labels, verbose=0) == model.evaluate(pairs, labels, verbose=0)


def test_problem_types():
    assert _classifier(1).problem_type == "regression"
    regression = _classifier(1)
    regression.fit(TEXTS, np.array(LABELS, "float32") * 5, epochs=1, batch_size=8, verbose=0)
    multi = _classifier(3, problem_type="multi_label")
    multi_hot = np.eye(3, dtype="float32")[np.array(LABELS)] + np.eye(3, dtype="float32")[[2] * 24]
    history = multi.fit(TEXTS, multi_hot, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    with pytest.raises(ValueError, match="regression' needs num_classes=1"):
        BertClassifier(tiny_backbone(), 2, problem_type="regression")


def test_learning_rate_warms_up_and_ends_at_zero():
    model = _classifier()
    rates = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: rates.append(float(model.optimizer.learning_rate)))
    model.fit(TEXTS, LABELS, epochs=5, batch_size=6, verbose=0, callbacks=[record])  # 4 steps x 5 epochs
    peak, total, warmup = 1e-2, 20, 2
    # The default "linear" schedule: from the peak at the end of warmup straight to 0.
    expected = [peak * step / warmup if step < warmup else peak * (total - step) / (total - warmup)
                for step in range(total)]
    np.testing.assert_allclose(rates, expected, rtol=1e-5, atol=1e-9)
    assert float(model.optimizer.learning_rate) == 0.0


def test_keras_round_trip(tmp_path):
    model = _classifier(3, dropout=0.2)
    restored = keras_round_trip(model, tmp_path)
    assert isinstance(restored, BertClassifier) and restored.num_classes == 3
    assert restored.preprocessor.sequence_length == 16
    assert_same_predictions(model, restored, TEXTS[:4])


def test_bad_input_errors():
    model = _classifier()
    with pytest.raises(ValueError, match=r"class ids in \[0, 1\].*\[2\]"):
        model.fit(TEXTS[:3], [0, 1, 2], verbose=0)
    with pytest.raises(ValueError, match="one entry per example.*x\\[0\\]: 3, x\\[1\\]: 2"):
        model.fit((TEXTS[:3], TEXTS[:2]), [0, 1, 1], verbose=0)
    packed_only = BertClassifier(tiny_backbone(), 2)
    with pytest.raises(ValueError, match="preprocessor=None.*not raw strings"):
        packed_only.predict(["raw text"])
    uncompiled = BertClassifier(tiny_backbone(), 2, preprocessor=model.preprocessor, compile=False)
    with pytest.raises(RuntimeError, match="compile=False"):
        uncompiled.fit(TEXTS, LABELS)
    for empty in ([], (), ([], []), np.array([], dtype=str)):
        with pytest.raises(ValueError, match=r"Got no examples: x is empty \("):
            model.predict(empty)


def test_one_text_or_one_pair_is_a_batch_of_one():
    model = _classifier()
    np.testing.assert_array_equal(model.predict("a good movie", verbose=0),
                                  model.predict(["a good movie"], verbose=0))
    np.testing.assert_array_equal(model.predict(("a good movie", "great acting"), verbose=0),
                                  model.predict((["a good movie"], ["great acting"]), verbose=0))
    assert model.evaluate("a good movie", 1, verbose=0) == model.evaluate(["a good movie"], [1], verbose=0)


def test_trained_model_reloads_compiled_with_its_optimizer_state(tmp_path):
    model = _classifier()
    model.fit(TEXTS, LABELS, epochs=1, batch_size=8, verbose=0)
    restored = keras_round_trip(model, tmp_path)
    assert restored.compiled and int(restored.optimizer.iterations) == 3
    assert float(restored.optimizer.learning_rate) == float(model.optimizer.learning_rate)
    for saved, loaded in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(loaded))
    history = restored.fit(TEXTS, LABELS, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
