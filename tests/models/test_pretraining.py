"""BertPreTraining (and the MLM head of BertMaskedLM): dict losses, heads loaded from Google
TF1 and HF checkpoints against a NumPy reference; the shared task checks
(tests/helpers/task_harness.py): fit on raw pairs and tf.data, predict paths, saving, errors."""

import json
import math
import shutil

import keras
import numpy as np
import pytest
from safetensors.numpy import save_file

from keras_bert_suite import BertMaskedLM, BertPreTraining, BertPreTrainingPreprocessor
from tests.helpers.google_checkpoint import write_google_folder
from tests.helpers.minilm import minilm_folder, numpy_bert, padded_batch
from tests.helpers import task_harness as harness
from tests.helpers.task_harness import Single, TaskCase
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

FIRST = ["it rained all day", "the cat sat down", "stocks fell sharply", "she opened the door"] * 2
SECOND = ["the road was wet", "penguins cannot fly", "investors were worried", "paris is large"] * 2
NEXT_SENTENCE = [0, 1, 0, 1] * 2  # 0 = IsNext, 1 = random next (Google's labels)
VOCABULARY = 30522
TINY = dict(vocab_size=VOCABULARY, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, hidden_act="gelu", hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1, max_position_embeddings=64, type_vocab_size=2,
            initializer_range=0.02, layer_norm_eps=1e-12, model_type="bert")
MASK_POSITIONS = np.array([[1, 5, 11], [2, 6, 0], [1, 0, 0]], np.int32)


def _pretraining(seed=None, compile=True):
    preprocessor = BertPreTrainingPreprocessor(minilm_tokenizer(), sequence_length=16,
                                               mask_selection_length=3, seed=seed)
    model = BertPreTraining(tiny_backbone(), preprocessor=preprocessor, compile=compile)
    if compile:
        model.compile(learning_rate=1e-2)
    return model


def _packed_batch():
    return dict(padded_batch(seed=1), mask_positions=MASK_POSITIONS)


CASE = TaskCase(
    task=BertPreTraining,
    build=lambda compile=True: _pretraining(seed=1, compile=compile),
    x=(FIRST, SECOND),
    y=np.array(NEXT_SENTENCE),
    output_shape=lambda model, x: {
        "mlm_logits": (harness.num_examples(x), model.preprocessor.mask_selection_length, VOCABULARY),
        "nsp_logits": (harness.num_examples(x), 2)},
    singles=(Single(("it rained all day", "the road was wet"), (["it rained all day"], ["the road was wet"]),
                    0, [0]),),
    batch_size=len(FIRST),  # random masks: one batch (see task_harness)
    fit_epochs=(3, 2),  # the loss falls over each fit, on raw pairs and on tf.data
    fit_batch_size=2,
)


def test_task_checks(tmp_path):
    trained, restored = harness.run_task_test(CASE, tmp_path)
    assert {"mlm_logits_accuracy", "nsp_logits_accuracy", "mlm_logits_loss", "nsp_logits_loss"} <= set(
        trained.history.history)
    assert restored.preprocessor.seed == 1 and restored.preprocessor.mask_selection_length == 3
    batch = _packed_batch()  # rows of 12, 7 and 3 tokens
    keras.tree.map_structure(np.testing.assert_array_equal,
                             keras.tree.map_structure(np.asarray, trained.predict_on_batch(batch)),
                             keras.tree.map_structure(np.asarray, restored.predict_on_batch(batch)))


def test_from_preset(tmp_path):
    harness.run_preset_test(CASE, tmp_path)


