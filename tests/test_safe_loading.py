"""`.keras` files load with `safe_mode=True` on every loading path of the package: a `Lambda`
(Python code) or an unregistered class is refused with a message naming it; nothing in the
package unpickles. Preset folders hold JSON and `.weights.h5` only, so `from_preset` never
deserializes a class (tests/test_presets.py checks those folders)."""

import argparse
import ast
import json
import pathlib
import zipfile

import keras
import pytest

from keras_bert_suite import BertClassifier, BertClassifierPreprocessor
from keras_bert_suite.cli import main
from keras_bert_suite.recipes.common import load_task_model, load_trained_model
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_bert_suite"
LAMBDA = r"Lambda"
UNREGISTERED = r"EvilLayer"


def _rewrite_config(source, target, change):
    """A copy of the .keras zip `source` at `target` with `change(config)` applied to config.json."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                change(config)
                data = json.dumps(config).encode()
            copy.writestr(item, data)
    return target


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    """`{name: path}`: a real classifier and the same file with a Lambda or an unknown class inside."""
    root = tmp_path_factory.mktemp("crafted")
    model = BertClassifier(tiny_backbone(), 2, preprocessor=BertClassifierPreprocessor(minilm_tokenizer(), 8))
    model.save(root / "model.keras")
    lambda_model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    lambda_model.save(root / "plain_lambda.keras")
    with zipfile.ZipFile(root / "plain_lambda.keras") as archive:
        lambda_config = json.loads(archive.read("config.json"))["config"]["layers"][-1]
    assert lambda_config["class_name"] == "Lambda"

    def preprocessor_is_lambda(config):
        config["config"]["preprocessor"] = lambda_config

    def unregistered_head(config):
        config["config"]["preprocessor"] = {"module": "evil", "class_name": UNREGISTERED, "config": {},
                                            "registered_name": "evil>EvilLayer"}

    return {
        "model": root / "model.keras",
        "plain_lambda": root / "plain_lambda.keras",
        "nested_lambda": _rewrite_config(root / "model.keras", root / "nested_lambda.keras", preprocessor_is_lambda),
        "unregistered": _rewrite_config(root / "model.keras", root / "unregistered.keras", unregistered_head),
    }


BAD = [("plain_lambda", LAMBDA), ("nested_lambda", LAMBDA), ("unregistered", UNREGISTERED)]


def test_the_untouched_file_loads(crafted):
    model = load_trained_model(crafted["model"], BertClassifier)
    assert isinstance(model, BertClassifier) and model.preprocessor is not None


@pytest.mark.parametrize("name, what", BAD)
def test_load_trained_model_refuses(crafted, name, what):
    with pytest.raises(ValueError, match=rf"{name}.keras is refused: .*{what}.*safe_mode=True"):
        load_trained_model(crafted[name], BertClassifier)


@pytest.mark.parametrize("name, what", BAD)
def test_load_task_model_refuses(crafted, tmp_path, name, what):
    (tmp_path / "model.keras").write_bytes(crafted[name].read_bytes())
    args = argparse.Namespace(output_dir=tmp_path, max_seq_length=8, strategy="auto", tpu=None, preset="unused")
    with pytest.raises(ValueError, match=rf"model.keras is refused: .*{what}"):
        load_task_model(BertClassifier, args, build=None)


@pytest.mark.parametrize("name, what", BAD)
def test_kbs_export_refuses(crafted, tmp_path, capsys, name, what):
    assert main(["export", "--model", str(crafted[name]), "--output-dir", str(tmp_path / "serving")]) == 2
    assert f"kbs export: error: {crafted[name]} is refused" in capsys.readouterr().err
    assert not (tmp_path / "serving").exists()


def test_keras_default_loading_refuses_too(crafted):
    # Keras' own default is safe_mode=True; the nested Lambda is refused inside our from_config.
    with pytest.raises(ValueError, match=LAMBDA):
        keras.saving.load_model(crafted["nested_lambda"])


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield ast.unparse(node.func), {keyword.arg: ast.unparse(keyword.value) for keyword in node.keywords}


def test_the_package_never_unpickles_nor_loads_unsafely():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
                found += [f"{path.name}: imports {name}" for name in names if name.split(".")[0] in
                          ("pickle", "dill", "cloudpickle", "joblib", "marshal", "shelve")]
        for function, keywords in _calls(tree):
            if function.endswith("load_model") and keywords.get("safe_mode") not in ("True", None):
                found.append(f"{path.name}: {function} with safe_mode={keywords.get('safe_mode')}")
            if function == "torch.load" and keywords.get("weights_only") != "True":
                found.append(f"{path.name}: torch.load without weights_only=True")
            if keywords.get("allow_pickle") == "True" or function.endswith("enable_unsafe_deserialization"):
                found.append(f"{path.name}: {function} unpickles")
    assert found == []
    loads = [(path.name, keywords) for path in PACKAGE.rglob("*.py")
             for function, keywords in _calls(ast.parse(path.read_text(encoding="utf-8")))
             if function == "keras.saving.load_model"]
    assert loads and all(keywords.get("safe_mode") == "True" for _, keywords in loads), loads
