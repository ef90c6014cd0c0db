"""`kbs ner` recipe: fine-tune on CoNLL text / JSON Lines, conlleval files and entity scores."""

import argparse
import json

import keras
import pytest

from keras_bert_suite.recipes import ner
from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.ner_metrics import evaluate_ner
from tests.helpers.shared_data import shared
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

CONLL_SAMPLE = "hf_tests_samples/conll/sample.json"


def sample_sentences():
    path = shared(CONLL_SAMPLE)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_conll(path, sentences):
    """CoNLL-2003 text: -DOCSTART-, then 'word POS tag' lines, a blank line after each sentence."""
    lines = ["-DOCSTART- -X- O", ""]
    for sentence in sentences:
        lines += [f"{word} NNP {tag}" for word, tag in zip(sentence["words"], sentence["ner"])] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path, sentences):
    path.write_text("".join(json.dumps(sentence) + "\n" for sentence in sentences), encoding="utf-8")
    return path


def read_results(path):
    pairs = (line.split(" = ") for line in path.read_text(encoding="utf-8").splitlines())
    return {key: float(value) for key, value in pairs}


def read_predictions(path):
    """Sentences of a "word gold predicted" file as lists of 3-column rows."""
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    assert blocks[-1] == ""
    return [[line.split(" ") for line in block.split("\n")] for block in blocks[:-1]]


def run_ner(flags):
    parser = argparse.ArgumentParser()
    ner.add_arguments(parser)
    return ner.run(parser.parse_args(flags))


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preset") / "tiny_bert"
    tiny_backbone().save_to_preset(folder, tokenizer=minilm_tokenizer())
    return folder


def test_train_eval_predict_writes_conlleval_files_and_entity_scores(tiny_preset, tmp_path):
    sentences = sample_sentences()
    train = write_conll(tmp_path / "train.txt", sentences[:8])
    dev = write_jsonl(tmp_path / "dev.jsonl", sentences[8:])
    test = write_conll(tmp_path / "test.txt", sentences[5:])
    output = tmp_path / "out"
    flags = ["--preset", str(tiny_preset), "--output-dir", str(output), "--train-file", str(train),
             "--dev-file", str(dev), "--test-file", str(test), "--max-seq-length", "64", "--batch-size", "4",
             "--epochs", "1"]

    metrics = run_ner(flags + ["--do-train", "--do-eval", "--do-predict"])

    for name in ("model.keras", "history.json", "training_curves.png"):
        assert (output / name).is_file(), name
    labels = ["O", "B-LOC", "B-ORG", "B-PER", "I-LOC", "I-PER"]
    assert keras.saving.load_model(output / "model.keras").labels == labels
    assert "val_loss" in json.loads((output / "history.json").read_text())["epochs"]
    for prefix, expected in (("eval", sentences[8:]), ("test", sentences[5:])):
        rows = read_predictions(output / f"{prefix}_predictions.conll")
        assert [[row[0] for row in sentence] for sentence in rows] == [s["words"] for s in expected]
        assert [[row[1] for row in sentence] for sentence in rows] == [s["ner"] for s in expected]
        assert all(len(row) == 3 and row[2] in labels for sentence in rows for row in sentence)
        scores = evaluate_ner([[row[1] for row in s] for s in rows], [[row[2] for row in s] for s in rows])
        recomputed = {f"{prefix}_{key}": value for key, value in scores.as_dict().items()}
        written = read_results(output / f"{prefix}_results.txt")
        assert written == recomputed == {key: value for key, value in metrics.items() if key.startswith(prefix)}
        assert {f"{prefix}_{kind}/f1" for kind in ("LOC", "PER")} <= set(written)
        assert all(0.0 <= value <= 1.0 for value in written.values())


def test_malformed_conll_line_stops_naming_file_and_line(tiny_preset, tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("EU NNP B-ORG\nrejects VBZ O\nGerman\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"train\.txt:3: expected a word and its tag .* one column 'German'"):
        run_ner(["--preset", str(tiny_preset), "--output-dir", str(tmp_path / "out"), "--train-file", str(train),
                 "--do-train"])


def test_tag_without_prefix_stops_before_training(tiny_preset, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"words": ["EU", "rejects"], "ner": ["ORG", "O"]}])
    with pytest.raises(DataFileError, match=r"train\.jsonl: sentence 1 \(EU rejects \.\.\.\): Tag 'ORG' is neither"):
        run_ner(["--preset", str(tiny_preset), "--output-dir", str(tmp_path / "out"), "--train-file", str(train),
                 "--do-train"])
    assert not (tmp_path / "out").exists()


def test_predict_without_a_trained_tagger_says_what_to_pass(tmp_path):
    test = write_conll(tmp_path / "test.txt", [{"words": ["EU"], "ner": ["B-ORG"]}])
    with pytest.raises(ValueError, match=r"No .*model\.keras to tag with: pass --do-train"):
        run_ner(["--output-dir", str(tmp_path / "out"), "--test-file", str(test), "--do-predict"])
