"""Hidden states and sentence embeddings from the embedded MiniLM backbone, and a small search.

1. Runs `BertBackbone(output_hidden_states=True)` on two sentences and prints what comes
   out: `sequence_output` (last layer, every piece), `pooled_output` (tanh dense on
   `[CLS]`) and `hidden_states` (the embeddings, then every encoder layer).
2. Mean-pools the last layer over the real pieces (how MiniLM was trained for sentence
   embeddings) and prints the cosine similarities of a few sentences.
3. Embeds `--max-examples` SST-2 sentences from `sst2/dev.tsv` in `--data-dir` (by
   default the bundled sample in `examples/data`: the first 600 of the 872 dev sentences,
   origin and licence in `examples/data/SOURCES`) and prints the nearest ones to a few
   queries.

The command line writes the original `extract_features.py` JSON Lines (chosen layers,
every word piece) for a text file, one text (or `text_a ||| text_b`) per line:

    kbs extract-features --input-file input.txt --output-file features.jsonl --layers -1,-2,-3,-4

Takes about 1 minute on 2 CPU cores with the defaults (300 sentences, length 64).

Run:
    python examples/feature_extraction.py                  # the bundled sample
    python examples/feature_extraction.py --data-dir DIR   # DIR/sst2/dev.tsv: the full GLUE SST-2 dev
    # a smoke test:
    python examples/feature_extraction.py --max-examples 16
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
SENTENCES = [
    "A man is playing a guitar.",
    "Someone is playing an instrument.",
    "The stock market fell sharply today.",
    "Shares dropped steeply this afternoon.",
]
QUERIES = ["a moving and beautiful film", "boring and far too long"]


def embed(backbone, preprocessor, texts, batch_size):
    """Unit-length mean-pooled last-layer vectors, `[len(texts), hidden]`."""
    vectors = []
    for start in range(0, len(texts), batch_size):
        inputs = preprocessor(texts[start : start + batch_size])
        hidden = keras.ops.convert_to_numpy(backbone(inputs)["sequence_output"])
        mask = keras.ops.convert_to_numpy(inputs["padding_mask"])[..., None].astype(hidden.dtype)
        vectors.append((hidden * mask).sum(axis=1) / mask.sum(axis=1))
    vectors = np.concatenate(vectors)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", type=pathlib.Path, default=BUNDLED_DATA,
                        help="folder holding sst2/dev.tsv")
    parser.add_argument("--max-examples", type=int, default=300, help="SST-2 sentences to search")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    args = parser.parse_args()
    started = time.time()

    folder = args.data_dir / "sst2"
    if not (folder / "dev.tsv").is_file():
        sys.exit(f"SST-2 file not found: {folder / 'dev.tsv'} is missing. Point --data-dir at a folder "
                 "that has it.")
    backbone = kbs.BertBackbone.from_preset(args.preset, output_hidden_states=True)
    preprocessor = kbs.BertClassifierPreprocessor.from_preset(args.preset, sequence_length=args.sequence_length)

    print("1. Backbone outputs for two sentences")
    outputs = backbone(preprocessor(SENTENCES[:2]))
    for name, value in outputs.items():
        print(f"  {name:16s} {tuple(value.shape)}")
    print(f"  (hidden_states: the embeddings + {backbone.num_layers} layers; sequence_output is the last)")

    print("\n2. Cosine similarities of mean-pooled sentence embeddings")
    vectors = embed(backbone, preprocessor, SENTENCES, args.batch_size)
    width = max(len(s) for s in SENTENCES)
    for sentence, row in zip(SENTENCES, vectors @ vectors.T):
        print(f"  {sentence:<{width}}  " + "  ".join(f"{value:5.2f}" for value in row))

    corpus = [e.text_a for e in read_glue("sst-2", folder, "dev")][: args.max_examples]
    print(f"\n3. Nearest of {len(corpus)} SST-2 sentences")
    corpus_vectors = embed(backbone, preprocessor, corpus, args.batch_size)
    for query, query_vector in zip(QUERIES, embed(backbone, preprocessor, QUERIES, args.batch_size)):
        similarities = corpus_vectors @ query_vector
        print(f"  query: {query}")
        for index in np.argsort(-similarities)[:3]:
            print(f"    {similarities[index]:.2f}  {corpus[index]}")
    print(f"\ndone in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
