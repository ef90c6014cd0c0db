"""Tokenizer throughput on real sentences: ours vs keras-hub's and HF's WordPiece.

Tokenizes the MRPC training sentences (both sides, ~7,300 sentences) in batches and
prints word pieces per second for each tokenizer, plus whether ours and HF's agree.

Run: `.venv/bin/python benchmarks/tokenizer_throughput.py [--repeats 5 --batch-size 1024]`
"""

import argparse
import pathlib
import time

import keras_hub
import tensorflow as tf
import tokenizers

from keras_bert_suite import DEFAULT_PRESET
from keras_bert_suite.presets import resolve_preset
from keras_bert_suite.recipes.glue_data import read_glue
from keras_bert_suite.tokenizers import WordPieceTokenizer

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mrpc"


def best_time(function, repeats):
    """Fastest of `repeats` runs (seconds) and the result of the last one."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"Needs the MRPC sample at {DATA} (the shared data folder).")
    examples = read_glue("mrpc", DATA, "train")
    sentences = [e.text_a for e in examples] + [e.text_b for e in examples]
    vocabulary = str(resolve_preset(DEFAULT_PRESET).vocabulary_file)
    batches = [sentences[i:i + args.batch_size] for i in range(0, len(sentences), args.batch_size)]

    ours = WordPieceTokenizer(vocabulary, lowercase=True)
    ours_batch = tf.function(lambda texts: ours(texts))
    hub = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocabulary, lowercase=True, strip_accents=True)
    hf = tokenizers.BertWordPieceTokenizer(vocabulary, lowercase=True, strip_accents=None)

    candidates = {
        "keras_bert_suite (eager)": lambda: [ours(b) for b in batches],
        "keras_bert_suite (tf.function)": lambda: [ours_batch(tf.constant(b)) for b in batches],
        "keras-hub WordPieceTokenizer": lambda: [hub(b) for b in batches],
        "HF tokenizers (Rust)": lambda: [hf.encode_batch(b, add_special_tokens=False) for b in batches],
    }
    results = {name: best_time(run, args.repeats) for name, run in candidates.items()}
    ours_ids = [ids for batch in results["keras_bert_suite (tf.function)"][1] for ids in batch.to_list()]
    hf_ids = [encoding.ids for batch in results["HF tokenizers (Rust)"][1] for encoding in batch]
    pieces = sum(len(ids) for ids in ours_ids)
    mismatches = sum(a != b for a, b in zip(ours_ids, hf_ids))

    print(f"{len(sentences)} MRPC sentences, {pieces} word pieces, batch {args.batch_size}, "
          f"best of {args.repeats}; {mismatches} sentences differ between ours and HF")
    print(f"| {'tokenizer':<32} | {'seconds':>8} | {'pieces/s':>10} |")
    print(f"|{'-' * 34}|{'-' * 10}|{'-' * 12}|")
    for name, (seconds, _) in results.items():
        print(f"| {name:<32} | {seconds:8.3f} | {pieces / seconds:10,.0f} |")


if __name__ == "__main__":
    main()
