"""`kbs squad` recipe: fine-tune, predict files in run_squad.py's layouts, official scores."""

import argparse
import json
import math

import pytest

from keras_bert_suite.recipes import squad
from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.squad_eval import evaluate_file
from tests.helpers.shared_data import shared
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

SQUAD_V1 = "squad_v1.1/dev-v1.1-part1.json"
SQUAD_V2 = "hf_tests_samples/SQUAD/dev-v2.0.json"


def cut_squad(source, target, articles, paragraphs, questions):
    """The first `questions` questions of the first `paragraphs` paragraphs of the first `articles`."""
    data = json.loads(source.read_text(encoding="utf-8"))
    data["data"] = data["data"][:articles]
    for article in data["data"]:
        article["paragraphs"] = article["paragraphs"][:paragraphs]
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = paragraph["qas"][:questions]
    target.write_text(json.dumps(data), encoding="utf-8")
    return target


def question_ids(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    return [qa["id"] for article in data["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]]


def run_squad(flags):
    parser = argparse.ArgumentParser()
    squad.add_arguments(parser)
    return squad.run(parser.parse_args(flags))


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preset") / "tiny_bert"
    tiny_backbone().save_to_preset(folder, tokenizer=minilm_tokenizer())
    return folder


def common_flags(preset, output):
    # 64-piece windows every 32 pieces: each ~160-piece context needs several windows.
    return ["--preset", str(preset), "--output-dir", str(output), "--max-seq-length", "64",
            "--doc-stride", "32", "--batch-size", "8", "--epochs", "1"]


def assert_nbest_files(output, ids, n_best_size):
    nbest = read_json(output / "nbest_predictions.json")
    predictions = read_json(output / "predictions.json")
    assert sorted(predictions) == sorted(ids) == sorted(nbest)
    for qas_id, entries in nbest.items():
        assert 1 <= len(entries) <= n_best_size + 1  # + the no-answer entry in SQuAD 2.0
        assert all(set(entry) == {"text", "probability", "start_logit", "end_logit"} for entry in entries)
        probabilities = [entry["probability"] for entry in entries]
        assert probabilities == sorted(probabilities, reverse=True)
        assert math.isclose(sum(probabilities), 1.0, rel_tol=1e-9)
    return predictions, nbest


def test_v1_train_then_predict_writes_original_files_and_official_scores(tiny_preset, tmp_path):
    data = cut_squad(shared(SQUAD_V1), tmp_path / "squad.json", articles=1, paragraphs=1, questions=3)
    ids = question_ids(data)
    output = tmp_path / "out"
    flags = common_flags(tiny_preset, output) + ["--train-file", str(data), "--predict-file", str(data)]

    with pytest.warns(UserWarning, match="head starts untrained"):
        metrics = run_squad(flags + ["--do-train", "--do-predict", "--n-best-size", "5"])

    for name in ("model.keras", "history.json", "training_curves.png", "eval_results.json"):
        assert (output / name).is_file(), name
    assert not (output / "null_odds.json").exists()
    predictions, nbest = assert_nbest_files(output, ids, n_best_size=5)
    assert all(predictions[qas_id] == nbest[qas_id][0]["text"] for qas_id in ids)
    assert set(metrics) == {"exact_match", "f1"}
    assert all(0.0 <= value <= 100.0 for value in metrics.values())
    assert read_json(output / "eval_results.json") == metrics
    assert evaluate_file(data, output / "predictions.json") == metrics

    # Without --do-train, the saved model answers: the same predictions again.
    again = tmp_path / "again"
    again.mkdir()
    (output / "model.keras").rename(again / "model.keras")
    reloaded = run_squad(common_flags(tiny_preset, again) + ["--predict-file", str(data), "--do-predict",
                                                             "--n-best-size", "5"])
    assert reloaded == metrics
    assert read_json(again / "nbest_predictions.json") == nbest


def test_v2_predict_writes_null_odds_and_no_answer_scores(tiny_preset, tmp_path):
    data = cut_squad(shared(SQUAD_V2), tmp_path / "squad2.json", articles=2, paragraphs=1, questions=5)
    ids = question_ids(data)
    output = tmp_path / "out"
    flags = common_flags(tiny_preset, output) + ["--predict-file", str(data), "--version-2-with-negative"]

    with pytest.warns(UserWarning, match="head starts untrained"):
        metrics = run_squad(flags + ["--do-predict", "--null-score-diff-threshold", "0.5"])

    predictions, nbest = assert_nbest_files(output, ids, n_best_size=20)
    null_odds = read_json(output / "null_odds.json")
    assert sorted(null_odds) == sorted(ids)
    for qas_id in ids:
        assert any(entry["text"] == "" for entry in nbest[qas_id])
        assert (predictions[qas_id] == "") == (null_odds[qas_id] > 0.5)
    assert metrics["total"] == len(ids) == 7
    assert metrics["HasAns_total"] + metrics["NoAns_total"] == 7
    assert {"best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"} <= set(metrics)
    assert all(0.0 <= metrics[key] <= 100.0 for key in ("exact", "f1", "HasAns_f1", "NoAns_f1", "best_f1"))
    assert read_json(output / "eval_results.json") == metrics
    assert evaluate_file(data, output / "predictions.json", output / "null_odds.json") == metrics


def test_mismatched_answer_stops_before_training_naming_file_and_question(tiny_preset, tmp_path):
    data = cut_squad(shared(SQUAD_V1), tmp_path / "bad.json", articles=1, paragraphs=1, questions=2)
    content = read_json(data)
    content["data"][0]["paragraphs"][0]["qas"][1]["answers"][0]["answer_start"] = 0
    data.write_text(json.dumps(content), encoding="utf-8")
    output = tmp_path / "out"

    with pytest.raises(DataFileError, match=r"bad\.json: question '56be4db0acb8001400a502ed' "
                       r"\(data\[0\]\.paragraphs\[0\]\.qas\[1\]\): answer 'Carolina Panthers' is not at"):
        run_squad(common_flags(tiny_preset, output) + ["--train-file", str(data), "--do-train"])
    assert not output.exists()


def test_squad2_training_file_needs_the_version_2_flag(tiny_preset, tmp_path):
    data = cut_squad(shared(SQUAD_V2), tmp_path / "squad2.json", articles=2, paragraphs=1, questions=5)
    with pytest.raises(ValueError, match=r"squad2\.json holds 3 questions without an answer .*"
                       r"--version-2-with-negative"):
        run_squad(common_flags(tiny_preset, tmp_path / "out") + ["--train-file", str(data), "--do-train"])


def test_flags_keep_run_squad_defaults_and_missing_inputs_are_named(tmp_path):
    parser = argparse.ArgumentParser()
    squad.add_arguments(parser)
    args = parser.parse_args(["--output-dir", str(tmp_path)])
    assert (args.max_seq_length, args.doc_stride, args.max_query_length) == (384, 128, 64)
    assert (args.n_best_size, args.max_answer_length, args.null_score_diff_threshold) == (20, 30, 0.0)
    assert (args.learning_rate, args.epochs, args.batch_size) == (3e-5, 2, 12)
    with pytest.raises(ValueError, match="Nothing to do"):
        squad.run(args)
    with pytest.raises(ValueError, match="--do-predict needs --predict-file"):
        squad.run(parser.parse_args(["--output-dir", str(tmp_path), "--do-predict"]))
