"""The download cache against a real HTTP server on 127.0.0.1: caching, checksums,
safe extraction, offline errors and manual placement."""

import hashlib
import http.server
import io
import json
import re
import socket
import stat
import threading
import zipfile

import pytest

from keras_bert_suite.checkpoints.download import (
    ArchiveError,
    ChecksumError,
    CorruptArchiveError,
    DownloadError,
    cache_dir,
    default_archive_name,
    download_preset,
    extract_archive,
    fetch_archive,
)

FOLDER = "uncased_L-2_H-128_A-2"
BERT_CONFIG = {
    "vocab_size": 6,
    "hidden_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 512,
    "hidden_act": "gelu",
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}
VOCABULARY = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n"


def google_zip_bytes(folder=FOLDER):
    """A tiny Google-layout zip: one folder holding config, vocabulary and checkpoint files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/bert_config.json", json.dumps(BERT_CONFIG))
        archive.writestr(f"{folder}/vocab.txt", VOCABULARY)
        archive.writestr(f"{folder}/bert_model.ckpt.index", b"")
        archive.writestr(f"{folder}/bert_model.ckpt.data-00000-of-00001", bytes(range(256)) * 8)
    return buffer.getvalue()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the server's folder, records every request, and on `/truncated.zip` promises
    more bytes (Content-Length) than it sends before closing the connection."""

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path == "/truncated.zip":
            body = google_zip_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args):
        """Keeps the test output clean."""


@pytest.fixture
def server(tmp_path):
    """An HTTP server on an ephemeral port serving `tmp_path / "served"`."""
    root = tmp_path / "served"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *args: _Handler(*args, directory=str(root))
    )
    httpd.requests = []
    httpd.root = root
    httpd.url = lambda name: f"http://127.0.0.1:{httpd.server_address[1]}/{name}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The cache root, redirected into the test's temporary folder."""
    root = tmp_path / "cache"
    monkeypatch.setenv("KERAS_BERT_SUITE_HOME", str(root))
    return root


def served_zip(server, name="tiny.zip", data=None):
    data = google_zip_bytes() if data is None else data
    (server.root / name).write_bytes(data)
    return server.url(name), hashlib.sha256(data).hexdigest()


