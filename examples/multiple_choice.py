"""Fine-tune multiple choice (SWAG sample) on the embedded MiniLM checkpoint.

Reads SWAG examples (JSON Lines, `{"sent1", "sent2", "ending0".."ending3", "label"}`) in
`hf_tests_samples/swag/sample.json` of `--data-dir` (by default `examples/data`, which
carries that transformers test fixture; origin and licence in `examples/data/SOURCES`),
trains a `BertMultipleChoice` (every `[CLS] context [SEP] start + ending [SEP]` pair gets
one score; softmax over the four), then prints each example's choice probabilities. The
sample holds only 10 examples, so this shows the workflow and the model fitting them, not
generalisation (hence more epochs than the other examples); `kbs swag` trains on the full
SWAG files.

Takes about 2 minutes on 2 CPU cores with the defaults (10 examples, 10 epochs, length 64).

Run:
    python examples/multiple_choice.py                  # the bundled sample
    python examples/multiple_choice.py --data-dir DIR   # DIR/hf_tests_samples/swag/sample.json
    # a smoke test:
    python examples/multiple_choice.py --max-examples 4 --epochs 1 --sequence-length 32
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.recipes.swag_data import read_swag  # noqa: E402

BUNDLED_DATA = pathlib.Path(__file__).resolve().parent / "data"  # small samples, see data/SOURCES
SWAG_FILE = pathlib.Path("hf_tests_samples") / "swag" / "sample.json"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", type=pathlib.Path, default=BUNDLED_DATA,
                        help=f"folder holding {SWAG_FILE}")
    parser.add_argument("--max-examples", type=int, default=10, help="examples to train on and score")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    args = parser.parse_args()
    started = time.time()
    keras.utils.set_random_seed(0)

    path = args.data_dir / SWAG_FILE
    if not path.is_file():
        sys.exit(f"SWAG sample not found: {path} is missing. Point --data-dir at a folder that has it.")
    examples = read_swag(path)[: args.max_examples]
    contexts = [e.context for e in examples]
    choices = [e.choices for e in examples]
    labels = np.array([e.label for e in examples])
    print(f"{len(examples)} examples with {len(choices[0])} choices each")

    model = kbs.BertMultipleChoice.from_preset(
        args.preset, num_choices=len(choices[0]), sequence_length=args.sequence_length)
    model.compile(learning_rate=args.learning_rate)
    model.fit((contexts, choices), labels, epochs=args.epochs, batch_size=args.batch_size, verbose=2)

    logits = model.predict((contexts, choices), batch_size=args.batch_size, verbose=0)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    print(f"accuracy {np.mean(logits.argmax(axis=-1) == labels):.2f} (on the training examples)")
    for example, row in list(zip(examples, probabilities))[:3]:
        print(f"\n{example.context}")
        for index, (choice, probability) in enumerate(zip(example.choices, row)):
            mark = "*" if index == example.label else " "
            print(f" {mark} {probability:.2f}  {choice}")
    print("\n(* marks the right ending)")
    print(f"done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
