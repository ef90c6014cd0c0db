"""`model.export` on all six task models, served in ONE fresh process importing only TensorFlow
and TensorFlow Text: `serving_default` on raw strings and `serving_packed` on packed tensors
equal in-process `predict` (atol 1e-5), bad inputs give well-formed outputs, an empty batch
0 rows, and every signature name and output key is in the README's "Saving and serving".

tests/export/test_saved_model.py checks each task's raw-string outputs in depth (answers,
word tags, fill-mask); this file checks what every export shares.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite import BertClassifier, BertClassifierPreprocessor
from keras_bert_suite.cli import main
from keras_bert_suite.recipes.export import next_version
from tests.export.conftest import SERVING_OPTIONS
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

ATOL = 1e-5
README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
TEXTS = ["A fine film.", "Naïve café, DULL plot!", "", "great acting " * 12]
ONE_MB = "word " * 200_000  # 1,000,000 bytes
# Empty, 1 MB, not UTF-8, whitespace only, only [MASK], a lone surrogate's bytes (CESU-8).
BAD = [b"", ONE_MB.encode(), b"caf\xe9 \xff\xfe ok", " \t\n\u3000 ".encode(), b"[MASK]", b"a\xed\xa0\x80b"]
# The same texts as predict reads them: invalid bytes are dropped (U+FFFD, removed by the cleaning).
BAD_READ = ["", "word " * 20, "caf  ok", "", "[MASK]", "ab"]

# The subprocess: loads every export, runs each request, writes each output as .npy.
SERVE_ALL = """
import json, pathlib, sys
import numpy as np, tensorflow as tf, tensorflow_text
root = pathlib.Path(sys.argv[1])
manifest = json.loads((root / "manifest.json").read_text())
report = {}
for name, entry in manifest.items():
    loaded = tf.saved_model.load(entry["folder"])
    report[name] = {"signatures": sorted(loaded.signatures),
                    "outputs": {s: sorted(f.structured_outputs) for s, f in loaded.signatures.items()}}
    for request, (signature, inputs) in entry["requests"].items():
        arguments = {key: tf.constant(np.load(root / file, allow_pickle=False)) for key, file in inputs.items()}
        try:
            outputs = loaded.signatures[signature](**arguments)
        except Exception as error:
            report[name][request] = f"{type(error).__name__}: {error}"[:500]
            continue
        for key, value in outputs.items():
            value = value.numpy()
            np.save(root / f"out_{name}_{request}_{key}.npy", value.astype(bytes) if value.dtype == object else value,
                    allow_pickle=False)
        report[name][request] = sorted(outputs)