def refused_url():
    """A URL on a local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/tiny.zip"


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BERT_SUITE_HOME", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("KERAS_BERT_SUITE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "keras_bert_suite"


def test_default_archive_name_separates_urls_with_the_same_file_name():
    old = default_archive_name("https://storage.googleapis.com/bert_models/2018_10_18/uncased_L-12_H-768_A-12.zip")
    new = default_archive_name("https://storage.googleapis.com/bert_models/2020_02_20/uncased_L-12_H-768_A-12.zip")
    assert old.startswith("uncased_L-12_H-768_A-12-") and old.endswith(".zip")
    assert new.startswith("uncased_L-12_H-768_A-12-") and old != new


def test_download_extracts_into_the_cache_and_second_call_uses_no_network(server, cache):
    url, _ = served_zip(server)
    folder = download_preset(url, name="tiny.zip", progress=False)
    assert folder == cache / "extracted" / "tiny"
    assert sorted(p.name for p in (folder / FOLDER).iterdir()) == [
        "bert_config.json", "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.index", "vocab.txt",
    ]
    assert (folder / FOLDER / "vocab.txt").read_text() == VOCABULARY
    assert (cache / "downloads" / "tiny.zip").read_bytes() == google_zip_bytes()
    assert server.requests == ["/tiny.zip"]

    assert download_preset(url, name="tiny.zip", progress=False) == folder
    assert fetch_archive(url, name="tiny.zip", progress=False) == cache / "downloads" / "tiny.zip"
    assert server.requests == ["/tiny.zip"]
    assert [p.name for p in (cache / "downloads").iterdir()] == ["tiny.zip"]  # no temporary file left
    assert not [p.name for p in (cache / "extracted").iterdir() if p.name.startswith(".")]


def test_first_download_records_sha256_and_later_uses_verify_it(server, cache):
    url, sha = served_zip(server)
    path = fetch_archive(url, progress=False)
    assert path == cache / "downloads" / default_archive_name(url)
    records = json.loads((cache / "checksums.json").read_text())
    assert records == {path.name: {"url": url, "sha256": sha}}
    assert fetch_archive(url, progress=False, expected_sha256=sha.upper()) == path
    assert server.requests == ["/tiny.zip"]


def test_tampered_cached_file_is_removed_and_fetched_afresh(server, cache):
    url, sha = served_zip(server)
    path = fetch_archive(url, name="tiny.zip", progress=False)
    path.write_bytes(path.read_bytes() + b"tampered")
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    recorded = rf"\(from {url}\): expected {sha} \(recorded on first download in .*checksums\.json\)"
    with pytest.raises(ChecksumError, match=rf"{recorded}, found {found}\. The file was removed"):
        fetch_archive(url, name="tiny.zip", progress=False)
    assert not path.exists()

    assert fetch_archive(url, name="tiny.zip", progress=False).read_bytes() == google_zip_bytes()
    assert server.requests == ["/tiny.zip", "/tiny.zip"]


def test_wrong_expected_sha256_removes_the_download(server, cache):
    url, sha = served_zip(server)
    expected = rf"\(from {url}\): expected {'0' * 64} \(given\)"
    with pytest.raises(ChecksumError, match=rf"{expected}, found {sha}\. The file was removed"):
        fetch_archive(url, name="tiny.zip", expected_sha256="0" * 64, progress=False)
    assert not (cache / "downloads" / "tiny.zip").exists()
    assert not (cache / "checksums.json").exists()


def test_corrupt_zip_is_reported_and_removed(server, cache):
    url, _ = served_zip(server, "broken.zip", b"<html>not a zip archive</html>")
    corrupt = r"broken\.zip is not a readable zip archive.*cached file was removed"
    with pytest.raises(CorruptArchiveError, match=corrupt):
        download_preset(url, name="broken.zip", progress=False)
    assert not (cache / "downloads" / "broken.zip").exists()
    assert not (cache / "extracted" / "broken").exists()
    assert json.loads((cache / "checksums.json").read_text()) == {}


def test_extraction_failing_midway_leaves_no_target(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("model/vocab.txt", VOCABULARY)
        archive.writestr("model/weights.bin", b"A" * 4096)
    damaged = buffer.getvalue().replace(b"A" * 4096, b"A" * 2048 + b"B" + b"A" * 2047)
    (tmp_path / "damaged.zip").write_bytes(damaged)
    with pytest.raises(CorruptArchiveError, match=r"damaged\.zip is not a readable zip archive \(Bad CRC-32"):
        extract_archive(tmp_path / "damaged.zip", tmp_path / "target")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.zip"]


def _zip_with_member(path, info, data=b"payload"):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("safe/vocab.txt", VOCABULARY)
        archive.writestr(info, data)
    return path


def _symlink_member():
    info = zipfile.ZipInfo("safe/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    "member, reason",
    [
        (zipfile.ZipInfo("../evil.txt"), "leads outside"),
        (zipfile.ZipInfo("safe/../../evil.txt"), "leads outside"),
        (zipfile.ZipInfo("/ABSOLUTE/evil.txt"), "leads outside"),
        (_symlink_member(), "symbolic link"),
    ],
    ids=["parent", "nested-parent", "absolute", "symlink"],
)
def test_unsafe_members_are_refused_and_nothing_is_written(tmp_path, member, reason):
    if member.filename.startswith("/ABSOLUTE/"):
        member = zipfile.ZipInfo(str(tmp_path / "absolute_evil.txt"))
    archive = _zip_with_member(tmp_path / "evil.zip", member, b"/etc/passwd")
    work = tmp_path / "work"
    work.mkdir()
    target = work / "target"
    with pytest.raises(ArchiveError, match=rf"refusing member '{re.escape(member.filename)}': it.*{reason}"):
        extract_archive(archive, target)
    assert list(work.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip", "work"]


def test_extract_refuses_an_existing_target(tmp_path):
    archive = tmp_path / "tiny.zip"
    archive.write_bytes(google_zip_bytes())
    (tmp_path / "target").mkdir()
    with pytest.raises(FileExistsError, match="target already exists"):
        extract_archive(archive, tmp_path / "target")


def test_http_404_names_url_and_manual_placement_paths(server, cache):
    url = server.url("missing.zip")
    with pytest.raises(DownloadError, match="404") as error:
        download_preset(url, name="missing.zip", progress=False)
    message = str(error.value)
    assert isinstance(error.value, OSError)
    assert f"Could not download {url}" in message
    assert str(cache / "downloads" / "missing.zip") in message
    assert str(cache / "extracted" / "missing") in message
    assert not (cache / "downloads" / "missing.zip").exists()
    assert not list((cache / "downloads").iterdir())


def test_connection_refused_then_manual_placement_works_offline(tmp_path, cache):
    url = refused_url()
    name = default_archive_name(url)
    with pytest.raises(DownloadError, match="Could not download") as error:
        download_preset(url, progress=False)
    placed = cache / "downloads" / name
    assert str(placed) in str(error.value)

    placed.write_bytes(google_zip_bytes())
    folder = download_preset(url, progress=False)
    assert (folder / FOLDER / "bert_config.json").is_file()
    recorded = json.loads((cache / "checksums.json").read_text())[name]["sha256"]
    assert recorded == hashlib.sha256(google_zip_bytes()).hexdigest()


def test_manually_placed_unpacked_folder_is_used_offline(cache):
    url = refused_url()
    target = cache / "extracted" / "by_hand"
    (target / FOLDER).mkdir(parents=True)
    (target / FOLDER / "vocab.txt").write_text(VOCABULARY)
    assert download_preset(url, name="by_hand.zip", progress=False) == target


def test_connection_closed_early_leaves_neither_partial_nor_final_file(server, cache):
    url = server.url("truncated.zip")
    size = len(google_zip_bytes())
    with pytest.raises(DownloadError, match=f"closed after {size} of {size + 1000} bytes"):
        fetch_archive(url, name="truncated.zip", progress=False)
    assert list((cache / "downloads").iterdir()) == []
    assert not (cache / "checksums.json").exists()


def test_file_url_is_fetched_like_http(tmp_path, cache):
    source = tmp_path / "local.zip"
    source.write_bytes(google_zip_bytes())
    folder = download_preset(source.as_uri(), progress=False)
    assert folder.parent == cache / "extracted"
    assert (folder / FOLDER / "vocab.txt").read_text() == VOCABULARY


def test_archive_name_must_be_a_plain_file_name(cache):
    with pytest.raises(ValueError, match="plain file name"):
        fetch_archive("http://127.0.0.1:1/x.zip", name="../x.zip")


def test_checksums_file_that_is_not_json_is_named(server, cache):
    url, _ = served_zip(server)
    cache.mkdir()
    (cache / "checksums.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"checksums\.json is not valid JSON.*Delete it"):
        fetch_archive(url, progress=False)