# === An independent checkpoint and head, written from docs/checkpoints.md ===
def _random_hf_weights(seed=0):
    """BertForPreTraining parameters in HF layout (Linear weights [out, in]), float32."""
    rng = np.random.default_rng(seed)
    hidden, inner = TINY["hidden_size"], TINY["intermediate_size"]

    def normal(*shape, scale=0.2):
        return rng.normal(0.0, scale, shape).astype(np.float32)

    def linear(name, out, into):
        return {f"{name}.weight": normal(out, into), f"{name}.bias": normal(out, scale=0.1)}

    def norm(name):
        return {f"{name}.weight": 1.0 + normal(hidden, scale=0.1), f"{name}.bias": normal(hidden, scale=0.1)}

    weights = {
        "bert.embeddings.word_embeddings.weight": normal(VOCABULARY, hidden, scale=0.5),
        "bert.embeddings.position_embeddings.weight": normal(64, hidden),
        "bert.embeddings.token_type_embeddings.weight": normal(2, hidden),
        "bert.embeddings.position_ids": np.arange(64, dtype=np.int64)[None],
        **norm("bert.embeddings.LayerNorm"),
        **linear("bert.pooler.dense", hidden, hidden),
        **linear("cls.predictions.transform.dense", hidden, hidden),
        **norm("cls.predictions.transform.LayerNorm"),
        "cls.predictions.bias": normal(VOCABULARY, scale=0.5),
        **linear("cls.seq_relationship", 2, hidden),
    }
    weights["cls.predictions.decoder.bias"] = weights["cls.predictions.bias"]
    for i in range(TINY["num_hidden_layers"]):
        layer = f"bert.encoder.layer.{i}"
        for name in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense"):
            weights.update(linear(f"{layer}.{name}", hidden, hidden))
        weights.update(linear(f"{layer}.intermediate.dense", inner, hidden))
        weights.update(linear(f"{layer}.output.dense", hidden, inner))
        weights.update(norm(f"{layer}.attention.output.LayerNorm"))
        weights.update(norm(f"{layer}.output.LayerNorm"))
    return weights


def _google_head_names(w):
    """Google names (docs/checkpoints.md): kernels [in, out]; `output_weights` stay [out, in]
    (google-research/bert `run_pretraining.py`, `get_next_sentence_output`)."""
    return {
        "cls/predictions/transform/dense/kernel": w["cls.predictions.transform.dense.weight"].T,
        "cls/predictions/transform/dense/bias": w["cls.predictions.transform.dense.bias"],
        "cls/predictions/transform/LayerNorm/gamma": w["cls.predictions.transform.LayerNorm.weight"],
        "cls/predictions/transform/LayerNorm/beta": w["cls.predictions.transform.LayerNorm.bias"],
        "cls/predictions/output_bias": w["cls.predictions.bias"],
        "cls/seq_relationship/output_weights": w["cls.seq_relationship.weight"],
        "cls/seq_relationship/output_bias": w["cls.seq_relationship.bias"],
    }


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """The same random weights as an HF folder and as a Google TF1 folder."""
    root = tmp_path_factory.mktemp("checkpoints")
    weights = _random_hf_weights()
    hf = root / "uncased_tiny_hf"
    hf.mkdir()
    save_file(weights, str(hf / "model.safetensors"))
    (hf / "config.json").write_text(json.dumps(TINY))
    shutil.copy(minilm_folder() / "vocab.txt", hf / "vocab.txt")
    google = write_google_folder(root / "uncased_tiny_google", hf, weights, _google_head_names(weights))
    return {"weights": {k: v.astype(np.float64) for k, v in weights.items()}, "hf": hf, "google": google}


def _layer_norm(x, gamma, beta):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + 1e-12) * gamma + beta


