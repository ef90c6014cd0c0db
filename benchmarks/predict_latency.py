"""End-to-end `predict` on raw strings: our BertClassifier against keras-hub's BertTextClassifier.

Both classify with the embedded MiniLM's architecture and vocabulary (sequence length
128, batch 32): ours loads the real weights through `from_preset`, keras-hub's gets
random weights of the same shapes (speed does not depend on the values). A call is
`model.predict(texts)` on a Python list of MRPC sentences (or a stock sentence when
`../shared/data` is absent): tokenizing, packing and the model, as a user runs it.
Prints the median wall time of `--repeats` calls after one warm-up call.

Run: `.venv/bin/python benchmarks/predict_latency.py [--sizes 1,32,256 --repeats 5]`
"""

import argparse
import os
import pathlib
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_hub  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.presets import resolve_preset  # noqa: E402
from keras_bert_suite.recipes.glue_data import read_glue  # noqa: E402

MRPC = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mrpc"
SEQUENCE_LENGTH = 128


def sentences(count):
    if (MRPC / "dev.tsv").is_file():
        pool = [example.text_a for example in read_glue("mrpc", MRPC, "dev")]
    else:
        pool = ["The quick brown fox jumps over the lazy dog near the river bank."]
    return [pool[index % len(pool)] for index in range(count)]


def keras_hub_classifier(ours):
    backbone = ours.backbone
    hub_backbone = keras_hub.models.BertBackbone(
        vocabulary_size=backbone.vocabulary_size, num_layers=backbone.num_layers, num_heads=backbone.num_heads,
        hidden_dim=backbone.hidden_dim, intermediate_dim=backbone.intermediate_dim,
        max_sequence_length=backbone.max_sequence_length,
    )
    vocabulary = str(resolve_preset(kbs.DEFAULT_PRESET).folder / "vocab.txt")
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=SEQUENCE_LENGTH)
    return keras_hub.models.BertTextClassifier(hub_backbone, num_classes=2, preprocessor=preprocessor)


def median_seconds(model, texts, repeats):
    model.predict(texts, batch_size=32, verbose=0)  # warm up: traces and builds
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(texts, batch_size=32, verbose=0)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,32,256", help="comma-separated numbers of texts per call")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ours = kbs.BertClassifier.from_preset(kbs.DEFAULT_PRESET, num_classes=2, sequence_length=SEQUENCE_LENGTH)
    models = {"keras_bert_suite BertClassifier": ours, "keras-hub BertTextClassifier": keras_hub_classifier(ours)}
    print(f"predict on raw strings, MiniLM shape, sequence {SEQUENCE_LENGTH}, batch 32, median of {args.repeats}")
    print(f"| {'model':<32} | {'texts':>5} | {'ms per call':>11} | {'texts/s':>8} |")
    print(f"|{'-' * 34}|{'-' * 7}|{'-' * 13}|{'-' * 10}|")
    for size in (int(part) for part in args.sizes.split(",")):
        texts = sentences(size)
        for name, model in models.items():
            seconds = median_seconds(model, texts, args.repeats)
            print(f"| {name:<32} | {size:5d} | {seconds * 1e3:11.1f} | {size / seconds:8.1f} |")


if __name__ == "__main__":
    main()
