"""Download checkpoint zips into a local cache once, verify them, and unpack them safely.

Layout of the cache (`$KERAS_BERT_SUITE_HOME`, default `~/.cache/keras_bert_suite`):
`downloads/<name>.zip` (a download grows in a hidden file beside it and is renamed only
when complete), `checksums.json` (the sha256 recorded on first download, re-verified on
every later use) and `extracted/<name>/` (unpacked beside, then renamed into place). An offline
machine works too: put the zip (or the unpacked folder) where the error message says.

Example:
    >>> folder = download_preset(
    ...     "https://storage.googleapis.com/bert_models/2020_02_20/uncased_L-2_H-128_A-2.zip",
    ...     name="bert_tiny_uncased.zip")
    >>> sorted(p.name for p in folder.iterdir())[:2]
    ['bert_config.json', 'bert_model.ckpt.data-00000-of-00001']
"""

import hashlib
import http.client
import json
import os
import pathlib
import re
import stat
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib

from tqdm import tqdm

from keras_bert_suite.utils import atomic_directory, atomic_path, atomic_write_text, read_json_object

CACHE_ENV = "KERAS_BERT_SUITE_HOME"
_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 60
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


class DownloadError(ConnectionError):
    """A download failed; the message names the URL and where to place the file by hand."""


class ChecksumError(ValueError):
    """A downloaded or cached file's sha256 differs from the expected one."""


class ArchiveError(ValueError):
    """A zip holds a member that would land outside its target folder."""


class CorruptArchiveError(ArchiveError):
    """A file is not a readable zip archive."""


def cache_dir():
    """The cache root: `$KERAS_BERT_SUITE_HOME`, else `~/.cache/keras_bert_suite`."""
    return pathlib.Path(os.environ.get(CACHE_ENV) or pathlib.Path.home() / ".cache" / "keras_bert_suite").expanduser()


def default_archive_name(url):
    """Cache file name for a URL: its file stem plus 8 hex digits of the URL's hash.

    The hash keeps two URLs ending in the same file name (Google published two different
    `uncased_L-12_H-768_A-12.zip`) from sharing a cache entry.
    """
    basename = pathlib.PurePosixPath(urllib.parse.urlparse(url).path).name
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", basename.removesuffix(".zip")) or "archive"
    return f"{stem}-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:8]}.zip"


def fetch_archive(url, name=None, expected_sha256=None, progress=True):
    """Returns the path of `url`'s file in `<cache>/downloads/`, downloading it if absent.

    The file is checked against `expected_sha256`, else against the hash recorded in
    `<cache>/checksums.json` on its first download; a mismatch deletes the file and
    raises `ChecksumError`. A file placed in the cache by hand is used without network.

    Args:
        url: `http(s)://` or `file://` URL of the archive.
        name: file name in the cache; defaults to `default_archive_name(url)`.
        expected_sha256: hex digest the file must have; None trusts the first download.
        progress: show a tqdm bar (only when stderr is a terminal).
    """
    name = _plain_file_name(name or default_archive_name(url))
    path = cache_dir() / "downloads" / name
    records = _read_checksums()
    recorded = records.get(name, {}).get("sha256")
    expected = (expected_sha256 or recorded or "").lower()
    found = _sha256_of(path) if path.is_file() else _download(url, path, progress)
    if expected and found != expected:
        path.unlink()
        origin = "given" if expected_sha256 else f"recorded on first download in {_checksums_path()}"
        advice = "The file was removed; run again to download a fresh copy."
        if not expected_sha256:
            advice += f" If the file changed upstream on purpose, delete the entry {name!r} there."
        raise ChecksumError(
            f"sha256 mismatch for {path} (from {url}): expected {expected} ({origin}), found {found}. {advice}"
        )
    if records.get(name) != {"url": url, "sha256": found}:
        _write_checksums({**records, name: {"url": url, "sha256": found}})
    return path


