"""Gradient accumulation: 4 batches of 8 train as batches of 32, through `bert_optimizer` and
`fit`, over two epochs in each of two fit calls (and across a `.keras` reload).

Tolerance: the two runs sum the same 32 per-example gradients in another order, so their
weights agree to float rounding; atol 1e-5 after 8 Adam updates at learning rate 1e-3
(measured: 1e-7). Before the fix (the schedule at Keras' batch counter, the steps from
`iterations`; the embedding rows' repeats squared one by one in the global norm of a plain
batch, not of an accumulated one) they ended 2e-3 apart. Clipping (0.1, below the gradient
norm) acts on every update, so clipping each small batch instead of their average would
differ too.
"""

import keras
import numpy as np
import pytest

from keras_bert_suite import BertClassifier, BertClassifierPreprocessor
from keras_bert_suite.training import bert_optimizer, updates_after
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone
from tests.training.distributed_jobs import CLIPNORM, gradient_norm, texts_and_labels

TEXTS, LABELS = texts_and_labels()  # 64 examples: 2 updates per epoch
EPOCHS, FITS, SEED = 2, 2, 11


def classifier(accumulate=None):
    backbone = tiny_backbone(seed=0, dropout=0.0, attention_dropout=0.0)
    preprocessor = BertClassifierPreprocessor(minilm_tokenizer(), sequence_length=16)
    model = BertClassifier(backbone, num_classes=2, preprocessor=preprocessor, dropout=0.0, compile=False)
    model.compile(optimizer=bert_optimizer(1e-3, clipnorm=CLIPNORM, gradient_accumulation_steps=accumulate))
    return model


def train(batch_size, accumulate=None, reload_to=None):
    """Weights and, after each fit, (updates, the schedule's num_train_steps, learning rate)."""
    model, after_fit = classifier(accumulate), []
    for call in range(FITS):
        if call and reload_to is not None:
            model.save(reload_to)
            model = keras.saving.load_model(reload_to)
        model.fit(TEXTS, LABELS, batch_size=batch_size, epochs=EPOCHS, seed=SEED + call, verbose=0)
        optimizer = model.optimizer
        after_fit.append((int(optimizer.iterations.numpy()), optimizer._learning_rate.num_train_steps,
                          float(optimizer.learning_rate)))
    return {v.path: np.asarray(v) for v in model.trainable_variables}, after_fit


@pytest.fixture(scope="module")
def batches_of_32():
    return train(32)


def assert_trains_as(found, expected):
    weights, after_fit = found
    assert after_fit == expected[1] == [(4, 4, 0.0), (8, 8, 0.0)]  # updates; decayed to 0 at each end
    for path, value in expected[0].items():
        np.testing.assert_allclose(weights[path], value, atol=1e-5, err_msg=path)


def test_clipping_acts_on_these_batches():
    assert gradient_norm(classifier(), TEXTS, LABELS) > 2 * CLIPNORM


def test_four_batches_of_8_train_as_batches_of_32_over_epochs_and_fit_calls(batches_of_32):
    assert_trains_as(train(8, accumulate=4), batches_of_32)


def test_and_also_when_the_model_is_reloaded_between_fit_calls(batches_of_32, tmp_path):
    assert_trains_as(train(8, accumulate=4, reload_to=tmp_path / "model.keras"), batches_of_32)


def test_updates_after_counts_one_update_per_accumulated_batches():
    optimizer = bert_optimizer(gradient_accumulation_steps=4)
    assert updates_after(optimizer, 30) == 7
    optimizer._iterations.assign(6)  # 1 update made, 2 batches accumulated towards the next
    assert updates_after(optimizer, 2) == 2 and updates_after(optimizer, 1) == 1
    assert updates_after(bert_optimizer(), 30) == 30
    assert bert_optimizer(gradient_accumulation_steps=1).gradient_accumulation_steps is None


@pytest.mark.parametrize("steps", [0, -2, 2.5, True, "4"])
def test_accumulation_steps_must_be_a_positive_integer(steps):
    with pytest.raises(ValueError, match=r"`gradient_accumulation_steps` must be None or an integer >= 1"):
        bert_optimizer(gradient_accumulation_steps=steps)


def test_a_fit_with_fewer_batches_than_one_update_is_refused():
    model = classifier(accumulate=4)
    with pytest.raises(ValueError, match=r"This fit makes no optimizer update: 1 x 2 batches"):
        model.fit(TEXTS[:16], LABELS[:16], batch_size=8, verbose=0)