def numpy_heads(w, batch):
    """float64 MLM logits at the mask positions and NSP logits (google-research/bert
    `run_pretraining.py`: `get_masked_lm_output`, `get_next_sentence_output`)."""
    sequence, pooled = numpy_bert(w, TINY, batch["token_ids"], batch["segment_ids"], batch["padding_mask"])
    rows = np.arange(len(sequence))[:, None]
    hidden = sequence[rows, batch["mask_positions"]]
    hidden = hidden @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"]
    hidden = 0.5 * hidden * (1.0 + np.vectorize(math.erf)(hidden / math.sqrt(2.0)))
    hidden = _layer_norm(hidden, w["cls.predictions.transform.LayerNorm.weight"],
                         w["cls.predictions.transform.LayerNorm.bias"])
    mlm = hidden @ w["bert.embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
    nsp = pooled @ w["cls.seq_relationship.weight"].T + w["cls.seq_relationship.bias"]
    return mlm, nsp


def test_heads_from_google_and_hf_checkpoints_match_numpy(checkpoints):
    batch = _packed_batch()
    expected_mlm, expected_nsp = numpy_heads(checkpoints["weights"], batch)
    found = {}
    for layout in ("google", "hf"):
        model = BertPreTraining.from_preset(str(checkpoints[layout]), preprocessor=None)
        found[layout] = {k: keras.ops.convert_to_numpy(v) for k, v in model.predict_on_batch(batch).items()}
        masked_lm = BertMaskedLM.from_preset(str(checkpoints[layout]), preprocessor=None)
        mlm_only = keras.ops.convert_to_numpy(masked_lm.predict_on_batch(batch))
        np.testing.assert_array_equal(mlm_only, found[layout]["mlm_logits"])
    np.testing.assert_array_equal(found["google"]["mlm_logits"], found["hf"]["mlm_logits"])
    np.testing.assert_array_equal(found["google"]["nsp_logits"], found["hf"]["nsp_logits"])
    assert found["hf"]["mlm_logits"].shape == (3, 3, VOCABULARY)
    assert found["hf"]["nsp_logits"].shape == (3, 2)
    np.testing.assert_allclose(found["hf"]["mlm_logits"], expected_mlm, rtol=0, atol=2e-5)
    np.testing.assert_allclose(found["hf"]["nsp_logits"], expected_nsp, rtol=0, atol=1e-5)


def test_losses_and_metrics_follow_dict_targets_and_weights():
    model = BertPreTraining(tiny_backbone(), compile=False)
    model.compile(learning_rate=1e-3)
    batch = _packed_batch()
    mlm_logits, nsp_logits = (keras.ops.convert_to_numpy(v) for v in model.predict_on_batch(batch).values())
    best = mlm_logits.argmax(-1)
    mask_ids = np.array([[best[0, 0], 7, 8], [best[1, 0], best[1, 1], 9], [5, 6, 7]], np.int32)
    mask_weights = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]], np.float32)
    labels = np.array([0, 1, 0], np.int32)
    # Zero-weight slots hold a label the model ranks first: they must not count.
    mask_ids[1, 2], mask_ids[2, 1] = best[1, 2], best[2, 1]
    results = model.evaluate(
        batch, {"mlm_logits": mask_ids, "nsp_logits": labels},
        sample_weight={"mlm_logits": mask_weights, "nsp_logits": np.ones(3, np.float32)},
        batch_size=3, return_dict=True, verbose=0,
    )

    def nll(logits, ids):
        shifted = logits - logits.max(-1, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        return -np.take_along_axis(log_probabilities, ids[..., None], -1)[..., 0]

    mlm_loss = (mask_weights * nll(mlm_logits, mask_ids)).sum() / mask_weights.sum()
    nsp_loss = nll(nsp_logits, labels).mean()
    assert results["mlm_logits_loss"] == pytest.approx(mlm_loss, rel=1e-5)
    assert results["nsp_logits_loss"] == pytest.approx(nsp_loss, rel=1e-5)
    assert results["loss"] == pytest.approx(mlm_loss + nsp_loss, rel=1e-5)
    assert results["mlm_logits_accuracy"] == pytest.approx(3 / 6)  # the three `best` hits of six real slots
    assert results["nsp_logits_accuracy"] == pytest.approx(np.mean(nsp_logits.argmax(-1) == labels))


def test_preprocessor_targets_are_keyed_by_output_name():
    preprocessor = BertPreTrainingPreprocessor(minilm_tokenizer(), sequence_length=16, mask_selection_length=3)
    x, y, sample_weight = preprocessor((FIRST[:2], SECOND[:2]), NEXT_SENTENCE[:2])
    assert set(x) == {"token_ids", "segment_ids", "padding_mask", "mask_positions"}
    assert set(y) == set(sample_weight) == {"mlm_logits", "nsp_logits"}
    assert y["nsp_logits"].numpy().tolist() == [0, 1]
    assert sample_weight["nsp_logits"].numpy().tolist() == [1.0, 1.0]
    # "[CLS] it rained all day [SEP] the road was wet [SEP]": 11 tokens -> round(1.65) = 2 masks.
    assert sample_weight["mlm_logits"].numpy()[0].tolist() == [1.0, 1.0, 0.0]
    assert x["segment_ids"].numpy()[0].tolist() == [0] * 6 + [1] * 5 + [0] * 5


def test_save_to_preset_keeps_both_heads_for_every_task_that_has_them(tmp_path):
    model = _pretraining(seed=1)
    rng = np.random.default_rng(4)
    for variable in model.mlm_head.weights + model.nsp_head.weights:
        variable.assign(rng.normal(0, 0.2, variable.shape).astype(np.float32))
    model.save_to_preset(tmp_path / "preset")
    masked_lm = BertMaskedLM.from_preset(tmp_path / "preset", sequence_length=16)
    pretraining = BertPreTraining.from_preset(tmp_path / "preset", sequence_length=16)
    for expected, found in ((model.mlm_head.weights, masked_lm.mlm_head.weights),
                            (model.mlm_head.weights + model.nsp_head.weights,
                             pretraining.mlm_head.weights + pretraining.nsp_head.weights)):
        assert len(expected) == len(found)
        for saved, loaded in zip(expected, found):
            np.testing.assert_array_equal(np.asarray(saved), np.asarray(loaded))
