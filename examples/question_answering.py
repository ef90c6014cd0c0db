"""Fine-tune extractive question answering (SQuAD v1.1) on the embedded MiniLM checkpoint.

Reads questions from the SQuAD v1.1 file `squad_v1.1/dev-v1.1-part1.json` of `--data-dir`
(by default the bundled sample in `examples/data`: the first 3 paragraphs of its first 8
articles, 215 questions, origin and licence in `examples/data/SOURCES`), trains a
`BertQuestionAnswerer` on the first `--max-examples` of them (contexts cut into
overlapping windows of `--sequence-length` pieces, as `run_squad.py` does), then answers
the next `--eval-examples` questions with `model.answer(...)` and scores them with the
official exact-match and F1. So little training gives low scores; `kbs squad` trains on a
whole file with the original settings (length 384, stride 128).

Takes about 2 minutes on 2 CPU cores with the defaults on the bundled sample (150
questions, 2 epochs, length 128), about 4 on the 24-article SQuAD v1.1 dev subset.

Run:
    python examples/question_answering.py                  # the bundled sample
    python examples/question_answering.py --data-dir DIR   # DIR/squad_v1.1/dev-v1.1-part1.json
    # a smoke test:
    python examples/question_answering.py --max-examples 16 --eval-examples 8 --epochs 1
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.recipes.squad_data import read_squad_file  # noqa: E402
from keras_bert_suite.recipes.squad_eval import exact_match_score, f1_score  # noqa: E402

BUNDLED_DATA = pathlib.Path(__file__).resolve().parent / "data"  # small samples, see data/SOURCES
SQUAD_FILE = pathlib.Path("squad_v1.1") / "dev-v1.1-part1.json"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", type=pathlib.Path, default=BUNDLED_DATA,
                        help=f"folder holding {SQUAD_FILE}")
    parser.add_argument("--max-examples", type=int, default=150, help="training questions")
    parser.add_argument("--eval-examples", type=int, default=50, help="questions to answer and score")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--doc-stride", type=int, default=64, help="context pieces between window starts")
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    args = parser.parse_args()
    started = time.time()
    keras.utils.set_random_seed(0)

    path = args.data_dir / SQUAD_FILE
    if not path.is_file():
        sys.exit(f"SQuAD file not found: {path} is missing. Point --data-dir at a folder that has it.")
    examples = read_squad_file(path, is_training=True).examples
    train = examples[: args.max_examples]
    evaluation = examples[args.max_examples : args.max_examples + args.eval_examples]

    preprocessor = kbs.BertQuestionAnswererPreprocessor.from_preset(
        args.preset, sequence_length=args.sequence_length, doc_stride=args.doc_stride, max_query_length=32)
    model = kbs.BertQuestionAnswerer.from_preset(args.preset, preprocessor=preprocessor)
    model.compile(learning_rate=args.learning_rate)
    questions, contexts = [e.question for e in train], [e.context for e in train]
    answers = ([e.answers[0]["answer_start"] for e in train], [e.answers[0]["text"] for e in train])
    print(f"training on {len(train)} questions, answering {len(evaluation)} others")
    model.fit((questions, contexts), answers, epochs=args.epochs, batch_size=args.batch_size)

    predicted = model.answer([e.question for e in evaluation], [e.context for e in evaluation])
    predicted = [best[0]["text"] if best else "" for best in predicted]
    golds = [[answer["text"] for answer in e.answers] for e in evaluation]
    if evaluation:
        exact = sum(max(exact_match_score(p, g) for g in gold) for p, gold in zip(predicted, golds))
        f1 = sum(max(f1_score(p, g, version_2=False) for g in gold) for p, gold in zip(predicted, golds))
        print(f"exact match {100 * exact / len(evaluation):.1f}, F1 {100 * f1 / len(evaluation):.1f} "
              f"on {len(evaluation)} questions")
    for example, answer, gold in list(zip(evaluation, predicted, golds))[:5]:
        print(f"\nQ: {example.question}\n  predicted: {answer!r}\n  gold: {gold[0]!r}")
    print(f"\ndone in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
