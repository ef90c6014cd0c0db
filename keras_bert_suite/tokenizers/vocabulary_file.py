"""A WordPiece vocabulary read from `vocab.txt` (one token per line) or a list of tokens.

Lines are stripped of surrounding whitespace, as Google's `load_vocab` does; a token's id
is its line number minus one. A missing or empty file, a blank line, an undecodable line
or a repeated token is refused with an error that names the file and the line.

Example:
    >>> vocabulary = load_vocabulary(["[PAD]", "[UNK]", "hello", "##s"])
    >>> vocabulary.index["hello"], vocabulary.tokens[3], vocabulary.source
    (2, '##s', 'the vocabulary list')
"""

import dataclasses
import os
import pathlib


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Tokens in id order, their reverse index, and where they came from (for errors)."""

    tokens: tuple
    index: dict
    source: str


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
    """Refuses non-strings, empty tokens and duplicates, naming the position."""
    if not tokens:
        raise ValueError(f"{source} is empty: expected at least the special tokens.")
    index = {}
    for token_id, token in enumerate(tokens):
        where = f"{source}, {position_name} {token_id + first_position}"
        if not isinstance(token, str):
            raise ValueError(f"{where}: expected a string token, found {token!r}.")
        if not token:
            raise ValueError(
                f"{where}: empty token. Every {position_name} must hold one token; "
                "remove blank lines."
            )
        if token in index:
            raise ValueError(
                f"{where}: token {token!r} repeats {position_name} "
                f"{index[token] + first_position}. Every token must appear once."
            )
        index[token] = token_id
    return Vocabulary(tokens=tuple(tokens), index=index, source=source)
