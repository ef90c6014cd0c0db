"""BertMaskedLM: dynamic masking, fill_mask against NumPy; the shared task checks
(tests/helpers/task_harness.py): fit on raw text and tf.data, predict paths, saving, errors.

Checkpoint loading of the MLM head (Google TF1 and HF layouts) is tested with the
NSP head in test_pretraining.py.
"""

import math
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite import BertMaskedLM, BertMaskedLMPreprocessor
from keras_bert_suite.preprocessing.masked_lm import step_seeds
from tests.helpers import task_harness as harness
from tests.helpers.task_harness import BadInput, Single, TaskCase
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

VOCABULARY = 30522
CLS, SEP, PAD, MASK = 101, 102, 0, 103
LONG = ("a stitch in time saves nine and all that glitters is not gold so look before you leap "
        "because the early bird catches the worm while every cloud has a silver lining")
MIDDLE = "the quick brown fox jumps over the lazy dog and then runs far away into the woods"
TEXTS = ["the quick brown fox jumps over the lazy dog", "a stitch in time saves nine",
         "all that glitters is not gold", "look before you leap"] * 2


def _preprocessor(**kwargs):
    return BertMaskedLMPreprocessor(minilm_tokenizer(), **{"sequence_length": 16, "mask_selection_length": 4,
                                                           **kwargs})


def _masked_lm(compile=True, **kwargs):
    model = BertMaskedLM(tiny_backbone(), preprocessor=_preprocessor(**kwargs), compile=compile)
    if compile:
        model.compile(learning_rate=1e-2)
    return model


CASE = TaskCase(
    task=BertMaskedLM,
    build=lambda compile=True: _masked_lm(compile, seed=1),
    x=TEXTS,
    output_shape=lambda model, x: (harness.num_examples(x), model.preprocessor.mask_selection_length, VOCABULARY),
    singles=(Single("look before you leap", ["look before you leap"]),),
    bad_inputs=(BadInput(lambda model: model.fit(TEXTS, [0] * len(TEXTS), verbose=0), ValueError,
                         "makes its own labels"),),
    batch_size=len(TEXTS),  # random masks: one batch (see task_harness)
    fit_epochs=(3, 2),  # the loss falls over each fit, on raw text and on tf.data
    fit_batch_size=2,
)


def test_task_checks(tmp_path):
    trained, restored = harness.run_task_test(CASE, tmp_path)
    assert restored.preprocessor.seed == 1 and restored.preprocessor.mask_selection_length == 4
    assert restored.fill_mask(["look before you [MASK]"]) == trained.fill_mask(["look before you [MASK]"])


def test_from_preset(tmp_path):
    harness.run_preset_test(CASE, tmp_path)


def _check_masks(packed, x, mask_ids, mask_weights):
    """Every mask is real, in order, never on [CLS]/[SEP]/padding, and labelled with the original."""
    original = packed["token_ids"].numpy()
    masked, positions = x["token_ids"].numpy(), x["mask_positions"].numpy()
    for row, weights in enumerate(mask_weights.numpy()):
        used = positions[row][weights == 1.0]
        assert np.all(np.diff(used) > 0)
        assert not np.isin(original[row, used], [CLS, SEP, PAD]).any()
        assert np.all(positions[row][weights == 0.0] == 0) and np.all(mask_ids.numpy()[row][weights == 0.0] == 0)
        np.testing.assert_array_equal(mask_ids.numpy()[row][weights == 1.0], original[row, used])
        untouched = np.ones(original.shape[1], bool)
        untouched[used] = False
        np.testing.assert_array_equal(masked[row, untouched], original[row, untouched])


def test_masks_follow_the_original_counts_and_never_touch_special_tokens():
    preprocessor = _preprocessor(sequence_length=32, mask_selection_length=4)
    texts = [LONG, MIDDLE, "hello"]
    packed = preprocessor.pack_texts(texts)
    assert packed["padding_mask"].numpy().sum(axis=1).tolist() == [32, 19, 3]
    for _ in range(30):
        x, mask_ids, mask_weights = preprocessor.mask(packed)
        _check_masks(packed, x, mask_ids, mask_weights)
        # min(cap 4, max(1, round(n * 0.15))): 32 -> 5 capped to 4, 19 -> 3, 3 -> 1.
        assert mask_weights.numpy().sum(axis=1).tolist() == [4, 3, 1]
        assert x["mask_positions"].shape == (3, 4)


