"""Fill in `[MASK]` tokens with `BertMaskedLM.fill_mask`, on the embedded MiniLM or any preset.

A BERT checkpoint released with its masked-LM head (`bert_base_uncased` and the other
Google presets) fills masks out of the box: run with `--preset bert_base_uncased`
(a 408 MB download). The embedded MiniLM (sentence-transformers all-MiniLM-L6-v2) ships
WITHOUT that head, so this script first says so, then trains the head alone (backbone
frozen; the output layer is tied to the word embeddings) for `--epochs` on
`--max-examples` SST-2 sentences from `sst2/dev.tsv` in `--data-dir` (by default the
bundled sample in `examples/data`: the first 600 dev sentences, origin and licence in
`examples/data/SOURCES`), with fresh random masks every epoch. That is enough for
frequent words and punctuation, not for a good language model.

Takes about 2 minutes on 2 CPU cores with the defaults (400 sentences, 2 epochs, length 64).

Run:
    python examples/fill_mask.py                  # the bundled sample
    python examples/fill_mask.py --data-dir DIR   # DIR/sst2/dev.tsv: the full GLUE SST-2 dev
    # a smoke test:
    python examples/fill_mask.py --max-examples 16 --epochs 1
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
from keras_bert_suite.recipes.glue_data import read_glue  # noqa: E402

BUNDLED_DATA = pathlib.Path(__file__).resolve().parent / "data"  # small samples, see data/SOURCES
MASKED_SENTENCES = [
    "The capital of France is [MASK].",
    "This movie was [MASK] , i loved every minute of it .",
    "She poured a cup of [MASK] and sat down to read.",
    "It was the [MASK] film i have seen this year [MASK]",
]


def head_is_untrained(model):
    """A freshly initialised masked-LM head has an all-zero output bias; a released one never."""
    output_bias = model.head_checkpoint_variables()["cls/predictions/output_bias"]
    return not np.any(keras.ops.convert_to_numpy(output_bias))


def train_head(model, args):
    """Trains the masked-LM head on SST-2 sentences with the backbone frozen."""
    folder = args.data_dir / "sst2"
    if not (folder / "dev.tsv").is_file():
        sys.exit(f"SST-2 file not found: {folder / 'dev.tsv'} is missing (needed to train the head). "
                 "Point --data-dir at a folder that has it, or use a preset with a masked-LM head.")
    sentences = [e.text_a for e in read_glue("sst-2", folder, "dev")][: args.max_examples]
    model.backbone.trainable = False
    model.compile(learning_rate=args.learning_rate)
    print(f"training the masked-LM head on {len(sentences)} SST-2 sentences (backbone frozen)")
    model.fit(sentences, epochs=args.epochs, batch_size=args.batch_size)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", type=pathlib.Path, default=BUNDLED_DATA,
                        help="folder holding sst2/dev.tsv")
    parser.add_argument("--max-examples", type=int, default=400, help="sentences to train an untrained head on")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="peak rate for the head alone")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    args = parser.parse_args()
    started = time.time()
    keras.utils.set_random_seed(0)

    model = kbs.BertMaskedLM.from_preset(args.preset, sequence_length=args.sequence_length)
    if head_is_untrained(model):
        print(f"\nThe preset {args.preset!r} has no masked-LM head: its predictions would be random. "
              "Training one briefly; for real fill-mask results use --preset bert_base_uncased.\n")
        train_head(model, args)

    for sentence, masks in zip(MASKED_SENTENCES, model.fill_mask(MASKED_SENTENCES, top_k=args.top_k)):
        print(f"\n{sentence}")
        for index, candidates in enumerate(masks):
            guesses = ", ".join(f"{c['token']} ({c['score']:.2f})" for c in candidates)
            print(f"  [MASK] {index + 1}: {guesses}")
    print(f"\ndone in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
