import csv
import json

import pytest

from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.swag_data import MultipleChoiceExample
from keras_bert_suite.recipes.swag_data import read_swag
from tests.helpers.shared_data import shared

SWAG_SAMPLE = "hf_tests_samples/swag/sample.json"

HEADER = ["", "video-id", "fold-ind", "startphrase", "sent1", "sent2", "gold-source",
          "ending0", "ending1", "ending2", "ending3", "label"]
ROW = ["0", "anetv_jkn6uvmqwh4", "3416", "Then, he smiles. The man", "Then, he smiles.", "The man", "gold",
       "waves.", 'says "hi, all".', "sits down.", "leaves.", "1"]


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_hf_sample_jsonl():
    examples = read_swag(shared(SWAG_SAMPLE))
    assert len(examples) == 10
    assert examples[0] == MultipleChoiceExample(
        context="Members of the procession walk down the street holding small horn brass instruments.",
        choices=[
            "A drum line passes by walking down the street playing their instruments.",
            "A drum line has heard approaching them.",
            "A drum line arrives and they're outside dancing and asleep.",
            "A drum line turns the lead singer watches the performance.",
        ],
        label=0,
    )
    assert [e.label for e in examples] == [0, 3, 1, 3, 0, 3, 0, 1, 3, 3]
    assert examples[8].choices[0].startswith("Someone ")


def test_released_csv_layout_with_index_column_and_quoting(tmp_path):
    path = write_csv(tmp_path / "val.csv", [HEADER, ROW])
    assert read_swag(path) == [
        MultipleChoiceExample(
            context="Then, he smiles.",
            choices=["The man waves.", 'The man says "hi, all".', "The man sits down.", "The man leaves."],
            label=1,
        )
    ]


def test_test_split_without_label_column(tmp_path):
    path = write_csv(tmp_path / "test.csv", [HEADER[:-1], ROW[:-1]])
    (example,) = read_swag(path)
    assert example.label is None
    assert example.choices[3] == "The man leaves."


def test_csv_errors_name_file_and_line(tmp_path):
    path = write_csv(tmp_path / "train.csv", [HEADER, ROW, ROW[:-1] + ["7"]])
    with pytest.raises(DataFileError, match=r"train\.csv:3: label 7 is not an ending index 0\.\.3"):
        read_swag(path)
    write_csv(path, [HEADER, ROW, ROW[:5]])
    with pytest.raises(DataFileError, match=r"train\.csv:3: expected 12 columns as in the header, found 5"):
        read_swag(path)
    write_csv(path, [[key for key in HEADER if key != "ending2"], ROW[:-1]])
    with pytest.raises(DataFileError, match=r"train\.csv:1: header lacks SWAG columns \['ending2'\]"):
        read_swag(path)
    write_csv(path, [HEADER, ROW[:-1] + [""]])
    with pytest.raises(DataFileError, match=r"train\.csv:2: label '' is not an ending index"):
        read_swag(path)


def test_jsonl_errors_name_the_line(tmp_path):
    good = {"sent1": "A.", "sent2": "B", "ending0": "c.", "ending1": "d.", "ending2": "e.", "ending3": "f.", "label": 2}
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "ending3": None}) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"dev\.jsonl:2: expected key 'ending3' holding a string"):
        read_swag(path)
    path.write_text(json.dumps({**good, "label": "two"}) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"dev\.jsonl:1: label 'two' is not an ending index 0\.\.3"):
        read_swag(path)
    path.write_text(json.dumps(good) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"dev\.jsonl:2: malformed JSON"):
        read_swag(path)
    unlabelled = {key: value for key, value in good.items() if key != "label"}
    path.write_text(json.dumps(unlabelled) + "\n", encoding="utf-8")
    assert read_swag(path) == [MultipleChoiceExample("A.", ["B c.", "B d.", "B e.", "B f."], None)]


def test_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match=r"unknown extension '\.txt'; use \.csv or \.jsonl/\.json"):
        read_swag(tmp_path / "swag.txt")
