"""Mixed precision: every task model computes in its backbone's dtype policy, returns float32,
trains with finite losses (loss scaling for float16), saves and reloads in its policy; the
real MiniLM in mixed precision stays close to float32."""

import json

import keras
import numpy as np
import pytest

from keras_bert_suite import (
    BertBackbone,
    BertClassifier,
    BertMaskedLM,
    BertMultipleChoice,
    BertPreTraining,
    BertQuestionAnswerer,
    BertTokenClassifier,
)
from keras_bert_suite.training import BertAdamW
from tests.helpers.minilm import minilm_folder, padded_batch
from tests.helpers.tasks import assert_same_predictions, keras_round_trip, minilm_tokenizer, tiny_backbone

POLICIES = ("mixed_float16", "mixed_bfloat16")
LENGTHS = (12, 7, 3, 9)
MASK_POSITIONS = np.array([[1, 5, 10], [2, 4, 0], [1, 0, 0], [3, 6, 7]], np.int32)


def _batch():
    return padded_batch(seed=1, lengths=LENGTHS)


def _choices():
    first, second = padded_batch(seed=1, lengths=LENGTHS), padded_batch(seed=2, lengths=LENGTHS)
    return {name: np.stack([first[name], second[name]], axis=1) for name in first}


# name -> (build(backbone), packed inputs, targets): four examples each.
TASKS = {
    "classifier": (lambda backbone: BertClassifier(backbone, 2), _batch, lambda: np.array([0, 1, 1, 0])),
    "token_classifier": (lambda backbone: BertTokenClassifier(backbone, 3), _batch,
                         lambda: np.arange(4 * 12).reshape(4, 12) % 3),
    "multiple_choice": (lambda backbone: BertMultipleChoice(backbone, 2), _choices, lambda: np.array([0, 1, 1, 0])),
    "question_answerer": (lambda backbone: BertQuestionAnswerer(backbone), _batch,
                          lambda: {"start_logits": np.array([1, 2, 1, 3]), "end_logits": np.array([4, 5, 1, 6])}),
    "masked_lm": (lambda backbone: BertMaskedLM(backbone), lambda: dict(_batch(), mask_positions=MASK_POSITIONS),
                  lambda: np.full(MASK_POSITIONS.shape, 2054)),
    "pretraining": (lambda backbone: BertPreTraining(backbone),
                    lambda: dict(_batch(), mask_positions=MASK_POSITIONS),
                    lambda: {"mlm_logits": np.full(MASK_POSITIONS.shape, 2054), "nsp_logits": np.array([0, 1, 1, 0])}),
}


def _task(name, dtype):
    build, inputs, targets = TASKS[name]
    model = build(tiny_backbone(dtype=dtype))
    model.compile(learning_rate=1e-3)
    return model, inputs(), targets()


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_trains_in_its_backbones_policy(name, policy, tmp_path):
    model, x, y = _task(name, policy)
    assert model.backbone.dtype_policy.name == model.dtype_policy.name == policy
    weighted = [layer for layer in model.layers + model.backbone.layers if layer.weights]
    assert {layer.dtype_policy.name for layer in weighted} == {policy}
    assert all(variable.dtype == "float32" for variable in model.weights)
    # Keras adds loss scaling at compile for a mixed_float16 model only; bfloat16 needs none.
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")

    losses = model.fit(x, y, epochs=3, batch_size=2, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)), losses
    if policy == "mixed_float16":
        assert isinstance(model.optimizer.inner_optimizer, BertAdamW)
        assert 0 < float(model.optimizer.dynamic_scale.numpy()) < np.inf
    outputs = keras.tree.flatten(model.predict(x, verbose=0))
    assert all(output.dtype == np.float32 and np.all(np.isfinite(output)) for output in outputs)

    restored = keras_round_trip(model, tmp_path)
    assert restored.dtype_policy.name == restored.backbone.dtype_policy.name == policy
    assert type(restored.optimizer) is type(model.optimizer)
    assert_same_predictions(model, restored, x)


