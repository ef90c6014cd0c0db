import json
import math

import pytest

from keras_bert_suite.recipes.squad_data import read_squad_file
from keras_bert_suite.recipes.squad_eval import (
    evaluate_file,
    evaluate_v1,
    evaluate_v2,
    exact_match_score,
    f1_score,
    find_best_thresh,
    is_v2_dataset,
    normalize_answer,
)
from tests.helpers.shared_data import shared


def gold_predictions(path):
    return {e.qas_id: (e.answers[0]["text"] if e.answers else "") for e in read_squad_file(path)}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The  Quick, brown fox!", "quick brown fox"),
        ("an apple a day", "apple day"),
        ("theater another", "theater another"),  # articles only as whole words
        ("A.B.C.", "abc"),
        ("Arab–Israeli", "arab–israeli"),  # the en dash is not in string.punctuation
        ("  \tthe\n", ""),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match_after_normalisation():
    assert exact_match_score("The Cat", "cat.") == 1
    assert exact_match_score("cats", "cat") == 0


def test_token_f1_by_hand():
    # pred [cat, sat] vs gold [cat, sat, on]: precision 1, recall 2/3, F1 0.8
    assert f1_score("the cat sat", "a cat sat on") == pytest.approx(0.8)
    # common = {cat: 1, dog: 1}: precision 2/3, recall 2/3
    assert f1_score("cat cat dog", "cat dog dog") == pytest.approx(2 / 3)
    assert f1_score("dog", "cat") == 0.0


def test_empty_answers_follow_each_official_script():
    assert f1_score("", "the") == 1.0  # v2.0: both "no answer"
    assert f1_score(".", ".", version_2=False) == 0.0  # v1.1: no tokens, no overlap
    assert f1_score("", "cat") == 0.0


def test_v1_gold_answers_score_100_and_empty_answers_almost_0():
    path = shared("squad_v1.1/dev-v1.1-part1.json")
    dataset = json.loads(path.read_text(encoding="utf-8"))
    golds = gold_predictions(path)
    assert evaluate_v1(dataset["data"], golds) == {"exact_match": 100.0, "f1": 100.0}
    # three questions list "." among their gold answers: "" matches it exactly but has no F1 tokens
    empty = evaluate_v1(dataset, {qas_id: "" for qas_id in golds})
    assert empty == {"exact_match": pytest.approx(100.0 * 3 / 4961), "f1": 0.0}


def test_v1_missing_predictions_count_zero_and_warn():
    path = shared("squad_v1.1/dev-v1.1-part1.json")
    golds = gold_predictions(path)
    half = dict(list(golds.items())[:2000])
    with pytest.warns(UserWarning, match="2961 questions have no prediction and score 0"):
        scores = evaluate_v1(json.loads(path.read_text(encoding="utf-8")), half)
    assert scores["exact_match"] == pytest.approx(100.0 * 2000 / 4961)


TINY_V1 = [{"paragraphs": [{"context": "", "qas": [
    {"id": "q1", "answers": [{"text": "cat sat"}, {"text": "the cat"}]},
    {"id": "q2", "answers": [{"text": "on the mat"}]},
]}]}]


