"""Plain-text corpora: comma-separated glob patterns to files, and their lines read lazily.

`--input-file` of `kbs create-pretraining-data` and `kbs build-vocab` takes what the
original `create_pretraining_data.py` takes: one path or glob, or several joined by
commas. Files are read as UTF-8 one line at a time, so a corpus of any size costs the
memory of one line; a line that is not UTF-8 raises `DataFileError` naming it.

Example:
    >>> files = expand_input_files("wiki/*.txt,books/part-0.txt")
    >>> for line in iter_lines(files): ...
"""

import glob
import pathlib

from keras_bert_suite.recipes.errors import DataFileError


def expand_input_files(patterns):
    """The files matched by comma-separated glob `patterns`, in pattern order, each
    pattern's matches sorted (so a run does not depend on the file system's order)."""
    files = []
    for pattern in str(patterns).split(","):
        pattern = pattern.strip()
        if not pattern:
            continue
        matches = sorted(pathlib.Path(match) for match in glob.glob(pattern) if pathlib.Path(match).is_file())
        if not matches:
            raise FileNotFoundError(
                f"--input-file pattern {pattern!r} matches no file; pass text files (one sentence per line, "
                "a blank line between documents) as paths or globs joined by commas."
            )
        files.extend(matches)
    if not files:
        raise ValueError(f"--input-file names no file (found {str(patterns)!r}); pass paths or globs joined by commas.")
    return files


def iter_lines(files):
    """Yields every line of `files`, in order, stripped of surrounding whitespace."""
    for path in files:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    yield raw.decode("utf-8").strip()
                except UnicodeDecodeError as error:
                    raise DataFileError(path, number, f"not valid UTF-8 ({error.reason} at byte {error.start}); "
                                        "save the file as UTF-8") from None