@pytest.mark.parametrize(
    "policy, sequence_tolerance, pooled_tolerance",
    # Measured on CPU, largest |mixed - float32| over the real tokens of `padded_batch()`:
    # mixed_float16 6.8e-3 (sequence_output, values up to 6.0) and 3.6e-4 (pooled_output);
    # mixed_bfloat16 3.4e-2 and 2.6e-3 (bfloat16 keeps 8 mantissa bits to float16's 11).
    # The tolerances leave about 3x margin, for other kernels (e.g. GPU tensor cores).
    [("mixed_float16", 2e-2, 2e-3), ("mixed_bfloat16", 1e-1, 1e-2)],
)
def test_minilm_in_mixed_precision_stays_close_to_float32(policy, sequence_tolerance, pooled_tolerance):
    batch = padded_batch()
    full = BertBackbone.from_preset("minilm_l6_h384_uncased")
    mixed = BertBackbone.from_preset("minilm_l6_h384_uncased", dtype=policy)
    assert mixed.dtype_policy.name == policy
    for expected, found in zip(full.weights, mixed.weights):  # the float32 weights load unchanged
        assert found.dtype == "float32"
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(expected), keras.ops.convert_to_numpy(found))
    expected, found = full.predict_on_batch(batch), mixed.predict_on_batch(batch)
    assert keras.backend.standardize_dtype(found["sequence_output"].dtype) == mixed.compute_dtype
    valid = batch["padding_mask"].astype(bool)
    error = np.abs(np.asarray(found["sequence_output"], np.float32) - np.asarray(expected["sequence_output"]))
    assert error[valid].max() <= sequence_tolerance
    pooled_error = np.abs(np.asarray(found["pooled_output"], np.float32) - np.asarray(expected["pooled_output"]))
    assert pooled_error.max() <= pooled_tolerance


def test_own_preset_loads_into_mixed_precision(tmp_path):
    backbone = tiny_backbone(dtype="mixed_float16")
    backbone.save_to_preset(tmp_path / "preset", tokenizer=minilm_tokenizer())
    config = json.loads((tmp_path / "preset" / "backbone_config.json").read_text())
    assert "dtype" not in config  # a preset holds the architecture; the policy is chosen at load
    restored = BertBackbone.from_preset(str(tmp_path / "preset"), dtype="mixed_bfloat16")
    assert restored.dtype_policy.name == "mixed_bfloat16"
    for expected, found in zip(backbone.weights, restored.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(expected), keras.ops.convert_to_numpy(found))
    classifier = BertClassifier.from_preset(str(tmp_path / "preset"), num_classes=2, dtype="mixed_float16")
    assert classifier.dtype_policy.name == classifier.backbone.dtype_policy.name == "mixed_float16"


def test_heads_follow_the_backbone_not_the_global_policy():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = BertClassifier(tiny_backbone(dtype="float32"), 2)
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.dtype_policy.name == model.get_layer("logits").dtype_policy.name == "float32"
    assert not isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)


def test_bad_dtypes_are_clear_errors():
    with pytest.raises(ValueError, match="dtype='mixed_float17' is not a dtype policy.*'mixed_bfloat16'"):
        tiny_backbone(dtype="mixed_float17")
    with pytest.raises(ValueError, match="dtype='int32' does not compute in floating point"):
        tiny_backbone(dtype="int32")
    with pytest.raises(ValueError, match="dtype='mixed_float16' differs from the backbone's dtype policy 'float32'"):
        BertQuestionAnswerer(tiny_backbone(), dtype="mixed_float16")
    with pytest.raises(ValueError, match="dtype='float16x' is not a dtype policy"):
        BertClassifier.from_preset(str(minilm_folder()), num_classes=2, dtype="float16x")
    assert BertClassifier(tiny_backbone(dtype="mixed_float16"), 2, dtype="mixed_float16").dtype_policy.name == (
        "mixed_float16")
