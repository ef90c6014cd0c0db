"""What `fit` decides when it starts: XLA (`jit_compile`), with `steps_per_execution`; and
masks that repeat for a seed however the input pipeline runs."""

from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite import BertClassifier, BertClassifierPreprocessor, BertMaskedLM, BertMaskedLMPreprocessor
from keras_bert_suite.training import bert_optimizer
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone
from tests.training.distributed_jobs import texts_and_labels

TEXTS, LABELS = texts_and_labels()


def classifier(**compile_options):
    preprocessor = BertClassifierPreprocessor(minilm_tokenizer(), sequence_length=16)
    model = BertClassifier(tiny_backbone(), num_classes=2, preprocessor=preprocessor, compile=False)
    model.compile(optimizer=bert_optimizer(1e-3), **compile_options)
    return model


def no_logical_devices(*args, **kwargs):
    raise AssertionError("listed logical devices before fit: that starts TensorFlow's runtime, after which "
                         "no TPU system or logical device configuration can be set up")


def test_building_and_compiling_do_not_start_the_runtime_and_fit_decides_xla():
    with mock.patch.object(tf.config, "list_logical_devices", no_logical_devices):
        model = classifier()
    model.fit(TEXTS[:8], LABELS[:8], batch_size=8, verbose=0)
    assert model.jit_compile is False  # "auto" on a CPU
    assert model.get_compile_config()["jit_compile"] == "auto"


def test_the_jit_compile_choice_is_kept_and_decided_again_after_a_reload(tmp_path):
    model = classifier(jit_compile=True)
    model._decide_jit_compile()
    assert model.jit_compile is True
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert restored.get_compile_config()["jit_compile"] is True
    restored._decide_jit_compile()
    assert restored.jit_compile is True


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_jit_compile_takes_auto_true_or_false(value):
    with pytest.raises(ValueError, match=r"jit_compile must be 'auto', True or False, found"):
        classifier(jit_compile=value)


def test_steps_per_execution_runs_several_steps_per_call():
    model = classifier(steps_per_execution=2)
    history = model.fit(TEXTS[:32], LABELS[:32], batch_size=8, epochs=2, seed=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 8 and len(history.history["loss"]) == 2
    assert model.get_compile_config()["steps_per_execution"] == 2


def test_seeded_masks_repeat_in_a_streaming_pipeline():
    # Batches preprocessed in parallel once drew from a shared generator in a racy order: 16 to
    # 27 of these 32 batches got other masks from run to run. Stateless keys make it exact.
    preprocessor = BertMaskedLMPreprocessor(minilm_tokenizer(), sequence_length=16, mask_selection_length=4, seed=5)
    model = BertMaskedLM(tiny_backbone(), preprocessor=preprocessor, compile=False)

    def masks():
        return [np.asarray(x["mask_positions"]) for x, *_ in model.make_dataset(TEXTS, batch_size=2)]

    first = masks()
    assert len(first) == 32
    for again in (masks(), masks()):
        np.testing.assert_array_equal(np.stack(again), np.stack(first))
