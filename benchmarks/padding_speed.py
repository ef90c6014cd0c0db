"""Raw-text fine-tuning and prediction on SST-2 dev: dynamic padding, fixed padding, keras-hub.

The same 872 SST-2 dev sentences (about 25 word pieces each), sequence length 128, batch
32, as a user calls it: `model.fit(texts, labels, epochs=1)` and `model.predict(texts)` on
Python lists, tokenizing included. Three models of the embedded MiniLM's shape: ours
(real weights, `from_preset`) with `padding="dynamic"` (the default) and with
`padding="fixed"`, and keras-hub's `BertTextClassifier` (random weights of the same
shapes: speed does not depend on the values), which pads every batch to 128. Each round
runs the three in a rotating order after one warm-up round; prints the median seconds per
call and each one's ratio to keras-hub's, and writes them to `--json`.

Run: `.venv/bin/python benchmarks/padding_speed.py [--rounds 3] [--limit 200]` (needs the `bench` extra and
`../shared/data/sst2/dev.tsv`).
"""

import argparse
import csv
import json
import os
import pathlib
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from predict_latency import SEQUENCE_LENGTH, keras_hub_classifier  # noqa: E402

SST2 = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sst2" / "dev.tsv"


def sst2():
    with open(SST2, encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [row["sentence"] for row in rows], [int(row["label"]) for row in rows]


def models():
    keras.utils.set_random_seed(0)
    dynamic = kbs.BertClassifier.from_preset(kbs.DEFAULT_PRESET, num_classes=2, sequence_length=SEQUENCE_LENGTH)
    fixed = kbs.BertClassifier.from_preset(kbs.DEFAULT_PRESET, num_classes=2, sequence_length=SEQUENCE_LENGTH)
    fixed.padding = "fixed"
    hub = keras_hub_classifier(dynamic)
    hub.compile(optimizer=keras.optimizers.AdamW(5e-5), loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    return {"ours dynamic": dynamic, "ours fixed": fixed, "keras-hub": hub}


def timed(call):
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (>= 1), after one warm-up round")
    parser.add_argument("--limit", type=int, default=None, help="only the first N sentences (a quick look)")
    parser.add_argument("--json", type=pathlib.Path,
                        default=pathlib.Path(__file__).with_name("results") / "padding_speed.json")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, found {args.rounds}")
    texts, labels = (part[:args.limit] for part in sst2())
    contestants = models()
    names = list(contestants)
    jobs = {"fit 1 epoch": lambda model: model.fit(texts, labels, batch_size=32, epochs=1, verbose=0),
            "predict": lambda model: model.predict(texts, batch_size=32, verbose=0)}
    seconds = {(job, name): [] for job in jobs for name in names}
    for round_index in range(args.rounds + 1):  # round 0 warms up (traces, builds)
        order = names[round_index % 3:] + names[:round_index % 3]
        for job, call in jobs.items():
            for name in order:
                spent = timed(lambda: call(contestants[name]))
                if round_index:
                    seconds[job, name].append(spent)
    print(f"SST-2 dev, {len(texts)} sentences, sequence {SEQUENCE_LENGTH}, batch 32, median of {args.rounds} rounds")
    print(f"| {'job':<12} | {'model':<13} | {'seconds':>8} | {'sentences/s':>11} | {'vs keras-hub':>12} |")
    print(f"|{'-' * 14}|{'-' * 15}|{'-' * 10}|{'-' * 13}|{'-' * 14}|")
    results = {}
    for job in jobs:
        theirs = statistics.median(seconds[job, "keras-hub"])
        for name in names:
            median = statistics.median(seconds[job, name])
            results[f"{job} / {name}"] = {"seconds": seconds[job, name], "median": median, "speedup": theirs / median}
            print(f"| {job:<12} | {name:<13} | {median:8.2f} | {len(texts) / median:11.1f} | {theirs / median:11.2f}x |")
    args.json.write_text(json.dumps({"settings": f"SST-2 dev {len(texts)}, seq {SEQUENCE_LENGTH}, batch 32, "
                                     f"{os.cpu_count()} CPUs", "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
