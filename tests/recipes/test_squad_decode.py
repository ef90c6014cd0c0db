import dataclasses
import json
import math
import re

import numpy as np
import pytest

from keras_bert_suite.recipes.squad_data import make_examples, read_squad_file
from keras_bert_suite.recipes.squad_decode import (
    _basic_tokenize,
    decode_predictions,
    get_final_text,
    write_prediction_files,
)
from keras_bert_suite.recipes.squad_eval import evaluate_v1, evaluate_v2
from keras_bert_suite.recipes.squad_windows import make_features
from tests.helpers.shared_data import shared


def word_tokenize(text):
    """One lowercase piece per whitespace word."""
    return [(5, word) for word in text.lower().split()]


def two_char_tokenize(text):
    """Punctuation split off, then 2-character pieces ("smith" -> sm ##it ##h)."""
    return [
        (5, word[i : i + 2] if i == 0 else "##" + word[i : i + 2])
        for word in re.findall(r"\w+|[^\w\s]", text.lower())
        for i in range(0, len(word), 2)
    ]


def basic_three_char_tokenize(text):
    """Google's basic tokenization, then 3-character pieces: a WordPiece look-alike."""
    return [
        (5, token[i : i + 3] if i == 0 else "##" + token[i : i + 3])
        for token in _basic_tokenize(text, do_lower_case=True)
        for i in range(0, len(token), 3)
    ]


def setup(questions, contexts, tokenize=word_tokenize, max_seq_length=16, **options):
    examples = make_examples(questions, contexts)
    features = make_features(examples, tokenize, cls_id=1, sep_id=2, max_seq_length=max_seq_length, **options)
    shape = (len(features), max_seq_length)
    return examples, features, np.zeros(shape, "float32"), np.zeros(shape, "float32")


def test_basic_tokenize_follows_google():
    assert _basic_tokenize("Hello, Wörld!\x00 中文", do_lower_case=True) == ["hello", ",", "world", "!", "中", "文"]
    assert _basic_tokenize("Wörld's", do_lower_case=False) == ["Wörld", "'", "s"]


@pytest.mark.parametrize(
    "pred_text, orig_text, do_lower_case, expected",
    [
        ("steve smith", "Steve Smith's", True, "Steve Smith"),
        ("denver broncos", "Denver Broncos.", True, "Denver Broncos"),
        ("1895", "(1895-1943).", True, "1895"),
        ("cafe", "Café!", True, "Café"),
        ("Steve", "Steve's", False, "Steve"),
        ("steve", "Steve's", False, "Steve's"),  # cased text cannot be found: whole words
        ("xyz", "Steve Smith", True, "Steve Smith"),
    ],
)
def test_get_final_text(pred_text, orig_text, do_lower_case, expected):
    assert get_final_text(pred_text, orig_text, do_lower_case) == expected


def test_nbest_ranked_by_summed_logits_with_softmax_probabilities():
    examples, features, start, end = setup(["what jumps?"], ["The quick brown fox jumps over the lazy dog"])
    # tokens: [CLS] what jumps? [SEP] the(4) quick(5) brown(6) fox(7) ...
    start[0, 6], start[0, 7] = 5.0, 3.0
    end[0, 7], end[0, 6] = 4.0, 1.0
    result = decode_predictions(examples, features, start, end, n_best_size=3)
    assert result.predictions == {"0": "brown fox"}
    assert result.null_odds is None
    nbest = result.nbest["0"]
    assert [(e["text"], e["start_logit"], e["end_logit"]) for e in nbest] == [
        ("brown fox", 5.0, 4.0), ("fox", 3.0, 4.0), ("brown", 5.0, 1.0)
    ]
    expected = np.exp([9.0, 7.0, 6.0]) / np.exp([9.0, 7.0, 6.0]).sum()
    np.testing.assert_allclose([e["probability"] for e in nbest], expected, rtol=1e-12)
    assert math.isclose(sum(e["probability"] for e in nbest), 1.0)
    assert [(e["start"], e["end"]) for e in nbest] == [(10, 19), (16, 19), (10, 15)]


def test_a_start_outside_its_max_context_window_is_rejected():
    context = " ".join(f"a{i}" for i in range(10))
    examples, features, start, end = setup(["q"], [context], max_seq_length=9, doc_stride=2)
    # windows over words 0-4, 2-6, 4-8, 6-9; the context begins at index 3
    assert len(features) == 4 and features[1].tokens[3] == "a2"
    assert not features[1].token_is_max_context[3]  # a2 is centred better in window 0
    start[1, 3] = end[1, 3] = 10.0  # strong, but in the wrong window
    start[0, 4] = end[0, 4] = 2.0  # "a1" in its own best window
    result = decode_predictions(examples, features, start, end)
    assert result.predictions == {"0": "a1"}
    assert max(entry["start_logit"] for entry in result.nbest["0"]) == 2.0  # the 10.0 start never ranks


