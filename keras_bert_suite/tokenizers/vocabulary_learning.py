"""Learn a WordPiece vocabulary from text, on the words our tokenizer sees.

Words come from this package's `BasicTokenizer` (Google's cleaning, CJK split, casing,
accents, punctuation), so the vocabulary fits `WordPieceTokenizer` exactly; the pieces are
chosen by tensorflow-text's WordPiece learner (`wordpiece_tokenizer_learner_lib.learn`,
the algorithm behind `bert_vocab_from_dataset`). We do not call `bert_vocab_from_dataset`
itself because it splits words with tf-text's `BasicTokenizer`, which normalizes text
differently from Google's (see `normalization.py`). The reserved tokens come first, at ids
0..4: `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`; then every single character and its
`##` form; then the learned pieces, most frequent first.

Example:
    >>> tokens = learn_vocabulary(["The cat sat.", "The cats sat down."], vocab_size=60)
    >>> tokens[:5]
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    >>> "##s" in tokens and "sat" in tokens
    True
"""

import collections
import itertools

import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

from keras_bert_suite.tokenizers.normalization import BasicTokenizer

RESERVED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
LINES_PER_BATCH = 4096


def count_words(lines, lowercase=True, strip_accents=None):
    """`Counter` of the basic tokenizer's words over an iterable of strings (read lazily)."""
    basic_tokenizer = BasicTokenizer(lowercase, strip_accents)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def words_of(batch):
        return tf.strings.unicode_encode(basic_tokenizer(batch).codepoints, "UTF-8")

    counts = collections.Counter()
    lines = iter(lines)
    while batch := list(itertools.islice(lines, LINES_PER_BATCH)):
        counts.update(words_of(tf.constant(batch, tf.string)).numpy().tolist())
    return collections.Counter({word.decode("utf-8"): count for word, count in counts.items()})


def learn_vocabulary(lines, vocab_size, lowercase=True, strip_accents=None, min_count=2,
                     reserved_tokens=RESERVED_TOKENS):
    """A WordPiece vocabulary (list of at most `vocab_size` tokens) learned from `lines`.

    Args:
        lines: iterable of strings (e.g. the lines of text files), read once, lazily.
        vocab_size: the largest vocabulary wanted; the learner lands within 5% below it
            when the text has enough distinct pieces, and smaller when it has not.
        lowercase, strip_accents: as `WordPieceTokenizer`; use the same values there.
        min_count: the learner's lowest frequency threshold: a piece seen fewer times
            never enters (tf-text's default, 10, leaves a small corpus with little more
            than its characters). Every character enters (the 1000 most frequent).
        reserved_tokens: the first tokens, in this order.
    """
    reserved_tokens = list(reserved_tokens)
    if vocab_size <= len(reserved_tokens):
        raise ValueError(
            f"--vocab-size must exceed the {len(reserved_tokens)} reserved tokens {reserved_tokens}; "
            f"found {vocab_size}. BERT uses 30522."
        )
    if min_count < 1:
        raise ValueError(f"--min-count must be at least 1, found {min_count}.")
    counts = count_words(lines, lowercase, strip_accents)
    if not counts:
        raise ValueError("The text holds no words to learn a vocabulary from; pass non-empty text files.")
    return learner.learn(counts, vocab_size, reserved_tokens, lower_thresh=min_count)
