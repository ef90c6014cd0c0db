"""`kbs pretrain` on SQuAD paragraphs: a tiny BERT from scratch, and continued pretraining of MiniLM.

The corpus is the paragraph text of `../shared/data/squad_v1.1/dev-v1.1-part1.json` (else
the bundled sample): one sentence per line, a paragraph per document, one in ten
paragraphs held out. Two runs, each with dynamic masking (new pairs and masks every step):

- scratch: `kbs build-vocab` on the training paragraphs, then `kbs pretrain
  --bert-config-file` with 2 layers, hidden 128; reports the masked-LM accuracy of the
  first step, of the last steps and on the held-out paragraphs.
- continued: `kbs pretrain --preset minilm_l6_h384_uncased` (the embedded MiniLM, whose
  checkpoint has no MLM head, so the head starts untrained); reports the held-out masked-LM
  loss and accuracy of the preset before training (the same held-out batches) and after.

Prints a table and writes benchmarks/results/pretrain_from_scratch.json.

Example:
    $ python benchmarks/pretrain_from_scratch.py --scratch-steps 1200 --continued-steps 300
"""

import argparse
import json
import os
import pathlib
import re
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_bert_suite.cli import build_parser, main  # noqa: E402
from keras_bert_suite.recipes import pretrain  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "squad_v1.1" / "dev-v1.1-part1.json"
BUNDLED = ROOT / "examples" / "data" / "squad_v1.1" / "dev-v1.1-part1.json"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
TINY_CONFIG = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512,
               "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
               "max_position_embeddings": 128, "type_vocab_size": 2, "initializer_range": 0.02}


def write_corpus(folder):
    """train.txt and held_out.txt (every tenth paragraph) in the original's text format."""
    source = SHARED if SHARED.exists() else BUNDLED
    paragraphs = [paragraph["context"] for article in json.loads(source.read_text(encoding="utf-8"))["data"]
                  for paragraph in article["paragraphs"]]
    documents = ["\n".join(SENTENCE_END.split(text.strip())) for text in dict.fromkeys(paragraphs)]
    train, held_out = folder / "train.txt", folder / "held_out.txt"
    train.write_text("\n\n".join(d for i, d in enumerate(documents) if i % 10) + "\n", encoding="utf-8")
    held_out.write_text("\n\n".join(d for i, d in enumerate(documents) if not i % 10) + "\n", encoding="utf-8")
    return source, len(documents), train, held_out


def read_results(path):
    return {key: float(value) for key, value in (line.split(" = ") for line in path.read_text().splitlines())}


def scratch(folder, train, held_out, steps, batch_size, length):
    vocab = folder / "vocab.txt"
    main(["build-vocab", "--input-file", str(train), "--output-file", str(vocab), "--vocab-size", "8000"])
    size = len(vocab.read_text(encoding="utf-8").splitlines())
    config = folder / "bert_config.json"
    config.write_text(json.dumps({"vocab_size": size, **TINY_CONFIG}))
    out = folder / "scratch"
    started = time.time()
    assert main(["pretrain", "--input-file", str(train), "--eval-file", str(held_out), "--output-dir", str(out),
                 "--bert-config-file", str(config), "--vocab-file", str(vocab), "--max-seq-length", str(length),
                 "--train-batch-size", str(batch_size), "--num-train-steps", str(steps),
                 "--num-warmup-steps", str(steps // 10), "--learning-rate", "1e-3",
                 "--save-checkpoints-steps", str(steps // 4), "--max-eval-steps", "20"]) == 0
    history = json.loads((out / "history.json").read_text())["steps"]
    results = read_results(out / "eval_results.txt")
    return {"vocabulary": size, "steps": steps, "seconds": round(time.time() - started),
            "first_step_mlm_accuracy": history["mlm_logits_accuracy"][0],
            "last_period_mlm_accuracy": history["mlm_logits_accuracy"][-1],
            "first_step_mlm_loss": history["mlm_logits_loss"][0],
            "held_out_mlm_accuracy": results["masked_lm_accuracy"], "held_out_mlm_loss": results["masked_lm_loss"],
            "held_out_nsp_accuracy": results["next_sentence_accuracy"]}


def continued(folder, train, held_out, steps, batch_size, length):
    out = folder / "continued"
    flags = ["pretrain", "--input-file", str(train), "--eval-file", str(held_out), "--output-dir", str(out),
             "--preset", "minilm_l6_h384_uncased", "--max-seq-length", str(length),
             "--train-batch-size", str(batch_size), "--num-train-steps", str(steps),
             "--num-warmup-steps", str(steps // 10), "--learning-rate", "1e-4",
             "--save-checkpoints-steps", str(steps), "--max-eval-steps", "20"]
    args = build_parser().parse_args(flags)
    model = pretrain.build_model(args)  # the preset as it is, scored on the held-out batches kbs pretrain scores
    before = model.evaluate(pretrain.batches(args.eval_file, model, args, args.eval_batch_size, training=False),
                            return_dict=True, verbose=0)
    started = time.time()
    assert main(flags) == 0
    after = read_results(out / "eval_results.txt")
    return {"steps": steps, "seconds": round(time.time() - started),
            "held_out_mlm_loss_before": before["mlm_logits_loss"], "held_out_mlm_loss_after": after["masked_lm_loss"],
            "held_out_mlm_accuracy_before": before["mlm_logits_accuracy"],
            "held_out_mlm_accuracy_after": after["masked_lm_accuracy"]}


def main_benchmark():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch-steps", type=int, default=1200)
    parser.add_argument("--continued-steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--runs", default="scratch,continued")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary)
        source, documents, train, held_out = write_corpus(folder)
        results["corpus"] = {"source": source.name, "paragraphs": documents}
        if "scratch" in args.runs:
            results["scratch"] = scratch(folder, train, held_out, args.scratch_steps, args.batch_size,
                                         args.max_seq_length)
        if "continued" in args.runs:
            results["continued"] = continued(folder, train, held_out, args.continued_steps, args.batch_size,
                                             args.max_seq_length)
    print(f"\ncorpus: {results['corpus']['paragraphs']} paragraphs of {results['corpus']['source']} "
          "(one in ten held out)")
    for run, figures in results.items():
        if run != "corpus":
            print(f"{run:<10}" + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in figures.items()))
    output = ROOT / "benchmarks" / "results" / "pretrain_from_scratch.json"
    # A run of some of the --runs keeps the figures of the others.
    saved = json.loads(output.read_text()) if output.is_file() else {}
    output.write_text(json.dumps({**saved, **results}, indent=2) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main_benchmark()
