"""Fine-tunes the embedded MiniLM on MRPC (train -> dev) and prints accuracy, F1 and wall time.

Uses the real GLUE MRPC files in ../shared/data/mrpc and the BERT recipe (AdamW,
10% warmup, linear decay). The original BERT-Base reaches 84.8 F1 / ~86 acc on dev
with the full data; MiniLM-L6 is smaller (22M parameters).

Run: `.venv/bin/python benchmarks/finetune_mrpc.py [--max-train-examples 1500 --learning-rate 1e-4 --max-seq-length 96]`
"""

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.recipes.classification_metrics import glue_metrics  # noqa: E402
from keras_bert_suite.recipes.glue_data import read_glue  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mrpc"


def pairs(examples):
    return ([e.text_a for e in examples], [e.text_b for e in examples]), np.array([int(e.label) for e in examples])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    parser.add_argument("--max-train-examples", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-seq-length", type=int, default=128)
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"Needs the MRPC files at {DATA} (the shared data folder).")
    keras.utils.set_random_seed(0)
    train = read_glue("mrpc", DATA, "train")[: args.max_train_examples]
    dev = read_glue("mrpc", DATA, "dev")
    model = kbs.BertClassifier.from_preset(args.preset, num_classes=2, sequence_length=args.max_seq_length)
    model.compile(learning_rate=args.learning_rate)
    x, y = pairs(train)
    started = time.perf_counter()
    model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=2)
    train_seconds = time.perf_counter() - started
    dev_x, dev_y = pairs(dev)
    started = time.perf_counter()
    predictions = model.predict(dev_x, batch_size=64, verbose=0).argmax(-1)
    predict_seconds = time.perf_counter() - started
    metrics = glue_metrics("mrpc", predictions, dev_y)
    majority = max(dev_y.mean(), 1 - dev_y.mean())
    print(f"\n{args.preset} on MRPC: {len(train)} train pairs, {args.epochs} epochs, batch {args.batch_size}, "
          f"lr {args.learning_rate}, seq {args.max_seq_length}, {os.cpu_count()} CPU cores")
    print("| dev accuracy | dev F1 | majority-class accuracy | train wall time | dev predict time |")
    print("|---|---|---|---|---|")
    print(f"| {metrics['acc']:.4f} | {metrics['f1']:.4f} | {majority:.4f} | "
          f"{train_seconds:.0f} s | {predict_seconds:.1f} s ({len(dev)} pairs) |")


if __name__ == "__main__":
    main()
