"""Fine-tunes the embedded MiniLM on a SQuAD 1.1 subset and prints EM / F1 and wall time.

Trains on the questions of the first articles of ../shared/data/squad_v1.1 (the official
dev file, part 1) and scores held-out articles with the official SQuAD 1.1 metric. A
CPU-sized run, so far below published figures (BERT-Base: 80.8 EM / 88.5 F1 with the
full 88k training questions); it shows the whole path works and learns.

Run: `.venv/bin/python benchmarks/finetune_squad.py [--train-questions 1500 --eval-questions 300]`
"""

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.recipes.squad_data import read_squad_file  # noqa: E402
from keras_bert_suite.recipes.squad_eval import evaluate_v1  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "squad_v1.1" / "dev-v1.1-part1.json"


def split_by_context(examples, train_questions, eval_questions):
    """First questions for training, later ones (on contexts not trained on) for evaluation."""
    train = examples[:train_questions]
    seen = {e.context for e in train}
    held_out = [e for e in examples[train_questions:] if e.context not in seen]
    return train, held_out[:eval_questions]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    parser.add_argument("--train-questions", type=int, default=1500)
    parser.add_argument("--eval-questions", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-seq-length", type=int, default=256)
    args = parser.parse_args()
    if not DATA.is_file():
        raise SystemExit(f"Needs the SQuAD 1.1 sample at {DATA} (the shared data folder).")
    keras.utils.set_random_seed(0)
    examples = read_squad_file(DATA, is_training=True, skip_mismatched=True).examples
    train, held_out = split_by_context(examples, args.train_questions, args.eval_questions)
    model = kbs.BertQuestionAnswerer.from_preset(args.preset, sequence_length=args.max_seq_length)
    model.compile(learning_rate=args.learning_rate)
    started = time.perf_counter()
    model.fit(([e.question for e in train], [e.context for e in train]), [e.answers[0] for e in train],
              epochs=args.epochs, batch_size=args.batch_size, verbose=2)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    answers = model.answer([e.question for e in held_out], [e.context for e in held_out])
    predict_seconds = time.perf_counter() - started
    predictions = {e.qas_id: best[0]["text"] for e, best in zip(held_out, answers)}
    scores = evaluate_v1(held_out, predictions)
    print(f"\n{args.preset} on SQuAD 1.1 subset: {len(train)} train questions, {len(held_out)} held-out "
          f"questions on unseen paragraphs, {args.epochs} epochs, seq {args.max_seq_length}, {os.cpu_count()} cores")
    print("| EM | F1 | train wall time | answer time |")
    print("|---|---|---|---|")
    print(f"| {scores['exact_match']:.1f} | {scores['f1']:.1f} | {train_seconds:.0f} s | {predict_seconds:.0f} s |")


if __name__ == "__main__":
    main()
