"""BERT pre-training instances (sentence pair + masked pieces) from tokenized documents.

The algorithm of google-research/bert `create_pretraining_data.py`, in plain Python over
token ids. A document is a list of sentences, a sentence a list of piece ids.

- Target length: `max_seq_length - 3` pieces (room for [CLS] and two [SEP]); with
  probability `short_seq_prob` a random length in `[2, max_seq_length - 3]` instead,
  drawn once per document.
- Sentences are gathered until the target is reached (or the document ends); segment A
  is the first 1..n-1 of them, split at a random sentence boundary.
- B is the rest (next sentence, label 0), or, half of the time and always when only one
  sentence was gathered, text from a random other document of the pool starting at a
  random sentence (label 1); then the sentences not used as A are put back, so they
  start the next pair.
- The longer side loses a piece, from the front or the back at random, until the pair
  fits.
- Masking: `min(max_predictions_per_seq, max(1, round(len(tokens) * masked_lm_prob)))`
  positions, never [CLS] or [SEP]; of those 80% become [MASK], 10% stay, 10% become a
  random vocabulary id. With whole-word masking, a piece and the `##` pieces after it
  are one candidate, masked together or not at all.

Every random draw comes from the `random.Random` passed in, in the original's order,
so a seed gives the same instances.

Example:
    >>> spec = TokenSpec(cls_id=2, sep_id=3, mask_id=4, vocab_size=100, continuation_ids=frozenset())
    >>> documents = [[[10, 11], [12, 13]], [[20, 21, 22]]]
    >>> instances = document_instances(documents, 0, spec, InstanceOptions(max_seq_length=16), random.Random(1))
    >>> instances[0].tokens[0], instances[0].tokens[-1]
    (2, 3)
"""

import dataclasses
import random
from typing import NamedTuple


class TokenSpec(NamedTuple):
    """The ids the algorithm needs: specials, vocabulary size, and the `##` pieces."""

    cls_id: int
    sep_id: int
    mask_id: int
    vocab_size: int
    continuation_ids: frozenset


@dataclasses.dataclass(frozen=True)
class InstanceOptions:
    """The original's flags that shape an instance (same names, same defaults)."""

    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    do_whole_word_mask: bool = False

    def __post_init__(self):
        checks = (
            (self.max_seq_length >= 5, "--max-seq-length must be at least 5 ([CLS] A [SEP] B [SEP] with 2 "
                                       "pieces of text)", self.max_seq_length),
            (self.max_predictions_per_seq >= 1, "--max-predictions-per-seq must be at least 1",
             self.max_predictions_per_seq),
            (0 < self.masked_lm_prob <= 1, "--masked-lm-prob must be in (0, 1]", self.masked_lm_prob),
            (0 <= self.short_seq_prob <= 1, "--short-seq-prob must be in [0, 1]", self.short_seq_prob),
        )
        for valid, rule, found in checks:
            if not valid:
                raise ValueError(f"{rule}; found {found}.")


class Instance(NamedTuple):
    """One pair: ids with [CLS]/[SEP] (masked), segment ids, masked positions and their original ids."""

    tokens: list
    segment_ids: list
    masked_lm_positions: list
    masked_lm_ids: list
    is_random_next: bool


def pool_instances(documents, spec, options, rng):
    """The instances of every document of `documents` (one pass, one dupe), in order."""
    instances = []
    for index in range(len(documents)):
        instances.extend(document_instances(documents, index, spec, options, rng))
    return instances


def document_instances(documents, index, spec, options, rng):
    """The instances of `documents[index]`; random-next text comes from the other documents."""
    document = documents[index]
    max_num_tokens = options.max_seq_length - 3
    target_length = max_num_tokens
    if rng.random() < options.short_seq_prob:
        target_length = rng.randint(2, max_num_tokens)
    instances = []
    chunk, chunk_length, i = [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        chunk_length += len(document[i])
        if i == len(document) - 1 or chunk_length >= target_length:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            tokens_a = [token for sentence in chunk[:a_end] for token in sentence]
            is_random_next = len(chunk) == 1 or rng.random() < 0.5
            if is_random_next:
                tokens_b = _random_next(documents, index, target_length - len(tokens_a), rng)
                i -= len(chunk) - a_end  # Put the unused sentences back.
            else:
                tokens_b = [token for sentence in chunk[a_end:] for token in sentence]
            truncate_pair(tokens_a, tokens_b, max_num_tokens, rng)
            tokens = [spec.cls_id, *tokens_a, spec.sep_id, *tokens_b, spec.sep_id]
            segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
            tokens, positions, labels = mask_tokens(tokens, spec, options, rng)
            instances.append(Instance(tokens, segment_ids, positions, labels, is_random_next))
            chunk, chunk_length = [], 0
        i += 1
    return instances


def _random_next(documents, index, target_length, rng):
    """Pieces from a random other document (10 tries to avoid `index`), from a random sentence on."""
    for _ in range(10):
        other = rng.randint(0, len(documents) - 1)
        if other != index:
            break
    document = documents[other]
    tokens = []
    for sentence in document[rng.randint(0, len(document) - 1):]:
        tokens.extend(sentence)
        if len(tokens) >= target_length:
            break
    return tokens


def truncate_pair(tokens_a, tokens_b, max_num_tokens, rng):
    """Trims the longer of the two lists in place, front or back at random, until both fit."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def mask_tokens(tokens, spec, options, rng):
    """`(masked tokens, sorted positions, original ids at those positions)`."""
    candidates = []
    for position, token in enumerate(tokens):
        if token in (spec.cls_id, spec.sep_id):
            continue
        if options.do_whole_word_mask and candidates and token in spec.continuation_ids:
            candidates[-1].append(position)
        else:
            candidates.append([position])
    rng.shuffle(candidates)
    num_to_predict = min(options.max_predictions_per_seq, max(1, round(len(tokens) * options.masked_lm_prob)))
    output = list(tokens)
    masked = {}
    for group in candidates:
        if len(masked) >= num_to_predict:
            break
        if len(masked) + len(group) > num_to_predict:
            continue  # A whole word that does not fit is skipped, as in the original.
        for position in group:
            if rng.random() < 0.8:
                output[position] = spec.mask_id
            elif rng.random() < 0.5:
                output[position] = tokens[position]
            else:
                output[position] = rng.randint(0, spec.vocab_size - 1)
            masked[position] = tokens[position]
    positions = sorted(masked)
    return output, positions, [masked[position] for position in positions]
