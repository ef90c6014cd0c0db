"""Learn a WordPiece vocabulary (vocab.txt) from plain-text files.

The `kbs build-vocab` recipe: the text is split into words exactly as `WordPieceTokenizer`
splits it (same cleaning, casing and accents), tensorflow-text's WordPiece learner picks
the pieces, and the file starts with `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` at ids
0..4. The result loads in `WordPieceTokenizer(path, lowercase=...)` and in
`kbs create-pretraining-data --vocab-file` (pass the same casing to both).

Example:
    $ kbs build-vocab --input-file "corpus/*.txt" --output-file vocab.txt --vocab-size 30522
    >>> size = build_vocab(["corpus.txt"], "vocab.txt", vocab_size=8000)  # at most 8000 tokens
    >>> WordPieceTokenizer("vocab.txt").vocabulary_size() == size
    True
"""

import argparse
import pathlib

from keras_bert_suite.recipes.text_files import expand_input_files, iter_lines
from keras_bert_suite.tokenizers.vocabulary_learning import learn_vocabulary
from keras_bert_suite.utils import atomic_write_text


def build_vocab(input_files, output_file, vocab_size=30522, lowercase=True, strip_accents=None, min_count=2):
    """Writes the learned vocabulary to `output_file` (atomically); returns its size."""
    tokens = learn_vocabulary(iter_lines(input_files), vocab_size, lowercase, strip_accents, min_count)
    atomic_write_text(output_file, "".join(token + "\n" for token in tokens))
    return len(tokens)


def add_arguments(parser):
    """Adds the `kbs build-vocab` flags."""
    parser.add_argument("--input-file", required=True,
                        help="text file(s): a path or glob, or several joined by commas")
    parser.add_argument("--output-file", required=True, type=pathlib.Path, help="vocab.txt to write")
    parser.add_argument("--vocab-size", type=int, default=30522,
                        help="largest vocabulary wanted (the learner lands up to 5%% below it)")
    parser.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=True,
                        help="lowercase the text (an uncased vocabulary); --no-lowercase keeps case")
    parser.add_argument("--strip-accents", action=argparse.BooleanOptionalAction, default=None,
                        help="drop accents; unset: same as --lowercase, as Google's tokenizer")
    parser.add_argument("--min-count", type=int, default=2,
                        help="a piece seen fewer times never enters the vocabulary")


def run(args):
    """Runs the recipe from parsed flags; returns {"vocabulary_size": n}."""
    files = expand_input_files(args.input_file)
    size = build_vocab(files, args.output_file, args.vocab_size, args.lowercase, args.strip_accents, args.min_count)
    print(f"Wrote a vocabulary of {size} tokens to {args.output_file}")
    return {"vocabulary_size": size}
