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
import shutil
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it onto `path` only on success.

    A crash or exception leaves `path` untouched and removes the temporary file, so a
    reader never sees a half-written file. The temporary name ends in `path`'s suffix,
    for writers that check it (`model.save` wants `.keras`).
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
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


def is_occupied(path):
    """True for an existing file or symlink, or a folder with anything in it."""
    path = pathlib.Path(path)
    if path.is_dir() and not path.is_symlink():
        return any(path.iterdir())
    return path.exists() or path.is_symlink()


@contextlib.contextmanager
def atomic_directory(path):
    """Yields an empty staging folder beside `path`; on success it replaces `path`.

    Whatever was at `path` (a folder, a file) is moved aside until the staging folder
    is renamed into place, and then deleted. On an exception the staging folder is
    removed and `path` stays as it was: absent, or the previous content.

    Example:
        >>> with atomic_directory("out/preset") as staging:
        ...     (staging / "vocab.txt").write_text("[PAD]\\n")
        >>> sorted(p.name for p in pathlib.Path("out/preset").iterdir())
        ['vocab.txt']
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield staging
        _replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace(staging, path):
    """Renames `staging` onto `path`, moving an existing `path` aside until that succeeded."""
    if not (path.exists() or path.is_symlink()):
        os.rename(staging, path)
        return
    previous = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    previous.rmdir()
    os.rename(path, previous)
    try:
        os.rename(staging, path)
    except OSError:
        os.rename(previous, path)
        raise
    if previous.is_dir() and not previous.is_symlink():
        shutil.rmtree(previous)
    else:
        previous.unlink()


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
