"""Writes real weights as a Google TF1 checkpoint folder, under the variable names of
google-research/bert `modeling.py` (`BertModel`; see docs/checkpoints.md).

The HF -> Google renaming here is the test's own, independent of the package's.
"""

import json
import shutil

import numpy as np
import tensorflow as tf

_PER_LAYER = {
    "attention.self.query": "attention/self/query",
    "attention.self.key": "attention/self/key",
    "attention.self.value": "attention/self/value",
    "attention.output.dense": "attention/output/dense",
    "attention.output.LayerNorm": "attention/output/LayerNorm",
    "intermediate.dense": "intermediate/dense",
    "output.dense": "output/dense",
    "output.LayerNorm": "output/LayerNorm",
}


def google_names(hf_weights, num_layers):
    """HF parameter dict -> Google checkpoint dict (kernels transposed to [in, out])."""
    w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in hf_weights.items()}
    out = {
        "bert/embeddings/word_embeddings": w["embeddings.word_embeddings.weight"],
        "bert/embeddings/token_type_embeddings": w["embeddings.token_type_embeddings.weight"],
        "bert/embeddings/position_embeddings": w["embeddings.position_embeddings.weight"],
        "bert/embeddings/LayerNorm/gamma": w["embeddings.LayerNorm.weight"],
        "bert/embeddings/LayerNorm/beta": w["embeddings.LayerNorm.bias"],
        "bert/pooler/dense/kernel": w["pooler.dense.weight"].T,
        "bert/pooler/dense/bias": w["pooler.dense.bias"],
    }
    for i in range(num_layers):
        for hf, google in _PER_LAYER.items():
            src, dst = f"encoder.layer.{i}.{hf}", f"bert/encoder/layer_{i}/{google}"
            if hf.endswith("LayerNorm"):
                out[f"{dst}/gamma"], out[f"{dst}/beta"] = w[f"{src}.weight"], w[f"{src}.bias"]
            else:
                out[f"{dst}/kernel"], out[f"{dst}/bias"] = w[f"{src}.weight"].T, w[f"{src}.bias"]
    return out


def write_tf1_checkpoint(prefix, weights):
    """Saves `{name: array}` with TensorFlow's SaveV2 op (the TF1 checkpoint format)."""
    names = sorted(weights)
    tf.raw_ops.SaveV2(
        prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
        tensors=[tf.constant(np.ascontiguousarray(weights[n])) for n in names],
    )


def write_google_folder(folder, hf_folder, hf_weights, extra=None):
    """A complete Google-layout folder (bert_model.ckpt*, bert_config.json, vocab.txt)."""
    config = json.loads((hf_folder / "config.json").read_text())
    folder.mkdir(parents=True, exist_ok=True)
    google_config = {k: config[k] for k in (
        "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
        "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
        "max_position_embeddings", "type_vocab_size", "initializer_range")}
    (folder / "bert_config.json").write_text(json.dumps(google_config))
    shutil.copy(hf_folder / "vocab.txt", folder / "vocab.txt")
    weights = google_names(hf_weights, config["num_hidden_layers"])
    weights.update(extra or {})
    write_tf1_checkpoint(folder / "bert_model.ckpt", weights)
    return folder
