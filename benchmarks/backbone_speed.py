"""Forward and training-step speed of our BertBackbone against keras-hub's BertBackbone.

Both are built with the same architecture (default: the embedded MiniLM, 6 layers,
hidden 384) and random weights, and run the same batch through a `tf.function`:
inference (forward) and one gradient step (forward + backward, dropout on). Prints
milliseconds per batch (best of `--repeats`) and sequences per second.

Run: `.venv/bin/python benchmarks/backbone_speed.py [--batch-size 32 --sequence-length 128]`
"""

import argparse
import time

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from keras_bert_suite import BertBackbone

ARCHITECTURES = {
    "minilm": dict(vocabulary_size=30522, num_layers=6, num_heads=12, hidden_dim=384, intermediate_dim=1536),
    "base": dict(vocabulary_size=30522, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
}


def timed(function, inputs, repeats):
    function(inputs)  # trace and warm up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        keras.tree.map_structure(lambda t: t.numpy(), function(inputs))
        times.append(time.perf_counter() - started)
    return min(times)


def step_functions(model, output_key):
    @tf.function
    def forward(inputs):
        return model(inputs, training=False)[output_key]

    @tf.function
    def gradient_step(inputs):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(inputs, training=True)[output_key]))
        gradients = tape.gradient(loss, model.trainable_variables)
        # One scalar that depends on every gradient (embedding gradients are IndexedSlices).
        return tf.add_n([tf.reduce_sum(g.values if isinstance(g, tf.IndexedSlices) else g)
                         for g in gradients if g is not None])

    return forward, gradient_step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="minilm")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    architecture = ARCHITECTURES[args.architecture]
    rng = np.random.default_rng(0)
    lengths = rng.integers(args.sequence_length // 2, args.sequence_length + 1, args.batch_size)
    mask = (np.arange(args.sequence_length)[None] < lengths[:, None]).astype("int32")
    inputs = {
        "token_ids": tf.constant(rng.integers(1000, 30000, mask.shape) * mask, tf.int32),
        "segment_ids": tf.zeros(mask.shape, tf.int32),
        "padding_mask": tf.constant(mask),
    }
    models = {
        "keras_bert_suite BertBackbone": (BertBackbone(**architecture, max_sequence_length=512), "sequence_output"),
        "keras-hub BertBackbone": (keras_hub.models.BertBackbone(**architecture, max_sequence_length=512),
                                   "sequence_output"),
    }
    print(f"{args.architecture}: batch {args.batch_size} x {args.sequence_length} tokens, CPU threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}, best of {args.repeats}")
    print(f"| {'model':<30} | {'forward ms':>10} | {'seq/s':>7} | {'train step ms':>13} | {'seq/s':>7} |")
    print(f"|{'-' * 32}|{'-' * 12}|{'-' * 9}|{'-' * 15}|{'-' * 9}|")
    for name, (model, key) in models.items():
        forward, gradient_step = step_functions(model, key)
        forward_s = timed(forward, inputs, args.repeats)
        train_s = timed(gradient_step, inputs, args.repeats)
        print(f"| {name:<30} | {forward_s * 1e3:10.1f} | {args.batch_size / forward_s:7.1f} | "
              f"{train_s * 1e3:13.1f} | {args.batch_size / train_s:7.1f} |")


if __name__ == "__main__":
    main()
