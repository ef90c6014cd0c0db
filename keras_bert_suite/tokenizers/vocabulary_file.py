"""A WordPiece vocabulary read from `vocab.txt` (one token per line) or a list of tokens.

Lines are stripped of surrounding whitespace, as Google's `load_vocab` does; a token's id
is its line number minus one. A missing or empty file, an undecodable line or a token that
is not a string is refused with an error that names the file and the line. A blank line or
a repeated token loads as Google's `load_vocab` reads it, with a warning naming the line:
the blank line keeps its id (no text maps to it), and a repeated token's text maps to its
last line (Google's dict keeps the last); its earlier ids stay, and show that token.

Example:
    >>> vocabulary = load_vocabulary(["[PAD]", "[UNK]", "hello", "##s"])
    >>> vocabulary.index["hello"], vocabulary.tokens[3], vocabulary.source
    (2, '##s', 'the vocabulary list')
    >>> load_vocabulary(["[UNK]", "a", "a"]).index["a"]   # warns: index 2 repeats index 1
    2
"""

import dataclasses
import os
import pathlib
import warnings


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Tokens in id order, their reverse index, and where they came from (for errors)."""

    tokens: tuple
    index: dict
    source: str

    def matchable_tokens(self):
        """`tokens` with every id that text cannot reach (the earlier ids of a repeated token)
        replaced by a unique stand-in WordPiece cannot match: a WordPiece vocabulary must be unique.

        A stand-in is a token with spaces, and words never hold a space.
        """
        tokens = list(self.tokens)
        for token_id, token in enumerate(tokens):
            if self.index[token] != token_id:
                tokens[token_id] = f"[repeated {token} at id {token_id}]"
        return tokens


def load_vocabulary(vocabulary):
    """A `Vocabulary` from a path (`str` or `os.PathLike`) or a list/tuple of strings."""
    if isinstance(vocabulary, (str, os.PathLike)):
        return _read_file(pathlib.Path(vocabulary))
    if isinstance(vocabulary, (list, tuple)):
        return _check_tokens(list(vocabulary), "the vocabulary list", "index", first_position=0)
    raise ValueError(
        "`vocabulary` must be the path of a vocab.txt file or a list of token strings; "
        f"found a {type(vocabulary).__name__}."
    )


def _read_file(path):
    if not path.is_file():
        raise ValueError(
            f"Vocabulary file {path} does not exist. Pass the path of a WordPiece "
            "vocab.txt (one token per line), or a list of tokens."
        )
    lines = []
    with path.open("rb") as file:
        for line_number, raw_line in enumerate(file, start=1):
            try:
                lines.append(raw_line.decode("utf-8").strip())
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"Vocabulary file {path}, line {line_number}: not valid UTF-8 "
                    f"({error.reason} at byte {error.start}). Re-save the file as UTF-8."
                ) from None
    if not lines:
        raise ValueError(
            f"Vocabulary file {path} is empty: expected one WordPiece token per line "
            "(e.g. the vocab.txt of a BERT checkpoint)."
        )
    return _check_tokens(lines, f"Vocabulary file {path}", "line", first_position=1)


def _check_tokens(tokens, source, position_name, first_position):
    """Refuses non-strings; warns on blank and repeated tokens, naming the position."""
    if not tokens:
        raise ValueError(f"{source} is empty: expected at least the special tokens.")
    index = {}
    for token_id, token in enumerate(tokens):
        where = f"{source}, {position_name} {token_id + first_position}"
        if not isinstance(token, str):
            raise ValueError(f"{where}: expected a string token, found {token!r}.")
        if not token:
            warnings.warn(f"{where}: empty token; its id {token_id} stays unused (no text maps to it). "
                          "Remove blank lines unless a checkpoint counts on them.", stacklevel=4)
        elif token in index:
            warnings.warn(
                f"{where}: token {token!r} repeats {position_name} {index[token] + first_position}; text maps "
                f"to this later id {token_id}, as in Google's load_vocab. Every token should appear once.",
                stacklevel=4,
            )
        index[token] = token_id
    return Vocabulary(tokens=tuple(tokens), index=index, source=source)
