"""Small file helpers shared by every stage: atomic writes, JSON objects with clear errors.

Example:
    >>> with atomic_path("out/config.json") as tmp:
    ...     tmp.write_text("{}")
    >>> read_json_object("out/config.json")
    {}
"""

import contextlib
import json
import os
import pathlib
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it onto `path` only on success.

    A crash or exception leaves `path` untouched and removes the temporary file, so a
    reader never sees a half-written file.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = pathlib.Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path, text):
    """Writes `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json_object(path, remedy=""):
    """Reads a file holding one JSON object; a malformed file raises a ValueError naming it.

    `remedy` ends the message with what the user should do, e.g. "Delete it.".
    """
    path = pathlib.Path(path) if isinstance(path, str) else path  # also a package resource
    suffix = f" {remedy}" if remedy else ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON (line {error.lineno}: {error.msg}).{suffix}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, found {type(data).__name__}.{suffix}")
    return data
