"""Fine-tune a sentiment classifier (SST-2 sentences) on the embedded MiniLM checkpoint.

Splits the GLUE SST-2 dev sentences in `sst2/dev.tsv` of `--data-dir` (by default the
bundled sample in `examples/data`: the first 600 of the 872, all that the defaults use;
origin and licence in `examples/data/SOURCES`) into a training part (`--max-examples`
sentences) and a held-out part (the next `--eval-examples`), fine-tunes a
`BertClassifier` on raw strings (AdamW, warmup, linear decay), reports held-out accuracy
and classifies a few new sentences. `--dataset demo` uses the package's template dataset
instead. `--export-dir` also writes a SavedModel serving strings.

Takes about 3 minutes on 2 CPU cores with the defaults (400 sentences, 2 epochs, length 64).

Run:
    python examples/classify_single.py                  # the bundled sample
    python examples/classify_single.py --data-dir DIR   # DIR/sst2/dev.tsv: the full GLUE SST-2 dev
    # a smoke test:
    python examples/classify_single.py --max-examples 16 --eval-examples 16 --epochs 1 --sequence-length 32
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.recipes.demo_data import write_demo_dataset  # noqa: E402
from keras_bert_suite.recipes.glue_data import read_glue  # noqa: E402

BUNDLED_DATA = pathlib.Path(__file__).resolve().parent / "data"  # small samples, see data/SOURCES
NEW_SENTENCES = [
    "A warm, funny and beautifully acted film.",
    "Two hours of my life I will never get back.",
    "The plot is thin, but the music is gorgeous.",
]


def load_sentences(args):
    """`(texts, labels)` of the chosen dataset, all labelled sentences in file order."""
    if args.dataset == "demo":
        with tempfile.TemporaryDirectory() as scratch:
            folder = write_demo_dataset(pathlib.Path(scratch) / "demo")
            examples = read_glue("sst-2", folder, "train") + read_glue("sst-2", folder, "dev")
    else:
        folder = args.data_dir / "sst2"
        if not (folder / "dev.tsv").is_file():
            sys.exit(f"SST-2 file not found: {folder / 'dev.tsv'} is missing. Point --data-dir at a "
                     "folder that has it, or run with --dataset demo.")
        examples = read_glue("sst-2", folder, "dev")
    return [e.text_a for e in examples], np.array([int(e.label) for e in examples])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--dataset", choices=("sst2", "demo"), default="sst2")
    parser.add_argument("--data-dir", type=pathlib.Path, default=BUNDLED_DATA,
                        help="folder holding sst2/dev.tsv")
    parser.add_argument("--max-examples", type=int, default=400, help="training sentences")
    parser.add_argument("--eval-examples", type=int, default=200, help="held-out sentences")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    parser.add_argument("--export-dir", type=pathlib.Path, help="also export a string-serving SavedModel here")
    args = parser.parse_args()
    started = time.time()
    keras.utils.set_random_seed(0)

    texts, labels = load_sentences(args)
    train = slice(0, args.max_examples)
    held_out = slice(args.max_examples, args.max_examples + args.eval_examples)
    print(f"{len(texts[train])} training and {len(texts[held_out])} held-out sentences ({args.dataset})")

    model = kbs.BertClassifier.from_preset(args.preset, num_classes=2, sequence_length=args.sequence_length)
    model.fit(texts[train], labels[train], epochs=args.epochs, batch_size=args.batch_size)
    if texts[held_out]:
        loss, accuracy = model.evaluate(texts[held_out], labels[held_out], batch_size=args.batch_size, verbose=0)
        print(f"held-out loss {loss:.4f}, accuracy {accuracy:.4f}")

    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(NEW_SENTENCES, verbose=0)))
    for sentence, (_, positive) in zip(NEW_SENTENCES, probabilities):
        print(f"p(positive)={positive:.3f}  {sentence}")

    if args.export_dir:
        from keras_bert_suite.export import export_saved_model

        export_saved_model(model, args.export_dir, overwrite=True)
        print(f"SavedModel written to {args.export_dir}: "
              "tf.saved_model.load(path).signatures['serving_default'](text=tf.constant([...]))")
    print(f"done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
