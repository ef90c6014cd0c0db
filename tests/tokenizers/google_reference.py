"""Test oracle: a plain-Python reimplementation of Google's BERT `FullTokenizer`.

Written from the description of google-research/bert `tokenization.py` (BasicTokenizer
then WordpieceTokenizer), one character at a time with `unicodedata` and `str` methods,
so it shares no code with the vectorised layer it checks. `strip_accents` extends it the
way HF does (`None`: same as `lowercase`, Google's only behaviour).

Example:
    >>> oracle = GoogleFullTokenizer(["[UNK]", "hello", ",", "world", "!"])
    >>> oracle.tokenize("Hello, World!")
    ['hello', ',', 'world', '!']
"""

import unicodedata

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


def is_whitespace(char):
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def is_control(char):
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def is_punctuation(char):
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def is_cjk(char):
    code = ord(char)
    return any(first <= code <= last for first, last in CJK_RANGES)


def clean(text):
    """Drops U+0000, U+FFFD and control characters; whitespace becomes a space."""
    kept = []
    for char in text:
        if char in ("\x00", "\ufffd") or is_control(char):
            continue
        kept.append(" " if is_whitespace(char) else char)
    return "".join(kept)


def space_out_cjk(text):
    return "".join(f" {char} " if is_cjk(char) else char for char in text)


def strip_marks(text):
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def split_punctuation(token):
    pieces, current = [], ""
    for char in token:
        if is_punctuation(char):
            if current:
                pieces.append(current)
            pieces.append(char)
            current = ""
        else:
            current += char
    if current:
        pieces.append(current)
    return pieces


class GoogleFullTokenizer:
    """BasicTokenizer then greedy longest-match-first WordPiece, as Google wrote them."""

    def __init__(
        self,
        vocabulary,
        lowercase=True,
        strip_accents=None,
        max_input_chars_per_word=200,
        unknown_token="[UNK]",
    ):
        self.index = {token: i for i, token in enumerate(vocabulary)}
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.max_input_chars_per_word = max_input_chars_per_word
        self.unknown_token = unknown_token

    def normalize_token(self, token):
        """One whitespace token as Google normalizes it: `lower()` on the token (so the
        final-sigma rule sees only this token), then NFD minus nonspacing marks."""
        if self.lowercase:
            token = token.lower()
        if self.strip_accents:
            token = strip_marks(token)
        return token

    def basic_tokens(self, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        text = space_out_cjk(clean(text))
        words = []
        for token in text.split():
            words.extend(split_punctuation(self.normalize_token(token)))
        return " ".join(words).split()

    def wordpieces(self, word):
        if len(word) > self.max_input_chars_per_word:
            return [self.unknown_token]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                candidate = word[start:end] if start == 0 else "##" + word[start:end]
                if candidate in self.index:
                    pieces.append(candidate)
                    start = end
                    break
            else:
                return [self.unknown_token]
        return pieces

    def tokenize(self, text):
        return [piece for word in self.basic_tokens(text) for piece in self.wordpieces(word)]

    def ids(self, text):
        return [self.index[piece] for piece in self.tokenize(text)]