def extract_archive(zip_path, target_dir):
    """Unpacks the zip `zip_path` into the new folder `target_dir` and returns it.

    Every member is checked first: a symlink, or a path that resolves outside `target_dir`
    (absolute, or climbing with `..`), is refused with `ArchiveError` before anything is
    written. Members are unpacked into a temporary folder beside the target and renamed
    onto it at the end, so an interrupted extraction leaves no half-written target.
    """
    zip_path, target = pathlib.Path(zip_path), pathlib.Path(target_dir)
    if target.exists():
        raise FileExistsError(f"{target} already exists; remove it to extract {zip_path} again.")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.infolist():
                _refuse_escaping_member(member, zip_path, target)
            with atomic_directory(target) as staging:
                archive.extractall(staging)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise CorruptArchiveError(f"{zip_path} is not a readable zip archive ({error}).") from None
    return target


def download_preset(url, name=None, expected_sha256=None, progress=True):
    """Downloads (once) and unpacks the zip at `url`; returns `<cache>/extracted/<name>/`.

    A second call finds the unpacked folder and returns it at once: no network access and
    no re-hashing of the zip. A corrupt cached zip is removed (with its recorded checksum)
    so the next call downloads it afresh.
    """
    name = _plain_file_name(name or default_archive_name(url))
    target = cache_dir() / "extracted" / name.removesuffix(".zip")
    if target.is_dir():
        return target
    try:
        archive = fetch_archive(url, name, expected_sha256, progress)
    except DownloadError as error:
        raise DownloadError(f"{error}\nOr place the unpacked folder at {target}.") from None
    try:
        return extract_archive(archive, target)
    except CorruptArchiveError as error:
        archive.unlink()
        records = _read_checksums()
        records.pop(name, None)
        _write_checksums(records)
        raise CorruptArchiveError(
            f"{error} Downloaded from {url}; the cached file was removed, run again to download it afresh."
        ) from None


def _download(url, path, progress):
    """Streams `url` into `path` through a temporary file beside it; returns the sha256 hex digest."""
    digest = hashlib.sha256()
    with atomic_path(path) as partial:
        with open(partial, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
                    length = response.headers.get("Content-Length")
                    expected_bytes = int(length) if length else None
                    received = 0
                    show = progress and sys.stderr.isatty()
                    with tqdm(total=expected_bytes, unit="B", unit_scale=True, desc=path.name, disable=not show) as bar:
                        while chunk := response.read(_CHUNK_BYTES):
                            out.write(chunk)
                            digest.update(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
            except _NETWORK_ERRORS as error:
                raise DownloadError(_manual_placement_message(url, path, error)) from None
        if expected_bytes is not None and received != expected_bytes:
            reason = f"the connection closed after {received} of {expected_bytes} bytes"
            raise DownloadError(_manual_placement_message(url, path, reason))
    return digest.hexdigest()


def _manual_placement_message(url, path, reason):
    return (
        f"Could not download {url}: {reason}.\nIf this machine is offline, download that file "
        f"elsewhere and place it at {path} (folder {path.parent}); it is then verified and "
        "used with no network access."
    )


def _refuse_escaping_member(member, zip_path, target):
    """Raises ArchiveError for a symlink or a member whose path leads outside `target`."""
    if stat.S_ISLNK(member.external_attr >> 16):
        why = "it is a symbolic link"
    elif not (target / member.filename).resolve().is_relative_to(target.resolve()):
        why = "its path (absolute, or climbing with '..') leads outside the target folder"
    else:
        return
    raise ArchiveError(
        f"{zip_path}: refusing member {member.filename!r}: {why} ({target}). Nothing was "
        "extracted; use an archive from a trusted source."
    )


def _plain_file_name(name):
    if not name or name in (".", "..") or pathlib.PurePath(name).name != name or "\\" in name:
        raise ValueError(f"Archive name {name!r} must be a plain file name such as 'bert_base_uncased.zip'.")
    return name


def _sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _checksums_path():
    return cache_dir() / "checksums.json"


def _read_checksums():
    """File name -> {"url", "sha256"} recorded on first download."""
    path = _checksums_path()
    if not path.is_file():
        return {}
    return read_json_object(path, remedy="Delete it; the checksums are recorded again on the next downloads.")


def _write_checksums(records):
    atomic_write_text(_checksums_path(), json.dumps(records, indent=2, sort_keys=True) + "\n")
