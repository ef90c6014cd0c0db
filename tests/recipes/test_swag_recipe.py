"""`kbs swag` recipe: fine-tune on SWAG JSON Lines / CSV, eval_results.txt, test_results.tsv."""

import argparse
import csv
import json
import math

import numpy as np
import pytest

from keras_bert_suite.recipes import swag
from keras_bert_suite.recipes.errors import DataFileError
from tests.helpers.shared_data import shared
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

SWAG_SAMPLE = "hf_tests_samples/swag/sample.json"
# The released SWAG CSV header (train/val have a label column, test has none).
CSV_COLUMNS = ["", "video-id", "fold-ind", "startphrase", "sent1", "sent2", "gold-source",
               "ending0", "ending1", "ending2", "ending3"]


def sample_records():
    path = shared(SWAG_SAMPLE)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def write_csv(path, records, with_label):
    columns = CSV_COLUMNS + (["label"] if with_label else [])
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for index, record in enumerate(records):
            extra = {"": index, "video-id": f"anetv_{index}", "fold-ind": index, "gold-source": "gold",
                     "startphrase": f"{record['sent1']} {record['sent2']}"}
            writer.writerow([extra[key] if key in extra else record[key] for key in columns])
    return path


def run_swag(flags):
    parser = argparse.ArgumentParser()
    swag.add_arguments(parser)
    return swag.run(parser.parse_args(flags))


def read_results(path):
    pairs = (line.split(" = ") for line in path.read_text(encoding="utf-8").splitlines())
    return {key: float(value) for key, value in pairs}


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preset") / "tiny_bert"
    tiny_backbone().save_to_preset(folder, tokenizer=minilm_tokenizer())
    return folder


def test_train_eval_predict_writes_accuracy_loss_and_choice_probabilities(tiny_preset, tmp_path):
    records = sample_records()
    train = write_jsonl(tmp_path / "train.jsonl", records[:6])
    dev = write_csv(tmp_path / "val.csv", records[6:], with_label=True)
    test = write_csv(tmp_path / "test.csv", records[6:], with_label=False)
    output = tmp_path / "out"

    metrics = run_swag(["--preset", str(tiny_preset), "--output-dir", str(output), "--train-file", str(train),
                        "--dev-file", str(dev), "--test-file", str(test), "--max-seq-length", "48",
                        "--batch-size", "4", "--epochs", "1", "--do-train", "--do-eval", "--do-predict"])

    for name in ("model.keras", "history.json", "training_curves.png"):
        assert (output / name).is_file(), name
    assert "val_accuracy" in json.loads((output / "history.json").read_text())["epochs"]
    written = read_results(output / "eval_results.txt")
    assert written == metrics
    assert set(written) == {"eval_accuracy", "eval_loss", "global_step"}
    assert written["global_step"] == 2  # 6 examples, batch 4, one epoch
    assert written["eval_accuracy"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert 0.0 < written["eval_loss"] < 10.0
    rows = [[float(value) for value in line.split("\t")]
            for line in (output / "test_results.tsv").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4 and all(len(row) == 4 for row in rows)
    assert all(math.isclose(sum(row), 1.0, rel_tol=1e-9) for row in rows)

    # The test split holds the dev examples: its probabilities give back the eval results.
    gold = np.array([record["label"] for record in records[6:]])
    probabilities = np.array(rows)
    assert written["eval_accuracy"] == np.mean(probabilities.argmax(axis=-1) == gold)
    assert math.isclose(written["eval_loss"], -np.log(probabilities[np.arange(4), gold]).mean(), rel_tol=1e-9)


def test_label_outside_the_endings_stops_naming_file_and_line(tiny_preset, tmp_path):
    records = sample_records()[:2]
    records[1]["label"] = 7
    train = write_csv(tmp_path / "train.csv", records, with_label=True)
    with pytest.raises(DataFileError, match=r"train\.csv:3: label 7 is not an ending index 0\.\.3"):
        run_swag(["--preset", str(tiny_preset), "--output-dir", str(tmp_path / "out"), "--train-file", str(train),
                  "--do-train"])
    assert not (tmp_path / "out").exists()


def test_eval_needs_labels_in_the_dev_file(tiny_preset, tmp_path):
    dev = write_csv(tmp_path / "val.csv", sample_records()[:2], with_label=False)
    with pytest.raises(DataFileError, match=r"val\.csv: example 1 has no label; --dev-file needs a 'label' column"):
        run_swag(["--preset", str(tiny_preset), "--output-dir", str(tmp_path / "out"), "--dev-file", str(dev),
                  "--do-eval"])


def test_flags_default_to_the_bert_paper_swag_setup(tmp_path):
    parser = argparse.ArgumentParser()
    swag.add_arguments(parser)
    args = parser.parse_args(["--output-dir", str(tmp_path)])
    assert (args.learning_rate, args.batch_size, args.epochs, args.max_seq_length) == (2e-5, 16, 3, 128)
    with pytest.raises(ValueError, match="Nothing to do"):
        swag.run(args)
