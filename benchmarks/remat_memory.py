"""Peak memory and time of a training step with and without `remat=True`.

Each setting runs in its own subprocess: a `BertClassifier` on a random-weight backbone
takes `--steps` train steps on one packed batch. On a GPU the figure is TensorFlow's peak
device memory over those steps (`tf.config.experimental.get_memory_info`); on CPU it is the
process's peak resident set (`VmHWM` in /proc/self/status, Linux) minus the resident set
before the first step, i.e. what training adds: activations kept for the backward pass,
gradients, optimizer slots and the traced step (the last three equal for both settings).

Run: `.venv/bin/python benchmarks/remat_memory.py [--layers 4 --batch-size 16 --sequence-length 256]`
"""

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from keras_bert_suite import BertBackbone, BertClassifier
from keras_bert_suite.training import set_num_train_steps


def process_memory_mb():
    """`{"VmRSS": ..., "VmHWM": ...}` of this process in MiB, read from /proc/self/status."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {name: int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM")}


def measure(args, remat):
    """Builds the model, runs the steps, returns the figures of this process as a dict."""
    backbone = BertBackbone(
        vocabulary_size=args.vocabulary_size, num_layers=args.layers, num_heads=args.heads,
        hidden_dim=args.hidden_dim, intermediate_dim=args.intermediate_dim,
        max_sequence_length=args.sequence_length, remat=remat, dtype=args.dtype,
    )
    model = BertClassifier(backbone, num_classes=2)
    set_num_train_steps(model.optimizer, args.steps)
    rng = np.random.default_rng(0)
    shape = (args.batch_size, args.sequence_length)
    x = {"token_ids": rng.integers(1, args.vocabulary_size, shape).astype("int32"),
         "segment_ids": np.zeros(shape, "int32"), "padding_mask": np.ones(shape, "int32")}
    y = rng.integers(0, 2, args.batch_size)
    gpu = bool(tf.config.list_logical_devices("GPU"))
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")
    before = process_memory_mb()["VmRSS"]
    times = []
    for _ in range(args.steps):
        started = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - started)
    figures = {"remat": remat, "rss_before_mb": before, "peak_rss_mb": process_memory_mb()["VmHWM"],
               "step_s": min(times[1:] or times)}
    if gpu:
        figures["gpu_peak_mb"] = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--intermediate-dim", type=int, default=1024)
    parser.add_argument("--vocabulary-size", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--dtype", default=None, help="dtype policy, e.g. mixed_float16 (default float32)")
    parser.add_argument("--child", choices=("plain", "remat"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args, remat=args.child == "remat")))
        return
    rows = []
    for setting in ("plain", "remat"):
        command = [sys.executable, __file__, *sys.argv[1:], "--child", setting]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    print(f"{args.layers} layers, hidden {args.hidden_dim}, {args.heads} heads, intermediate "
          f"{args.intermediate_dim}, batch {args.batch_size} x {args.sequence_length} tokens, "
          f"{args.dtype or 'float32'}, best of {args.steps} steps")
    gpu = "gpu_peak_mb" in rows[0]
    header = ["remat", "RSS before MiB", "peak RSS MiB", "training adds MiB", "step s"] + ["GPU peak MiB"] * gpu
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("-" * (len(name) + 2) for name in header) + "|")
    for row in rows:
        cells = [str(row["remat"]), f"{row['rss_before_mb']:.0f}", f"{row['peak_rss_mb']:.0f}",
                 f"{row['peak_rss_mb'] - row['rss_before_mb']:.0f}", f"{row['step_s']:.2f}"]
        if gpu:
            cells.append(f"{row['gpu_peak_mb']:.0f}")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
