"""BertClassifier: raw-text fit/predict, pairs, problem types, the schedule; the shared
task checks (tests/helpers/task_harness.py) on sentence pairs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite import BertClassifier, BertClassifierPreprocessor
from tests.helpers import task_harness as harness
from tests.helpers.task_harness import BadInput, Single, TaskCase
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

TEXTS = ["a good movie", "a bad film", "great acting", "awful plot", "lovely story", "dull script"] * 4
LABELS = [1, 0, 1, 0, 1, 0] * 4


def _classifier(num_classes=2, compile=True, **kwargs):
    preprocessor = BertClassifierPreprocessor(minilm_tokenizer(), sequence_length=16)
    model = BertClassifier(tiny_backbone(), num_classes, preprocessor=preprocessor, compile=compile, **kwargs)
    if compile:
        model.compile(learning_rate=1e-2)
    return model


CASE = TaskCase(
    task=BertClassifier,
    build=_classifier,
    x=(TEXTS, TEXTS[::-1]),
    y=np.array(LABELS),
    output_shape=lambda model, x: (harness.num_examples(x), model.num_classes),
    long_x=["a good movie with great acting, a lovely story and a script that never drags"] * 2,
    min_change=1e-4,  # test_task_checks gives the model a random head
    singles=(
        Single("a good movie", ["a good movie"], 1, [1]),
        Single(("a good movie", "great acting"), (["a good movie"], ["great acting"])),
    ),
    bad_inputs=(
        BadInput(lambda model: model.fit(TEXTS[:3], [0, 1, 2], verbose=0), ValueError, r"class ids in \[0, 1\].*\[2\]"),
        BadInput(lambda model: model.fit((TEXTS[:3], TEXTS[:2]), [0, 1, 1], verbose=0), ValueError,
                 "one entry per example.*x\\[0\\]: 3, x\\[1\\]: 2"),
    ),
    preset_kwargs=dict(num_classes=2),
    fit_epochs=(1, 10),  # the loss falls over 10 epochs of the pairs as a tf.data.Dataset
    fit_batch_size=6,
)


def test_task_checks(tmp_path):
    model = _classifier(dropout=0.2)
    head = model.get_layer("logits")  # a random head, so that truncation shows in the logits
    head.set_weights([np.random.default_rng(0).normal(size=w.shape) for w in head.get_weights()])
    trained, restored = harness.run_task_test(CASE, tmp_path, model)
    assert restored.num_classes == 2 and restored.dropout == 0.2 and restored.preprocessor.sequence_length == 16
    assert int(restored.optimizer.iterations) == 44  # 1 + 10 epochs of 24 pairs in batches of 6
    assert np.isfinite(restored.fit(TEXTS, LABELS, epochs=1, batch_size=8, verbose=0).history["loss"][0])


def test_from_preset(tmp_path):
    harness.run_preset_test(CASE, tmp_path)


def test_fit_on_a_packed_dataset_reads_its_length():
    model = _classifier()
    dataset = harness.raw_dataset(CASE, CASE.x, CASE.y).batch(8).map(model.preprocessor)
    assert int(dataset.cardinality()) == 3
    model.fit(dataset, epochs=2, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 6


def test_fit_on_raw_strings_lowers_the_loss_and_predicts_logits():
    model = _classifier()
    history = model.fit(TEXTS, LABELS, epochs=10, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    logits = model.predict(TEXTS[:5], verbose=0)
    assert logits.shape == (5, 2) and logits.dtype == np.float32
    assert model.evaluate(TEXTS, LABELS, verbose=0)[1] == 1.0


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


