"""Seconds a SavedModel of `model.export` takes to serve long and bad inputs, per task.

Every task model is built on the embedded MiniLM preset (6 layers, hidden 384, random
heads), exported, loaded back with `tf.saved_model.load`, warmed on one short text, then
timed (best of `--repeats`) on: a 1 MB text (200,000 words; cut to `--sequence-length`
pieces; question answering: the 1 MB text as the context, so every doc-stride window is
scored), a batch of 32 short texts, and a batch of the bad strings (empty, not UTF-8,
whitespace only, only [MASK]). Prints a table and writes JSON.

Run: `.venv/bin/python benchmarks/serving_bad_inputs.py [--sequence-length 128 --repeats 2]`
"""

import argparse
import json
import pathlib
import tempfile
import time

import tensorflow as tf

from keras_bert_suite import (
    DEFAULT_PRESET,
    BertClassifier,
    BertMaskedLM,
    BertMultipleChoice,
    BertQuestionAnswerer,
    BertTokenClassifier,
)

ONE_MB = "word " * 200_000
BAD = [b"", b"caf\xe9 \xff\xfe ok", b" \t\n ", b"[MASK]", b"a\xed\xa0\x80b"]
SHORT = ["A fine [MASK] film about a dull plot."] * 32


def models(sequence_length):
    options = {"sequence_length": sequence_length}
    return {
        "classifier": BertClassifier.from_preset(DEFAULT_PRESET, num_classes=2, **options),
        "token_classifier": BertTokenClassifier.from_preset(DEFAULT_PRESET, num_classes=3, **options),
        "multiple_choice": BertMultipleChoice.from_preset(DEFAULT_PRESET, num_choices=2, **options),
        "question_answerer": BertQuestionAnswerer.from_preset(DEFAULT_PRESET, **options),
        "masked_lm": BertMaskedLM.from_preset(DEFAULT_PRESET, **options),
    }


def request(name, texts):
    """The signature's keyword inputs with `texts` in every string input (QA: as the contexts)."""
    texts = tf.constant(texts)
    if name == "multiple_choice":
        return {"context": texts, "choices": tf.stack([texts, texts], axis=1)}
    if name == "question_answerer":
        return {"question": tf.fill(tf.shape(texts), "What is it?"), "context": texts}
    return {"text": texts}


def best_time(serve, inputs, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        serve(**inputs)
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("benchmarks/results/serving_bad_inputs.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, model in models(args.sequence_length).items():
            path = model.export(pathlib.Path(folder) / name)
            serve = tf.saved_model.load(str(path)).signatures["serving_default"]
            serve(**request(name, SHORT[:1]))  # first call: graph set-up
            rows.append({
                "task": name,
                "one_mb_s": best_time(serve, request(name, [ONE_MB]), args.repeats),
                "batch_32_short_s": best_time(serve, request(name, SHORT), args.repeats),
                "bad_strings_s": best_time(serve, request(name, BAD), args.repeats),
            })
    header = ("task", "1 MB text (s)", "32 short texts (s)", "bad strings (s)")
    print(" | ".join(header))
    for row in rows:
        print(" | ".join([row["task"]] + [f"{row[key]:.2f}" for key in ("one_mb_s", "batch_32_short_s",
                                                                      "bad_strings_s")]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"sequence_length": args.sequence_length, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