def test_every_step_key_draws_new_masks_even_with_a_global_seed():
    keras.utils.set_random_seed(0)  # a seeded stateful op would replay the same masks each epoch
    preprocessor = _preprocessor(sequence_length=32, mask_selection_length=4)
    dataset = tf.data.Dataset.zip(tf.data.Dataset.from_tensor_slices([LONG, MIDDLE] * 4).batch(8).repeat(2),
                                  step_seeds(3)).map(lambda texts, key: preprocessor(texts, seed=key))
    first, second = (x["mask_positions"].numpy() for x, _, _ in dataset)
    assert not np.array_equal(first, second)


def test_masking_replaces_80_10_10_and_a_seed_repeats_it():
    rows = np.tile(np.r_[CLS, np.arange(2000, 2062), SEP].astype(np.int32), (500, 1))  # 64 tokens
    packed = {"token_ids": tf.constant(rows), "segment_ids": tf.zeros_like(rows),
              "padding_mask": tf.ones_like(rows)}
    preprocessor = _preprocessor(sequence_length=64, mask_selection_length=20, seed=7)
    x, mask_ids, mask_weights = preprocessor.mask(packed)
    assert mask_weights.numpy().sum(axis=1).tolist() == [10] * 500  # round(64 * 0.15) = 10
    used = mask_weights.numpy() == 1.0
    placed = np.take_along_axis(x["token_ids"].numpy(), x["mask_positions"].numpy(), axis=1)[used]
    masked = np.mean(placed == MASK)
    kept = np.mean(placed == mask_ids.numpy()[used])
    assert 0.77 < masked < 0.83 and 0.08 < kept < 0.12 and 0.08 < 1 - masked - kept < 0.12
    again = _preprocessor(sequence_length=64, mask_selection_length=20, seed=7).mask(packed)[0]
    other = _preprocessor(sequence_length=64, mask_selection_length=20, seed=8).mask(packed)[0]
    np.testing.assert_array_equal(again["token_ids"], x["token_ids"])
    assert not np.array_equal(other["mask_positions"], x["mask_positions"])


def _numpy_head(sequence, positions, head, table):
    """float64 MLM head (google-research/bert `run_pretraining.py`, `get_masked_lm_output`):
    dense + erf GELU + LayerNorm(1e-12), tied decoder + bias."""
    hidden = sequence[positions] @ head["kernel"] + head["bias"]
    hidden = 0.5 * hidden * (1.0 + np.vectorize(math.erf)(hidden / math.sqrt(2.0)))
    mean = hidden.mean(-1, keepdims=True)
    hidden = (hidden - mean) / np.sqrt(((hidden - mean) ** 2).mean(-1, keepdims=True) + 1e-12)
    return (hidden * head["gamma"] + head["beta"]) @ table.T + head["output_bias"]