assert not [module for module in sys.modules if module.startswith("keras_bert_suite")]
(root / "report.json").write_text(json.dumps(report))
"""


_UTF8 = np.frompyfunc(lambda text: text.encode() if isinstance(text, str) else text, 1, 1)


def _packed(output):
    x = output[0] if isinstance(output, tuple) else output
    return {key: np.asarray(value) for key, value in x.items()}


def _requests(exported):
    """`{name: (model, raw request or None, packed request)}`; a request maps input names to arrays."""
    models = {name: model for name, (model, _) in exported.items()}
    texts = np.array(TEXTS, dtype=object)
    choices = np.array([[t, t[::-1], "No."] for t in TEXTS], dtype=object)
    masked = np.array(["[MASK] is the capital of France.", "A fine [MASK][MASK] of wine.", "no mask", ""],
                      dtype=object)
    return {
        "classifier": ({"text": texts}, models["classifier"].preprocessor(TEXTS)),
        "token_classifier": ({"text": texts}, models["token_classifier"].preprocessor(TEXTS)),
        "multiple_choice": ({"context": texts, "choices": choices},
                            models["multiple_choice"].preprocessor((TEXTS, choices.tolist()))),
        "question_answerer": ({"question": texts, "context": texts[::-1].copy()},
                              models["question_answerer"].preprocessor.windows(TEXTS, TEXTS[::-1])["inputs"]),
        "masked_lm": ({"text": masked}, models["masked_lm"].preprocessor(masked.tolist())),
        "pretraining": (None, models["pretraining"].preprocessor((TEXTS, TEXTS[::-1]))),
    }


def _bad_request(raw):
    """The BAD strings in every string input (QA: the 1 MB text as the question only)."""
    bad = np.array(BAD, dtype=object)
    if "choices" in raw:
        return {"context": bad, "choices": np.stack([bad, bad[::-1], bad], axis=1)}
    if "question" in raw:
        return {"question": bad, "context": np.array([b"Ada wrote it."] * len(BAD), dtype=object)}
    return {key: bad for key in raw}


def _empty(request):
    return {key: value[:0] for key, value in request.items()}


@pytest.fixture(scope="module")
def served(exported, tmp_path_factory):
    """`(models, report, outputs(name, request) -> {key: array})` after one subprocess served all
    six exports of conftest.py; `models[name]` is `(model, raw request, packed request)`."""
    root = tmp_path_factory.mktemp("requests")
    models, manifest = {}, {}
    for name, (raw, packed) in _requests(exported).items():
        model, folder = exported[name]
        packed = _packed(packed)
        models[name] = (model, raw, packed)
        requests = {"packed": ("serving_packed", packed), "packed_empty": ("serving_packed", _empty(packed))}
        if raw is not None:
            requests.update(raw=("serving_default", raw), bad=("serving_default", _bad_request(raw)),
                            raw_empty=("serving_default", _empty(raw)))
        manifest[name] = {}
        for request, (signature, inputs) in requests.items():
            files = {}
            for key, value in inputs.items():
                files[key] = f"in_{name}_{request}_{key}.npy"
                array = _UTF8(value).astype(bytes) if value.dtype == object else value
                np.save(root / files[key], array, allow_pickle=False)
            manifest[name][request] = (signature, files)
        manifest[name] = {"folder": str(folder), "requests": manifest[name]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", SERVE_ALL, str(root)], cwd=root, capture_output=True, text=True,
                            env={**environment, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((root / "report.json").read_text())

    def outputs(name, request):
        assert isinstance(report[name][request], list), report[name][request]  # a list of keys, not an error
        return {key: np.load(root / f"out_{name}_{request}_{key}.npy") for key in report[name][request]}

    return models, report, outputs


def _assert_close(found, expected):
    expected = expected if isinstance(expected, dict) else {"logits": expected}
    assert sorted(found) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(found[key], np.asarray(expected[key]), atol=ATOL)


def test_serving_packed_equals_predict_on_packed_inputs(served):
    models, report, outputs = served
    for name, (model, _, packed) in models.items():
        _assert_close(outputs(name, "packed"), model.predict(packed, verbose=0))
    assert report["pretraining"]["signatures"] == ["serving_default", "serving_packed"]
    assert sorted(report["pretraining"]["outputs"]["serving_default"]) == ["mlm_logits", "nsp_logits"]
    assert np.ptp(outputs("classifier", "packed")["logits"][:, 0]) > 1e-2  # Inputs give different outputs.


def test_serving_default_equals_predict_on_raw_strings(served):
    models, report, outputs = served
    for name in ("classifier", "multiple_choice", "token_classifier"):
        model, raw, _ = models[name]
        x = tuple(value.tolist() for value in raw.values()) if len(raw) > 1 else raw["text"].tolist()
        found = outputs(name, "raw")
        np.testing.assert_allclose(found["logits"], model.predict(x, verbose=0), atol=ATOL)
        assert report[name]["signatures"] == ["serve", "serving_default", "serving_packed"]
    tagger, raw, _ = models["token_classifier"]
    tags = [[tag.decode() for tag in row if tag] for row in outputs("token_classifier", "raw")["tags"]]
    assert tags == tagger.tag(raw["text"].tolist())
    filler, raw, _ = models["masked_lm"]
    found = outputs("masked_lm", "raw")
    assert found["num_masks"].tolist() == [1, 2, 0, 0]
    expected = filler.fill_mask(raw["text"].tolist()[:2], top_k=3)  # as exported (conftest.py)
    for row, per_mask in enumerate(expected):
        for slot, best in enumerate(per_mask):
            assert found["token_ids"][row, slot].tolist() == [entry["token_id"] for entry in best]
            np.testing.assert_allclose(found["scores"][row, slot], [entry["score"] for entry in best], atol=ATOL)
    # Every output, strings included, as the serving function gives it in this process.
    for name, (model, raw, _) in models.items():
        if raw is not None:
            serve = model.serving_function(**SERVING_OPTIONS.get(name, {}))[1]
            expected = serve(**{key: tf.constant(_UTF8(value).astype(bytes)) for key, value in raw.items()})
            found = outputs(name, "raw")
            assert sorted(found) == sorted(expected)
            for key, value in expected.items():
                if value.dtype == tf.string:
                    assert found[key].tolist() == value.numpy().astype(bytes).tolist(), (name, key)
                else:
                    np.testing.assert_allclose(found[key], value.numpy(), atol=ATOL, err_msg=f"{name} {key}")


def test_bad_inputs_are_served_without_a_crash(served):
    models, _, outputs = served
    classifier = models["classifier"][0]
    found = outputs("classifier", "bad")
    # Each text as predict reads it: a 1 MB text is cut at sequence_length pieces, bytes that
    # are not UTF-8 are dropped, whitespace only is an empty text.
    np.testing.assert_allclose(found["logits"], classifier.predict(BAD_READ, verbose=0), atol=ATOL)
    np.testing.assert_allclose(found["logits"], classifier.predict(BAD, verbose=0), atol=ATOL)
    for name in ("token_classifier", "multiple_choice", "question_answerer", "masked_lm"):
        for key, value in outputs(name, "bad").items():
            assert value.shape[0] == len(BAD), (name, key)
            if value.dtype.kind == "f" and key not in ("score", "null_score"):
                assert np.isfinite(value).all(), (name, key)
    words = outputs("token_classifier", "bad")["words"]
    assert (words[1] != b"").sum() == 200_000 and (words[0] == b"").all()
    assert outputs("masked_lm", "bad")["num_masks"].tolist() == [0, 0, 0, 0, 1, 0]
    answers = outputs("question_answerer", "bad")
    assert all(text in b"Ada wrote it." for text in answers["answer_text"])


def test_an_empty_batch_gives_zero_rows(served):
    models, report, outputs = served
    for name, (model, raw, packed) in models.items():
        for request in ("packed_empty", "raw_empty") if raw is not None else ("packed_empty",):
            found = outputs(name, request)
            assert found and all(value.shape[0] == 0 for value in found.values()), (name, request)
            signature = "serving_packed" if request == "packed_empty" else "serving_default"
            assert sorted(found) == report[name]["outputs"][signature]
    with pytest.raises(ValueError, match="Got no examples"):
        models["classifier"][0].predict([], verbose=0)
    assert minilm_tokenizer()([]).shape[0] == 0


def test_readme_documents_every_signature_and_output(served):
    _, report, _ = served
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Saving and serving"):]
    section = section[:section.index("\n## ", 3)]
    for name, entry in report.items():
        for signature, keys in entry["outputs"].items():
            assert f"`{signature}`" in section, signature
            for key in keys:
                assert f"`{key}`" in section, (name, signature, key)


def test_export_formats(tmp_path):
    model = BertClassifier(tiny_backbone(), 2, preprocessor=BertClassifierPreprocessor(minilm_tokenizer(), 8))
    with pytest.raises(ValueError, match="Unknown export format 'saved_model'; BertClassifier.export takes "
                       "'tf_saved_model', 'keras_packed', 'onnx'"):
        model.export(tmp_path / "a", format="saved_model")
    with pytest.raises(ValueError, match="input_signature is for Keras' own formats"):
        model.export(tmp_path / "b", input_signature=[tf.TensorSpec([None], tf.string)])
    with pytest.raises(ValueError, match="top_k=3 is for BertMaskedLM only"):
        model.export(tmp_path / "c", top_k=3)
    assert list(tmp_path.iterdir()) == []
    # Keras' own SavedModel of the packed inputs.
    packed = _packed(model.preprocessor(TEXTS))
    model.export(tmp_path / "keras", format="keras_packed", verbose=False)
    serve = tf.saved_model.load(str(tmp_path / "keras")).signatures["serving_default"]
    found = list(serve(**{key: tf.constant(value) for key, value in packed.items()}).values())[0]
    np.testing.assert_allclose(found.numpy(), model.predict(packed, verbose=0), atol=ATOL)


def test_kbs_export_writes_the_tf_serving_layout(tmp_path, capsys):
    model = BertClassifier(tiny_backbone(), 2, preprocessor=BertClassifierPreprocessor(minilm_tokenizer(), 8))
    model.save(tmp_path / "model.keras")
    serving = tmp_path / "serving"
    assert main(["export", "--model", str(tmp_path / "model.keras"), "--output-dir", str(serving)]) == 0
    assert sorted(p.name for p in serving.iterdir()) == ["1"]
    loaded = tf.saved_model.load(str(serving / "1"))
    assert sorted(loaded.signatures) == ["serve", "serving_default", "serving_packed"]
    found = loaded.signatures["serving_default"](text=tf.constant(TEXTS))["logits"].numpy()
    np.testing.assert_allclose(found, model.predict(TEXTS, verbose=0), atol=ATOL)
    # The next version is one more than the highest there; a taken one needs --overwrite.
    (serving / "7").mkdir()
    (serving / ".7.abc.tmp").mkdir()
    assert next_version(serving) == 8 and next_version(tmp_path / "new") == 1
    assert main(["export", "--model", str(tmp_path / "model.keras"), "--output-dir", str(serving),
                 "--version", "1"]) == 2
    assert "serving/1 already exists; pass --overwrite" in capsys.readouterr().err
    assert main(["export", "--model", str(tmp_path / "model.keras"), "--output-dir", str(serving),
                 "--top-k", "3"]) == 2
    assert "top_k=3 is for BertMaskedLM only" in capsys.readouterr().err
    assert sorted(p.name for p in serving.iterdir()) == [".7.abc.tmp", "1", "7"]