def test_spans_longer_than_max_answer_length_are_dropped():
    examples, features, start, end = setup(["q"], ["a b c d e"])
    start[0, 3], end[0, 7], end[0, 4] = 5.0, 5.0, 1.0  # a..e (5 words) beats a..b
    assert decode_predictions(examples, features, start, end).predictions == {"0": "a b c d e"}
    assert decode_predictions(examples, features, start, end, max_answer_length=4).predictions == {"0": "a b"}


def null_case(null_logit):
    examples, features, start, end = setup(["c?"], ["red green blue"], max_seq_length=8)
    # tokens: [CLS] c? [SEP] red(3) green(4) blue(5) [SEP]
    start[0, 0] = end[0, 0] = null_logit
    start[0, 4], end[0, 4] = 3.0, 2.0
    return examples, features, start, end


@pytest.mark.parametrize("threshold, expected", [(0.0, "green"), (-1.0, "green"), (-1.5, "")])
def test_null_answer_flips_as_the_threshold_crosses_the_score_difference(threshold, expected):
    result = decode_predictions(*null_case(2.0), version_2_with_negative=True, null_score_diff_threshold=threshold)
    assert result.null_odds == {"0": -1.0}  # null 2 + 2 minus best 3 + 2
    assert result.predictions == {"0": expected}
    assert [(e["text"], e["start_logit"], e["end_logit"]) for e in result.nbest["0"][:2]] == [("green", 3.0, 2.0), ("", 2.0, 2.0)]


def test_null_answer_ranked_first_when_it_scores_highest():
    result = decode_predictions(*null_case(6.0), version_2_with_negative=True)
    assert result.predictions == {"0": ""}
    assert result.null_odds == {"0": 7.0}
    assert result.nbest["0"][0]["text"] == "" and result.nbest["0"][1]["text"] == "green"


def test_null_score_is_the_smallest_over_windows():
    context = " ".join(f"a{i}" for i in range(10))
    examples, features, start, end = setup(["q"], [context], max_seq_length=9, doc_stride=2)
    for row, (s, e) in enumerate([(3.0, 3.0), (1.0, 0.0), (4.0, 4.0), (2.0, 2.0)]):
        start[row, 0], end[row, 0] = s, e
    start[0, 4] = end[0, 4] = 2.0
    result = decode_predictions(examples, features, start, end, version_2_with_negative=True)
    assert result.null_odds == {"0": 1.0 - 4.0}
    assert result.predictions == {"0": "a1"}
    null_entry = next(e for e in result.nbest["0"] if e["text"] == "")
    assert (null_entry["start_logit"], null_entry["end_logit"]) == (1.0, 0.0)


def test_no_valid_span_gives_the_empty_placeholder():
    examples, features, start, end = setup(["q"], ["a b"])
    start[0, 0] = end[0, 0] = 5.0
    v1 = decode_predictions(examples, features, start, end, n_best_size=1)
    assert v1.predictions == {"0": "empty"}
    assert [(e["text"], e["probability"]) for e in v1.nbest["0"]] == [("empty", 1.0)]
    v2 = decode_predictions(examples, features, start, end, n_best_size=1, version_2_with_negative=True)
    assert v2.predictions == {"0": ""} and v2.null_odds == {"0": 10.0}
    assert [e["text"] for e in v2.nbest["0"]] == ["empty", ""]
    np.testing.assert_allclose([e["probability"] for e in v2.nbest["0"]], [1 / (1 + np.exp(10)), 1 / (1 + np.exp(-10))])
    lenient = decode_predictions(examples, features, start, end, n_best_size=1, version_2_with_negative=True,
                                 null_score_diff_threshold=20.0)
    assert lenient.predictions == {"0": "empty"}


def test_example_without_windows():
    examples = make_examples(["q"], ["   "])
    empty = np.zeros((0, 16))
    assert decode_predictions(examples, [], empty, empty).predictions == {"0": "empty"}
    assert decode_predictions(examples, [], empty, empty, version_2_with_negative=True).predictions == {"0": ""}


def test_pieces_are_joined_and_mapped_back_onto_the_original_words():
    examples, features, start, end = setup(["who?"], ["Steve Smithson's bat"], tokenize=two_char_tokenize, max_seq_length=20)
    assert features[0].tokens[5:12] == ["st", "##ev", "##e", "sm", "##it", "##hs", "##on"]
    start[0, 5] = end[0, 11] = 5.0
    top = decode_predictions(examples, features, start, end).nbest["0"][0]
    assert (top["text"], top["start"], top["end"]) == ("Steve Smithson", 0, 14)