def test_v1_max_over_gold_answers_by_hand():
    scores = evaluate_v1(TINY_V1, {"q1": "a cat", "q2": "mat"})
    # q1: "cat" equals the second gold (EM 1, F1 1); q2: [mat] vs [on, mat] -> EM 0, F1 2/3
    assert scores["exact_match"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(100.0 * (1 + 2 / 3) / 2)


def test_v1_refuses_unanswerable_questions():
    with pytest.raises(ValueError, match="must be scored with evaluate_v2"):
        evaluate_v1([{"paragraphs": [{"qas": [{"id": "q", "answers": []}]}]}], {"q": ""})


# h1, h2 have answers; n1, n2 do not
TINY_V2 = [{"paragraphs": [{"context": "", "qas": [
    {"id": "h1", "answers": [{"text": "Paris"}]},
    {"id": "h2", "answers": [{"text": "blue whale"}]},
    {"id": "n1", "answers": [], "is_impossible": True},
    {"id": "n2", "answers": [], "is_impossible": True},
]}]}]
TINY_V2_PREDICTIONS = {"h1": "Paris", "h2": "whale", "n1": "", "n2": "London"}
TINY_V2_NA_PROBS = {"h1": 0.1, "h2": 0.3, "n2": 0.4, "n1": 0.9}


def test_v2_splits_by_hand():
    scores = evaluate_v2(TINY_V2, TINY_V2_PREDICTIONS)
    # per question EM h1 1, h2 0, n1 1, n2 0; F1 h1 1, h2 2/3, n1 1, n2 0
    assert scores == pytest.approx({
        "exact": 50.0, "f1": 100.0 * (1 + 2 / 3 + 1) / 4, "total": 4,
        "HasAns_exact": 50.0, "HasAns_f1": 100.0 * (1 + 2 / 3) / 2, "HasAns_total": 2,
        "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2,
    })


def test_v2_best_threshold_search_by_hand():
    scores = evaluate_v2(TINY_V2, TINY_V2_PREDICTIONS, TINY_V2_NA_PROBS)
    # start: all "no answer" -> 2 right. Rising na_prob: h1 +1 (3, best at 0.1), h2 EM +0 / F1 +2/3
    # (F1 best 3.667 at 0.3), n2 predicted text -1, n1 predicted "" +0.
    assert scores["exact"] == 50.0  # na_prob_thresh 1.0 changes nothing
    assert (scores["best_exact"], scores["best_exact_thresh"]) == (75.0, 0.1)
    assert scores["best_f1"] == pytest.approx(100.0 * (3 + 2 / 3) / 4)
    assert scores["best_f1_thresh"] == 0.3


def test_v2_na_prob_threshold_turns_predictions_into_no_answer():
    scores = evaluate_v2(TINY_V2, TINY_V2_PREDICTIONS, TINY_V2_NA_PROBS, na_prob_thresh=0.35)
    # n2 (0.4) and n1 (0.9) now count as "no answer": both right
    assert scores["exact"] == 75.0 and scores["NoAns_exact"] == 100.0
    assert scores["f1"] == pytest.approx(100.0 * (1 + 2 / 3 + 1 + 1) / 4)


def test_find_best_thresh_directly():
    has_answer = {"h1": True, "n1": False}
    best = find_best_thresh({"h1": "x", "n1": "y"}, {"h1": 1.0, "n1": 0.0}, {"h1": 0.2, "n1": 0.5}, has_answer, 2)
    assert best == (100.0, 0.2)


def test_v2_missing_prediction_counts_zero():
    predictions = {k: v for k, v in TINY_V2_PREDICTIONS.items() if k != "n1"}
    with pytest.warns(UserWarning, match="1 questions have no prediction"):
        scores = evaluate_v2(TINY_V2, predictions)
    assert (scores["exact"], scores["total"], scores["NoAns_exact"]) == (25.0, 4, 0.0)


def test_v2_na_probs_must_cover_every_prediction():
    with pytest.raises(ValueError, match="1 predicted questions have no no-answer probability"):
        evaluate_v2(TINY_V2, TINY_V2_PREDICTIONS, {"h1": 0.1, "h2": 0.3, "n2": 0.4})


def test_v2_gold_predictions_score_100_on_real_files():
    for relative, total, no_answer in [("squad/haystack_small_v2.json", 626, 333), ("hf_tests_samples/SQUAD/sample.json", 14, 6)]:
        path = shared(relative)
        scores = evaluate_v2(json.loads(path.read_text(encoding="utf-8")), gold_predictions(path))
        assert (scores["exact"], scores["f1"], scores["total"], scores["NoAns_total"]) == (100.0, 100.0, total, no_answer)


def test_evaluate_file_picks_the_version(tmp_path):
    v2_path = shared("hf_tests_samples/SQUAD/dev-v2.0.json")
    predictions = gold_predictions(v2_path)
    (tmp_path / "predictions.json").write_text(json.dumps(predictions))
    (tmp_path / "null_odds.json").write_text(json.dumps({k: (-5.0 if v else math.inf) for k, v in predictions.items()}))
    scores = evaluate_file(v2_path, tmp_path / "predictions.json", tmp_path / "null_odds.json")
    assert (scores["exact"], scores["HasAns_total"], scores["NoAns_total"], scores["best_f1"]) == (100.0, 8, 6, 100.0)

    v1_path = shared("squad_v1.1/dev-v1.1-part1.json")
    (tmp_path / "v1.json").write_text(json.dumps(gold_predictions(v1_path)))
    assert evaluate_file(v1_path, tmp_path / "v1.json") == {"exact_match": 100.0, "f1": 100.0}


def test_version_detection():
    assert is_v2_dataset({"version": "v2.0", "data": []})
    assert is_v2_dataset({"version": "1.1", "data": TINY_V2})
    assert not is_v2_dataset({"version": "1.1", "data": TINY_V1})
