"""Small file helpers shared by every stage: atomic writes, JSON objects with clear errors.

Example:
    >>> with atomic_path("out/config.json") as tmp:
    ...     tmp.write_text("{}")
    >>> read_json_object("out/config.json")
    {}
"""

import contextlib
import ctypes
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

    Whatever was at `path` (a folder, a file) is swapped with the staging folder in one
    atomic rename (Linux `renameat2(RENAME_EXCHANGE)`), and then deleted: a kill at any
    moment leaves the previous content or the new one at `path`. Elsewhere it is moved
    aside until the staging folder is renamed into place. On an exception the staging
    folder is removed and `path` stays as it was: absent, or the previous content.

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
        if staging.is_dir() and not staging.is_symlink():
            shutil.rmtree(staging, ignore_errors=True)
        elif staging.exists() or staging.is_symlink():
            staging.unlink()  # a file that was at `path`, swapped out


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_RENAMEAT2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc >= 2.28


def _exchange(first, second):
    """Swaps two existing paths in one atomic step; False where the system cannot."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot swap
        return False
    raise OSError(error, os.strerror(error), str(second))


def _replace(staging, path):
    """Renames `staging` onto `path`: an atomic swap where the system has one (the previous
    content is then in `staging`, which the caller deletes), else moving `path` aside first."""
    if not (path.exists() or path.is_symlink()):
        os.rename(staging, path)
        return
    if _exchange(staging, path):
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