def test_character_offsets_follow_the_context_whitespace():
    examples, features, start, end = setup(["q"], ["Go  to\n Paris now"])
    start[0, 4] = end[0, 5] = 5.0  # "to Paris"
    top = decode_predictions(examples, features, start, end).nbest["0"][0]
    assert (top["text"], top["start"], top["end"]) == ("to Paris", 4, 13)
    assert examples[0].context[4:13] == "to\n Paris"


def test_logits_that_do_not_match_the_features_are_rejected():
    examples, features, start, end = setup(["q"], ["a b"])
    with pytest.raises(ValueError, match=r"logits for 2 windows but 1 features"):
        decode_predictions(examples, features, np.zeros((2, 16)), np.zeros((2, 16)))
    with pytest.raises(ValueError, match=r"must both be \[num_features, seq_length\]"):
        decode_predictions(examples, features, start, end[:, :8])
    with pytest.raises(ValueError, match="only 1 examples were given"):
        stray = dataclasses.replace(features[0], example_index=3)
        decode_predictions(examples, [features[0], stray], np.zeros((2, 16)), np.zeros((2, 16)))


def test_prediction_files(tmp_path):
    result = decode_predictions(*null_case(2.0), version_2_with_negative=True)
    paths = write_prediction_files(tmp_path / "out", *result)
    assert [path.name for path in paths] == ["predictions.json", "nbest_predictions.json", "null_odds.json"]
    text = (tmp_path / "out" / "predictions.json").read_text()
    assert text == '{\n    "0": "green"\n}\n'
    nbest = json.loads((tmp_path / "out" / "nbest_predictions.json").read_text())
    assert list(nbest["0"][0]) == ["text", "probability", "start_logit", "end_logit"]
    assert nbest["0"][0]["text"] == "green"
    assert json.loads((tmp_path / "out" / "null_odds.json").read_text()) == {"0": -1.0}
    v1_paths = write_prediction_files(tmp_path / "v1", {"0": "x"}, {"0": []})
    assert [path.name for path in v1_paths] == ["predictions.json", "nbest_predictions.json"]
    assert sorted(p.name for p in (tmp_path / "v1").iterdir()) == ["nbest_predictions.json", "predictions.json"]


def gold_logits(features, max_seq_length):
    start = np.zeros((len(features), max_seq_length), "float32")
    end = np.zeros_like(start)
    for row, feature in enumerate(features):
        start[row, feature.start_position] = end[row, feature.end_position] = 10.0
    return start, end


def test_round_trip_squad_v1_gold_spans_decode_to_the_gold_answers():
    examples = read_squad_file(shared("squad_v1.1/dev-v1.1-part1.json"), is_training=True).examples[:300]
    features = make_features(
        examples, basic_three_char_tokenize, cls_id=1, sep_id=2, max_seq_length=128, doc_stride=64, is_training=True
    )
    result = decode_predictions(examples, features, *gold_logits(features, 128))
    # answers that are whole pieces (not part of a piece) and at most 30 pieces long are recoverable
    recoverable = set()
    for feature in features:
        answer = " ".join(piece for _, piece in basic_three_char_tokenize(examples[feature.example_index].answers[0]["text"]))
        span = feature.tokens[feature.start_position : feature.end_position + 1]
        if feature.start_position and " ".join(span) == answer and len(span) <= 30:
            recoverable.add(feature.example_index)
    assert len(recoverable) == 287
    sample = [examples[index] for index in sorted(recoverable)]
    assert all(result.predictions[e.qas_id] == e.answers[0]["text"] for e in sample)
    assert evaluate_v1(sample, result.predictions) == {"exact_match": 100.0, "f1": 100.0}
    for example in sample:
        top = result.nbest[example.qas_id][0]
        assert example.context[top["start"] : top["end"]] == top["text"]


def test_round_trip_squad_v2_predicts_no_answer_for_impossible_questions():
    examples = read_squad_file(shared("squad/haystack_small_v2.json"), is_training=True).examples[:200]
    features = make_features(
        examples, basic_three_char_tokenize, cls_id=1, sep_id=2, max_seq_length=128, doc_stride=64, is_training=True
    )
    result = decode_predictions(examples, features, *gold_logits(features, 128), version_2_with_negative=True)
    scores = evaluate_v2(examples, result.predictions, result.null_odds)
    assert scores["exact"] == 100.0 and scores["NoAns_total"] == sum(e.is_impossible for e in examples)
    assert all(result.predictions[e.qas_id] == "" for e in examples if e.is_impossible)
