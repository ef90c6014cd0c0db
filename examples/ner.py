"""Fine-tune named-entity tagging (CoNLL-2003 sample) on the embedded MiniLM checkpoint.

Reads the CoNLL-2003 sentences (JSON Lines, `{"words", "ner"}`) in
`hf_tests_samples/conll/sample.json` of `--data-dir` (by default `examples/data`, which
carries that transformers test fixture; origin and licence in `examples/data/SOURCES`),
trains a `BertTokenClassifier` (each word's tag sits on its first word piece), then tags
the same sentences with `model.tag(...)` and scores them with CoNLL's entity-level F1. The
sample holds only 10 sentences, so this shows the workflow and the model memorising them,
not generalisation (hence more epochs than the other examples); `kbs ner` trains on the
full CoNLL files.

Takes about 2 minutes on 2 CPU cores with the defaults (10 sentences, 20 epochs, length 64).

Run:
    python examples/ner.py                  # the bundled sample
    python examples/ner.py --data-dir DIR   # DIR/hf_tests_samples/conll/sample.json
    # a smoke test:
    python examples/ner.py --max-examples 4 --epochs 1
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.recipes.ner_data import label_list, read_ner_jsonl  # noqa: E402
from keras_bert_suite.recipes.ner_metrics import evaluate_ner  # noqa: E402

BUNDLED_DATA = pathlib.Path(__file__).resolve().parent / "data"  # small samples, see data/SOURCES
CONLL_FILE = pathlib.Path("hf_tests_samples") / "conll" / "sample.json"


def tagged(words, tags):
    """The sentence with each entity word written `word/TAG`."""
    return " ".join(word if tag == "O" else f"{word}/{tag}" for word, tag in zip(words, tags))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", type=pathlib.Path, default=BUNDLED_DATA,
                        help=f"folder holding {CONLL_FILE}")
    parser.add_argument("--max-examples", type=int, default=10, help="sentences to train on and tag")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    args = parser.parse_args()
    started = time.time()
    keras.utils.set_random_seed(0)

    path = args.data_dir / CONLL_FILE
    if not path.is_file():
        sys.exit(f"CoNLL sample not found: {path} is missing. Point --data-dir at a folder that has it.")
    sentences = read_ner_jsonl(path)[: args.max_examples]
    labels = label_list(sentences)
    print(f"{len(sentences)} sentences, tags {labels}")

    model = kbs.BertTokenClassifier.from_preset(
        args.preset, num_classes=len(labels), labels=labels, sequence_length=args.sequence_length)
    model.compile(learning_rate=args.learning_rate)
    words = [sentence.words for sentence in sentences]
    tag_ids = [[labels.index(tag) for tag in sentence.tags] for sentence in sentences]
    model.fit(words, tag_ids, epochs=args.epochs, batch_size=args.batch_size, verbose=2)

    predicted = model.tag(words)
    scores = evaluate_ner([sentence.tags for sentence in sentences], predicted)
    print(f"entity precision {scores.overall.precision:.3f}, recall {scores.overall.recall:.3f}, "
          f"F1 {scores.overall.f1:.3f}; token accuracy {scores.accuracy:.3f} (on the training sentences)")
    for sentence, tags in list(zip(sentences, predicted))[:3]:
        print(f"\n     gold: {tagged(sentence.words, sentence.tags)}\npredicted: {tagged(sentence.words, tags)}")
    print(f"\ndone in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
