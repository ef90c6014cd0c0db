"""Every example runs its smoke mode in a copy of `examples/` with no `../shared` beside it,
as in a user's clone, on the data the repository carries (`examples/data`)."""

import csv
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
NUMBER = r"\d+\.\d+"

# example -> (smoke-mode arguments, patterns its output must contain, files it must write)
SMOKE = {
    "classify_pairs": (
        ["--max-examples", "16", "--eval-examples", "16", "--epochs", "1", "--sequence-length", "32"],
        [r"16 training pairs \(\d+% paraphrases\), 16 dev pairs", rf"dev acc {NUMBER}, f1 {NUMBER}"],
        [],
    ),
    "classify_single": (
        ["--max-examples", "16", "--eval-examples", "16", "--epochs", "1", "--sequence-length", "32"],
        [r"16 training and 16 held-out sentences \(sst2\)", rf"held-out loss {NUMBER}, accuracy {NUMBER}",
         rf"p\(positive\)={NUMBER}  A warm, funny"],
        [],
    ),
    "continued_pretraining": (
        ["--output-dir", "smoke_out", "--num-train-steps", "4", "--batch-size", "4", "--eval-steps", "2",
         "--sequence-length", "32"],
        [r"\d+ paragraphs from dev-v1.1-part1.json: train.txt and held_out.txt",
         rf"before +masked-LM accuracy {NUMBER} +loss {NUMBER}", rf"after +masked-LM accuracy {NUMBER} +loss {NUMBER}",
         r"saved the adapted model to smoke_out/preset"],
        ["smoke_out/preset/backbone_config.json", "smoke_out/preset/heads.weights.h5", "smoke_out/eval_results.txt"],
    ),
    "demo": (
        ["--smoke", "--output-dir", "demo_output"],
        [r"32 training and 16 dev sentences", rf"dev loss {NUMBER}, dev accuracy {NUMBER} \(16 sentences\)",
         r"reloaded predictions identical: True", rf"p\(positive\)={NUMBER}  The acting was wonderful"],
        ["demo_output/demo_classifier.keras", "demo_output/demo_classifier_savedmodel/saved_model.pb"],
    ),
    "feature_extraction": (
        ["--max-examples", "16"],
        [r"hidden_states +\(2, 7, 64, 384\)", r"3\. Nearest of 16 SST-2 sentences", rf"    {NUMBER}  \S"],
        [],
    ),
    "fill_mask": (
        ["--max-examples", "16", "--epochs", "1"],
        [r"training the masked-LM head on 16 SST-2 sentences", rf"\[MASK\] 2: \S+ \({NUMBER}\)"],
        [],
    ),
    "multiple_choice": (
        ["--max-examples", "4", "--epochs", "1", "--sequence-length", "32"],
        [r"4 examples with 4 choices each", rf"accuracy {NUMBER} \(on the training examples\)"],
        [],
    ),
    "ner": (
        ["--max-examples", "4", "--epochs", "1"],
        [r"4 sentences, tags \[", rf"entity precision {NUMBER}, recall {NUMBER}, F1 {NUMBER}; token accuracy"],
        [],
    ),
    "question_answering": (
        ["--max-examples", "16", "--eval-examples", "8", "--epochs", "1"],
        [r"training on 16 questions, answering 8 others", rf"exact match {NUMBER}, F1 {NUMBER} on 8 questions"],
        [],
    ),
}


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A folder holding a copy of `examples/` and nothing else."""
    root = tmp_path_factory.mktemp("clone")
    shutil.copytree(EXAMPLES, root / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    assert not (root.parent / "shared").exists()
    return root


def test_every_example_has_a_smoke_run():
    assert sorted(SMOKE) == sorted(path.stem for path in EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_smoke_mode_runs_on_the_bundled_data(clone, name):
    arguments, patterns, files = SMOKE[name]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, f"examples/{name}.py", *arguments], cwd=clone, env=env,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    for pattern in patterns:
        assert re.search(pattern, result.stdout), f"{pattern!r} not in the output:\n{result.stdout[-3000:]}"
    for file in files:
        assert (clone / file).is_file(), f"{name} did not write {file}"
    assert re.search(r"done in \d+ s", result.stdout, re.IGNORECASE)


def test_bundled_data_is_small_and_every_file_has_its_source():
    data = EXAMPLES / "data"
    with open(data / "SOURCES", encoding="utf-8", newline="") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)}
    files = {path.relative_to(data).as_posix(): path for path in data.rglob("*") if path.is_file()}
    assert sorted(rows) == sorted(set(files) - {"SOURCES"})
    for name, row in rows.items():
        content = files[name].read_bytes()
        assert (int(row["bytes"]), row["sha256"]) == (len(content), hashlib.sha256(content).hexdigest()), name
        assert row["origin"].startswith("https://") and row["licence"] and row["how it was cut"], name
    assert sum(path.stat().st_size for path in files.values()) < 300_000
