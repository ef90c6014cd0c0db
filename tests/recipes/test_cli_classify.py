"""`kbs` end to end: classify (GLUE folders and own files), help, errors, presets, squad-eval."""

import json

import keras
import numpy as np
import pytest

from keras_bert_suite.cli import main
from tests.helpers.shared_data import shared
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

ORIGINAL_EVAL_KEYS = {"eval_accuracy", "eval_loss", "global_step", "loss"}


def shared_data():
    return shared()


def copy_head(source, target, lines):
    """The first `lines` lines of `source` (bytes as they are, BOM included) into `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as handle:
        target.write_bytes(b"".join(handle.readline() for _ in range(lines)))
    return target


def read_eval_results(path):
    pairs = (line.split(" = ") for line in path.read_text(encoding="utf-8").splitlines())
    return {key: float(value) for key, value in pairs}


def write_tsv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preset") / "tiny_bert"
    tiny_backbone().save_to_preset(folder, tokenizer=minilm_tokenizer())
    return folder


@pytest.fixture(scope="module")
def mrpc_run(tiny_preset, tmp_path_factory):
    """32 train / 16 dev / 8 test MRPC pairs, one epoch of batch 16, sequence 32."""
    mrpc = shared_data() / "mrpc"
    data = tmp_path_factory.mktemp("mrpc")
    copy_head(mrpc / "train.tsv", data / "train.tsv", 33)
    copy_head(mrpc / "dev.tsv", data / "dev.tsv", 17)
    copy_head(mrpc / "test.tsv", data / "test.tsv", 9)
    output = tmp_path_factory.mktemp("run") / "mrpc_out"
    flags = ["--task", "mrpc", "--data-dir", str(data), "--preset", str(tiny_preset), "--output-dir", str(output),
             "--max-seq-length", "32", "--batch-size", "16", "--learning-rate", "2e-5", "--epochs", "1"]
    code = main(["classify", *flags, "--do-train", "--do-eval", "--do-predict"])
    return code, flags, data, output


def test_classify_mrpc_writes_model_eval_results_and_test_results(mrpc_run):
    code, _, data, output = mrpc_run
    assert code == 0
    for name in ("model.keras", "eval_results.txt", "test_results.tsv", "training_curves.png", "history.json"):
        assert (output / name).is_file(), name
    assert any((output / "logs").rglob("*tfevents*"))
    assert json.loads((output / "labels.json").read_text()) == ["0", "1"]

    results = read_eval_results(output / "eval_results.txt")
    assert set(results) == ORIGINAL_EVAL_KEYS | {"eval_acc", "eval_f1", "eval_acc_and_f1"}
    assert results["global_step"] == 2  # 32 examples / batch 16 x 1 epoch
    assert 0.0 <= results["eval_accuracy"] <= 1.0 and results["eval_acc"] == results["eval_accuracy"]
    assert results["eval_acc_and_f1"] == pytest.approx((results["eval_acc"] + results["eval_f1"]) / 2)
    assert 0.0 < results["eval_loss"] < 5.0 and results["loss"] == pytest.approx(results["eval_loss"])

    # The numbers are those of the saved model on the dev and test texts.
    model = keras.saving.load_model(output / "model.keras")
    dev_rows = [line.split("\t") for line in (data / "dev.tsv").read_text(encoding="utf-8-sig").splitlines()[1:]]
    test_rows = [line.split("\t") for line in (data / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    rows = dev_rows + test_rows
    packed = model.preprocessor(([r[3] for r in rows], [r[4] for r in rows]))
    logits = keras.ops.convert_to_numpy(model(packed, training=False)).astype(np.float64)
    dev_logits, test_logits = logits[:16], logits[16:]
    gold = np.array([int(r[0]) for r in dev_rows])
    assert results["eval_accuracy"] == pytest.approx(np.mean(dev_logits.argmax(-1) == gold))
    log_probs = dev_logits - np.log(np.exp(dev_logits).sum(-1, keepdims=True))
    assert results["eval_loss"] == pytest.approx(-np.mean(log_probs[np.arange(16), gold]), rel=1e-5)

    lines = (output / "test_results.tsv").read_text().splitlines()
    assert len(lines) == len(test_rows) == 8
    probabilities = np.array([[float(v) for v in line.split("\t")] for line in lines])
    assert probabilities.shape == (8, 2)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-6)
    expected = np.exp(test_logits) / np.exp(test_logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)


def test_classify_eval_only_reloads_the_saved_model(mrpc_run, capsys):
    code, flags, _, output = mrpc_run
    assert code == 0
    before = read_eval_results(output / "eval_results.txt")
    assert main(["classify", *flags, "--do-eval"]) == 0
    after = read_eval_results(output / "eval_results.txt")
    assert after["global_step"] == 2
    assert after == pytest.approx(before, abs=1e-6)
    assert "***** Eval results *****" in capsys.readouterr().out


def test_another_recipes_saved_model_exits_2_naming_what_is_needed(mrpc_run, tmp_path, capsys):
    output = mrpc_run[3]
    squad = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "Paris is in France.", "qas": [
        {"id": "q1", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]}]}]}]}
    (tmp_path / "dev.json").write_text(json.dumps(squad))
    (tmp_path / "model.keras").write_bytes((output / "model.keras").read_bytes())
    assert main(["squad", "--output-dir", str(tmp_path), "--predict-file", str(tmp_path / "dev.json"),
                 "--do-predict", "--max-seq-length", "32"]) == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / 'model.keras'} is not a BertQuestionAnswerer with a tokenizer; pass another --output-dir" in error


def test_classify_mnli_scores_matched_and_mismatched(tiny_preset, tmp_path):
    data = tmp_path / "MNLI"
    header = [f"column{i}" for i in range(8)] + ["sentence1", "sentence2", "gold_label"]
    labels = ["entailment", "neutral", "contradiction", "neutral", "entailment"]
    rows = [[str(i)] * 8 + [f"a man plays {i} songs", f"someone makes music {i}", label]
            for i, label in enumerate(labels)]
    write_tsv(data / "dev_matched.tsv", [header, *rows])
    write_tsv(data / "dev_mismatched.tsv", [header, *rows[:3]])
    write_tsv(data / "test_matched.tsv", [header[:10], *(row[:10] for row in rows[:4])])
    write_tsv(data / "test_mismatched.tsv", [header[:10], *(row[:10] for row in rows[:2])])
    output = tmp_path / "out"
    code = main(["classify", "--task", "MNLI", "--data-dir", str(data), "--preset", str(tiny_preset),
                 "--output-dir", str(output), "--max-seq-length", "16", "--do-eval", "--do-predict"])
    assert code == 0
    for suffix, count in (("", 4), ("_mismatched", 2)):
        results = read_eval_results(output / f"eval_results{suffix}.txt")
        assert set(results) == ORIGINAL_EVAL_KEYS | {"eval_acc"}
        assert results["global_step"] == 0  # the preset's untrained head
        lines = (output / f"test_results{suffix}.tsv").read_text().splitlines()
        assert len(lines) == count and all(len(line.split("\t")) == 3 for line in lines)
    assert not (output / "model.keras").exists()


def test_classify_own_csv_files_take_the_sorted_labels(tiny_preset, tmp_path, capsys):
    source = shared_data() / "hf_tests_samples" / "MRPC" / "train.csv"
    output = tmp_path / "out"
    code = main(["classify", "--dev-file", str(source), "--test-file", str(source),
                 "--text-a", "sentence1", "--text-b", "sentence2", "--label", "label",
                 "--preset", str(tiny_preset), "--output-dir", str(output), "--max-seq-length", "32",
                 "--eval-batch-size", "4", "--do-eval", "--do-predict"])
    assert code == 0
    assert "Examples: 0 train, 6 dev, 6 test; classes: ['equivalent', 'not_equivalent']" in capsys.readouterr().out
    results = read_eval_results(output / "eval_results.txt")
    assert set(results) == ORIGINAL_EVAL_KEYS | {"eval_acc"}
    assert results["global_step"] == 0
    lines = (output / "test_results.tsv").read_text().splitlines()
    assert len(lines) == 6 and all(len(line.split("\t")) == 2 for line in lines)


def test_classify_stsb_regression_writes_one_score_per_line(tiny_preset, tmp_path):
    data = tmp_path / "STS-B"
    header = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2",
              "score"]
    rows = [[str(i), "main-news", "f", "2012", "0", "s", "s", f"a plane takes off {i}", f"an air plane {i}", score]
            for i, score in enumerate(["5.000", "3.800", "0.500", "2.250"])]
    write_tsv(data / "dev.tsv", [header, *rows])
    write_tsv(data / "test.tsv", [header[:9], *(row[:9] for row in rows)])
    output = tmp_path / "out"
    code = main(["classify", "--task", "sts-b", "--data-dir", str(data), "--preset", str(tiny_preset),
                 "--output-dir", str(output), "--max-seq-length", "16", "--do-eval", "--do-predict"])
    assert code == 0
    results = read_eval_results(output / "eval_results.txt")
    assert set(results) == {"eval_loss", "global_step", "loss", "eval_pearson", "eval_spearmanr", "eval_corr"}
    assert -1.0 <= results["eval_pearson"] <= 1.0
    lines = (output / "test_results.tsv").read_text().splitlines()
    assert len(lines) == 4 and all("\t" not in line for line in lines)
    scores = [float(line) for line in lines]
    assert np.all(np.isfinite(scores))


def test_bad_data_file_exits_2_naming_file_and_line(tmp_path, capsys):
    data = tmp_path / "train.csv"
    data.write_text("label,sentence1,sentence2\n1,a,b\n", encoding="utf-8")
    code = main(["classify", "--train-file", str(data), "--text-a", "sentence", "--output-dir", str(tmp_path / "o"),
                 "--do-train"])
    assert code == 2
    error = capsys.readouterr().err
    assert f"kbs classify: error: {data}:1: column 'sentence' (for text_a) is not in the header" in error
    assert "Traceback" not in error


def test_bad_glue_label_exits_2_naming_the_line(tmp_path, capsys):
    write_tsv(tmp_path / "dev.tsv", [["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                                     ["1", "1", "2", "a", "b"], ["yes", "3", "4", "c", "d"]])
    code = main(["classify", "--task", "mrpc", "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "o"),
                 "--do-eval"])
    assert code == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / 'dev.tsv'}:3: label 'yes' is not one of the mrpc labels" in error
    assert "Traceback" not in error


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--task", "mrcp", "--data-dir", "x", "--do-eval"], "Unknown GLUE task 'mrcp'"),
        (["--task", "mrpc", "--data-dir", "x"], "Nothing to do: pass --do-train"),
        (["--do-train"], "Pass --task with --data-dir"),
        (["--task", "mrpc", "--data-dir", "missing_folder", "--do-train"], "expects missing_folder/train.tsv"),
    ],
)
def test_classify_user_errors_exit_2(flags, message, tmp_path, capsys):
    assert main(["classify", "--output-dir", str(tmp_path), *flags]) == 2
    error = capsys.readouterr().err
    assert error.startswith("kbs classify: error: ") and message in error


def help_text(capsys, *command):
    """`kbs <command> --help` output, whitespace collapsed (argparse wraps to the terminal width)."""
    assert main([*command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_of_every_subcommand_shows_defaults(capsys):
    listing = help_text(capsys)
    for command in ("classify", "squad", "ner", "swag", "extract-features", "squad-eval", "presets"):
        assert f" {command} " in listing
    text = help_text(capsys, "classify")
    assert "(default: 128)" in text and "(default: 32)" in text and "(default: minilm_l6_h384_uncased)" in text
    assert "(default: -1,-2,-3,-4)" in help_text(capsys, "extract-features")
    assert "(default: 384)" in help_text(capsys, "squad")  # run_squad.py's max_seq_length
    for command in ("ner", "swag", "squad-eval"):
        assert "(default: " in help_text(capsys, command)


def test_missing_required_flag_exits_2(capsys):
    assert main(["classify", "--do-train"]) == 2
    assert "the following arguments are required: --output-dir" in capsys.readouterr().err


def test_presets_lists_names_casing_and_size(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "casing", "layers", "hidden", "heads", "parameters", "download"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["bert_base_uncased"][1:] == ["uncased", "12", "768", "12", "109.5M", "408", "MB"]
    assert rows["bert_large_cased"][1] == "cased"
    assert rows["minilm_l6_h384_uncased"][1:3] == ["(default)", "uncased"]


SQUAD_V1 = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{
    "context": "The Denver Broncos played in Santa Clara, California.",
    "qas": [
        {"id": "q1", "question": "Who played?", "answers": [{"text": "Denver Broncos", "answer_start": 4}]},
        {"id": "q2", "question": "Where?", "answers": [{"text": "Santa Clara, California", "answer_start": 29}]},
    ]}]}]}


def test_squad_eval_prints_the_official_v1_json(tmp_path, capsys):
    data, predictions = tmp_path / "dev.json", tmp_path / "predictions.json"
    data.write_text(json.dumps(SQUAD_V1))
    # q1 exact after normalisation; q2 has 2 of 3 gold tokens: precision 1, recall 2/3, F1 0.8.
    predictions.write_text(json.dumps({"q1": "the Denver Broncos!", "q2": "Santa Clara"}))
    assert main(["squad-eval", str(data), str(predictions)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == pytest.approx({"exact_match": 50.0, "f1": 90.0})


def test_squad_eval_v2_with_no_answer_probabilities_to_out_file(tmp_path, capsys):
    dataset = json.loads(json.dumps(SQUAD_V1))
    dataset["version"] = "v2.0"
    dataset["data"][0]["paragraphs"][0]["qas"].append(
        {"id": "q3", "question": "Who won?", "answers": [], "is_impossible": True})
    data, predictions, na_probs = tmp_path / "dev.json", tmp_path / "p.json", tmp_path / "null_odds.json"
    data.write_text(json.dumps(dataset))
    predictions.write_text(json.dumps({"q1": "Denver Broncos", "q2": "Santa Clara", "q3": ""}))
    na_probs.write_text(json.dumps({"q1": 0.1, "q2": 0.2, "q3": 0.9}))
    out = tmp_path / "eval.json"
    assert main(["squad-eval", str(data), str(predictions), "--na-prob-file", str(na_probs),
                 "--out-file", str(out)]) == 0
    assert capsys.readouterr().out == ""
    results = json.loads(out.read_text())
    assert results["total"] == 3 and results["HasAns_total"] == 2 and results["NoAns_total"] == 1
    assert results["exact"] == pytest.approx(200 / 3)
    assert results["f1"] == pytest.approx(280 / 3)
    assert results["NoAns_exact"] == 100.0 and results["best_f1"] == pytest.approx(280 / 3)


def test_squad_eval_missing_file_exits_2(tmp_path, capsys):
    assert main(["squad-eval", str(tmp_path / "nope.json"), str(tmp_path / "p.json")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("kbs squad-eval: error: ") and "nope.json" in error and "Traceback" not in error