def test_fill_mask_ranks_tokens_like_numpy():
    model = _masked_lm()
    rng = np.random.default_rng(3)
    table = rng.normal(0, 0.5, (VOCABULARY, 32))
    head = {"kernel": rng.normal(0, 0.3, (32, 32)), "bias": rng.normal(0, 0.1, 32),
            "gamma": 1 + rng.normal(0, 0.1, 32), "beta": rng.normal(0, 0.1, 32),
            "output_bias": rng.normal(0, 1.0, VOCABULARY)}
    model.backbone.token_embedding.embeddings.assign(table.astype(np.float32))
    for variable, value in ((model.mlm_head.transform.kernel, head["kernel"]),
                            (model.mlm_head.transform.bias, head["bias"]),
                            (model.mlm_head.transform_layer_norm.gamma, head["gamma"]),
                            (model.mlm_head.transform_layer_norm.beta, head["beta"]),
                            (model.mlm_head.output_bias, head["output_bias"])):
        variable.assign(value.astype(np.float32))
    texts = ["The capital of France is [MASK].", "[MASK] is a [MASK] city"]
    results = model.fill_mask(texts, top_k=5)

    tokenizer = minilm_tokenizer()

    def ids(text):
        return tokenizer(tf.constant([text])).to_list()[0]

    expected_ids = [[CLS, *ids("The capital of France is"), MASK, *ids("."), SEP],
                    [CLS, MASK, *ids("is a"), MASK, *ids("city"), SEP]]
    assert [len(per_text) for per_text in results] == [1, 2]
    for per_text, row_ids in zip(results, expected_ids):
        token_ids = np.array(row_ids, np.int32)[None]
        inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
                  "padding_mask": np.ones_like(token_ids)}
        sequence = keras.ops.convert_to_numpy(model.backbone.predict_on_batch(inputs)["sequence_output"])[0]
        logits = _numpy_head(sequence.astype(np.float64), np.flatnonzero(token_ids[0] == MASK), head, table)
        for found, row in zip(per_text, logits):
            best = np.argsort(-row)[:5]
            assert np.all(-np.diff(row[np.argsort(-row)[:6]]) > 1e-3)  # no near-ties: the order is meaningful
            probabilities = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
            assert [entry["token_id"] for entry in found] == best.tolist()
            assert [entry["token"] for entry in found] == [tokenizer.id_to_token(int(i)) for i in best]
            np.testing.assert_allclose([entry["score"] for entry in found], probabilities[best], rtol=1e-4)


def test_fill_mask_errors():
    model = _masked_lm()
    with pytest.raises(ValueError, match=r"Text 1 has no \[MASK\] to fill: 'no mask here'"):
        model.fill_mask(["a [MASK] here", "no mask here"])
    with pytest.raises(ValueError, match=r"Text 0: 1 of its 2 \[MASK\] fall beyond sequence_length 16"):
        model.fill_mask(["[MASK] " + "word " * 20 + "[MASK]"])
    with pytest.raises(ValueError, match="top_k must be a positive int, found 0"):
        model.fill_mask(["a [MASK]"], top_k=0)


def test_packed_inputs_without_preprocessor():
    model = BertMaskedLM(tiny_backbone())
    ids = np.array([[CLS, 2000, MASK, 2001, SEP, PAD], [CLS, MASK, SEP, PAD, PAD, PAD]], np.int32)
    inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": (ids != PAD).astype(np.int32),
              "mask_positions": np.array([[2, 3, 1], [1, 0, 0]], np.int32)}
    logits = model.predict(inputs, verbose=0)
    assert logits.shape == (2, 3, VOCABULARY)
    # Slots reading the same position give the same logits.
    np.testing.assert_allclose(logits[1, 1], logits[1, 2])


def _fit_masks(model, epochs=2):
    """The masks `model.fit(TEXTS, epochs=epochs, seed=1, shuffle=False)` trains on, per epoch: Keras' fit is
    replaced by one that runs each epoch's callbacks' `on_epoch_begin` and reads the batches."""
    masks = []

    def read_batches(self, dataset, epochs=1, callbacks=(), **kwargs):
        for epoch in range(epochs):
            for callback in callbacks:
                callback.on_epoch_begin(epoch)
            masks.append(np.concatenate([x["mask_positions"].numpy() for x, _, _ in dataset]))

    with mock.patch.object(keras.Model, "fit", read_batches):
        model.fit(TEXTS, batch_size=2, epochs=epochs, seed=1, shuffle=False)
    return masks


def test_fit_draws_new_masks_every_epoch_and_the_same_ones_every_run():
    first, again = _fit_masks(_masked_lm(seed=3)), _fit_masks(_masked_lm(seed=3))
    assert len(first) == 2 and first[0].shape == (len(TEXTS), 4)
    np.testing.assert_array_equal(np.stack(first), np.stack(again))  # a run repeats exactly
    assert not np.array_equal(first[0], first[1])  # each epoch draws anew
