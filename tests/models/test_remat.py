"""Rematerialisation (`remat=True`): each encoder block is recomputed in the backward pass,
with the forward pass's dropout masks, so gradients and training match `remat=False`;
a saved preset does not keep it, a `.keras` file does."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite import BertBackbone, BertClassifier
from keras_bert_suite.layers import BertEncoderBlock
from tests.helpers.minilm import padded_batch
from tests.helpers.tasks import keras_round_trip, minilm_tokenizer, tiny_backbone

LABELS = np.array([0, 1, 1, 0])
# Largest |remat - plain| per gradient, over that gradient's largest |value|. Measured on CPU:
# float32 and mixed_bfloat16 bit-identical (the recomputation runs the same kernels on the same
# inputs); mixed_float16 8e-4, float16 rounding (eps 9.8e-4) of the recomputed kernels, where
# mismatched dropout masks move gradients by more than their own size.
GRADIENT_TOLERANCE = {None: 1e-6, "mixed_float16": 4e-3}
# float16 gradients of a variable whose largest is ~4e-5 sit in float16's subnormal range
# (below 6.1e-5), where one step is 2**-24 ~ 6e-8: a relative bound alone asks for less than
# one step there. Different dropout masks would differ by the gradients' own size (1e-5).
GRADIENT_FLOOR = {None: 0.0, "mixed_float16": 8 * 2.0**-24}


def _batch():
    return {name: tf.constant(value) for name, value in padded_batch(lengths=(12, 7, 3, 9)).items()}


def _classifier(remat, dropout, dtype=None):
    backbone = tiny_backbone(seed=0, remat=remat, dropout=dropout, attention_dropout=dropout, dtype=dtype)
    model = BertClassifier(backbone, 2, dropout=dropout)
    model.compile(learning_rate=1e-2)
    return model


def _gradients(model, batch):
    @tf.function
    def gradients():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(batch, training=True) * tf.constant([[1.0, -2.0]]))
        return tape.gradient(loss, model.trainable_variables)

    return [keras.ops.convert_to_numpy(gradient) for gradient in gradients()]


@pytest.mark.parametrize("dropout, dtype", [(0.0, None), (0.1, None), (0.1, "mixed_float16")])
def test_same_gradients_with_remat(dropout, dtype, monkeypatch):
    batch = _batch()
    plain, remat = _classifier(False, dropout, dtype), _classifier(True, dropout, dtype)
    forward_calls = []
    original_forward = BertEncoderBlock._forward
    monkeypatch.setattr(BertEncoderBlock, "_forward",
                        lambda block, *args: forward_calls.append(block.remat) or original_forward(block, *args))
    expected, found = _gradients(plain, batch), _gradients(remat, batch)
    # Traced once per block without remat; with it, once forward and once more for the backward pass.
    assert forward_calls.count(False) == 2 and forward_calls.count(True) == 4
    for want, got in zip(expected, found):
        assert np.abs(got - want).max() <= GRADIENT_TOLERANCE[dtype] * np.abs(want).max() + GRADIENT_FLOOR[dtype]


def test_same_training_with_remat_and_dropout():
    """Three epochs of fit: every step's masks (the seed states advance) and updates match.
    Measured bit-identical on CPU; the tolerance allows for accelerators' reduction order."""
    batch = _batch()
    plain, remat = _classifier(False, 0.1), _classifier(True, 0.1)
    expected = plain.fit(batch, LABELS, epochs=3, batch_size=2, shuffle=False, verbose=0).history["loss"]
    found = remat.fit(batch, LABELS, epochs=3, batch_size=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(found, expected, rtol=1e-5)
    for want, got in zip(plain.weights, remat.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want),
                                   rtol=1e-5, atol=1e-7)


def test_dropout_masks_matter():
    """The dropout cases above compare real masks: with dropout the gradients move."""
    batch = _batch()
    without, with_dropout = _gradients(_classifier(True, 0.0), batch), _gradients(_classifier(True, 0.1), batch)
    assert max(np.abs(a - b).max() for a, b in zip(without, with_dropout)) > 1e-3


def test_remat_stays_out_of_the_preset_but_in_the_keras_file(tmp_path):
    backbone = tiny_backbone(remat=True)
    backbone.save_to_preset(tmp_path / "preset", tokenizer=minilm_tokenizer())
    assert "remat" not in json.loads((tmp_path / "preset" / "backbone_config.json").read_text())
    assert BertBackbone.from_preset(str(tmp_path / "preset")).remat is False
    assert BertBackbone.from_preset(str(tmp_path / "preset"), remat=True).remat is True
    classifier = BertClassifier.from_preset(str(tmp_path / "preset"), num_classes=2, remat=True)
    assert classifier.backbone.remat is True
    assert all(block.remat for block in classifier.backbone.layers if isinstance(block, BertEncoderBlock))
    # A .keras file resumes training as it was saved, remat included.
    assert keras_round_trip(classifier, tmp_path).backbone.remat is True
