"""Character tables for Google's BERT basic tokenizer, computed from Python's `unicodedata`.

Google's `tokenization.py` decides everything with `unicodedata` and Python's `str`
methods (`lower()`, `split()`, NFD). Asking the same sources gives the same answers, so
the tables are built here, once per process, and handed to TensorFlow as plain arrays:

* a property table over every code point (drop / whitespace / CJK / case bits) for the
  raw text, and one (punctuation / whitespace / combining mark + canonical combining
  class) for the normalized text; both are sorted range tables: `values[i]` holds for
  code points `starts[i] <= cp < starts[i + 1]`;
* a ragged mapping table `code point -> code points` for lowercasing and/or NFD, listing
  only the code points that change.

The Unicode version is the running Python's (`unicodedata.unidata_version`, 14.0.0 on
Python 3.11); a tokenizer saved to a SavedModel keeps the tables it was built with.

Example:
    >>> tables = raw_text_table()
    >>> int(tables.values[tables.starts.searchsorted(0x4E2D, "right") - 1]) & CJK
    4
"""

import dataclasses
import functools
import unicodedata

import numpy as np

MAX_CODE_POINT = 0x110000

# Bits of the raw-text table (a character of the input, before normalization).
DROP = 1  # Google's `_clean_text` removes it: U+0000, U+FFFD, Cc/Cf except \t \n \r.
WHITESPACE = 2  # Separates words: Google's `_is_whitespace` or Python's `str.split()`.
CJK = 4  # A CJK ideograph, which Google surrounds with spaces.
CASE_IGNORABLE = 8  # Skipped by Python's final-sigma rule in `str.lower()`.
CASED = 16  # Decides Python's final-sigma rule in `str.lower()`.

# Bits of the normalized-text table (a character after lowercasing / NFD).
PUNCTUATION = 1  # Split off as its own word (Google's `_is_punctuation`).
SPACE = 2  # Python whitespace: Google's final `whitespace_tokenize` splits on it.
NONSPACING_MARK = 4  # Category Mn, removed when stripping accents.
COMBINING_CLASS_SHIFT = 8  # Bits 8..15 hold the canonical combining class (NFD ordering).

# Google's `_is_chinese_char` ranges (Hangul and Kana are deliberately absent).
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
CAPITAL_SIGMA = 0x03A3
FINAL_SIGMA = 0x03C2


@dataclasses.dataclass(frozen=True)
class RangeTable:
    """`values[i]` holds for code points in `[starts[i], starts[i + 1])`."""

    starts: np.ndarray  # int32, sorted, starts[0] == 0
    values: np.ndarray  # int32


@dataclasses.dataclass(frozen=True)
class MappingTable:
    """Code points `keys[i]` map to `values[splits[i]:splits[i + 1]]`; others to themselves."""

    keys: np.ndarray  # int32, sorted
    splits: np.ndarray  # int32, len(keys) + 1
    values: np.ndarray  # int32


def _compress(per_code_point):
    change = np.flatnonzero(np.diff(per_code_point)) + 1
    starts = np.concatenate([[0], change]).astype(np.int32)
    return RangeTable(starts=starts, values=per_code_point[starts].astype(np.int32))


@functools.lru_cache(maxsize=None)
def _categories():
    return [unicodedata.category(chr(cp)) for cp in range(MAX_CODE_POINT)]


@functools.lru_cache(maxsize=None)
def _assigned_code_points():
    """Code points whose case, decomposition or class can differ from the default."""
    return [cp for cp, cat in enumerate(_categories()) if cat not in ("Cn", "Co", "Cs")]


def _final_sigma(text):
    return text.lower()[-1] == chr(FINAL_SIGMA)


@functools.lru_cache(maxsize=None)
def raw_text_table():
    """Properties of input characters: DROP, WHITESPACE, CJK, CASE_IGNORABLE, CASED."""
    categories = _categories()
    bits = np.zeros(MAX_CODE_POINT, np.int32)
    for cp in _assigned_code_points():
        char = chr(cp)
        category = categories[cp]
        if char in "\t\n\r " or category == "Zs":
            bits[cp] = WHITESPACE
        elif cp == 0 or cp == 0xFFFD or category in ("Cc", "Cf"):
            bits[cp] = DROP
        elif char.isspace():  # U+2028, U+2029: survive cleaning, split by str.split().
            bits[cp] = WHITESPACE
        # Python's `str.lower()` hides its Case_Ignorable / Cased properties; ask it.
        # Before a sigma, an ignorable character is skipped and a cased one triggers the
        # final form; with nothing before, only a cased (non-ignorable) one does.
        if _final_sigma("A" + char + "\u03a3") and not _final_sigma(char + "\u03a3"):
            bits[cp] |= CASE_IGNORABLE
        elif _final_sigma(char + "\u03a3"):
            bits[cp] |= CASED
    for first, last in CJK_RANGES:
        bits[first : last + 1] |= CJK
    return _compress(bits)


@functools.lru_cache(maxsize=None)
def normalized_text_table():
    """Properties of normalized characters: PUNCTUATION, SPACE, NONSPACING_MARK, class."""
    categories = _categories()
    bits = np.zeros(MAX_CODE_POINT, np.int32)
    for cp in _assigned_code_points():
        char = chr(cp)
        category = categories[cp]
        if category.startswith("P"):
            bits[cp] |= PUNCTUATION
        if char.isspace():
            bits[cp] |= SPACE
        if category == "Mn":
            bits[cp] |= NONSPACING_MARK
        bits[cp] |= unicodedata.combining(char) << COMBINING_CLASS_SHIFT
    for first, last in ((33, 47), (58, 64), (91, 96), (123, 126)):
        bits[first : last + 1] |= PUNCTUATION
    return _compress(bits)


@functools.lru_cache(maxsize=None)
def mapping_table(lowercase, decompose):
    """Per-character `str.lower()` and/or full canonical decomposition (NFD).

    The final sigma (U+03C2) maps to itself, so a caller that detected the final-sigma
    context can substitute it for U+03A3 before the lookup.
    """
    keys, splits, values = [], [0], []
    for cp in _assigned_code_points():
        text = chr(cp)
        if lowercase:
            text = text.lower()
        if decompose:
            text = unicodedata.normalize("NFD", text)
        if text != chr(cp):
            keys.append(cp)
            values.extend(ord(char) for char in text)
            splits.append(len(values))
    return MappingTable(
        keys=np.asarray(keys, np.int32),
        splits=np.asarray(splits, np.int32),
        values=np.asarray(values, np.int32),
    )
