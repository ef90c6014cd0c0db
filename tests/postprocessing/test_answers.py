"""SQuAD decoding: `spans.span_candidates` (TensorFlow ops) + `answers.decode_answers` (Python)
+ `recipes.squad_decode` (files), on windows from tiny real WordPiece vocabularies.

`words` holds whole words only, so each word is one piece once punctuation is split off;
`two_char` holds 2-character pieces ("smithson" -> sm ##it ##hs ##on). Logits are set by hand
at window positions; the layout of each window is asserted first.
"""

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.postprocessing.answers import _basic_tokenize, decode_answers, get_final_text
from keras_bert_suite.postprocessing.spans import best_spans, span_candidates
from keras_bert_suite.preprocessing.squad_examples import answer_word_chars, make_examples
from keras_bert_suite.preprocessing.squad_windows import make_windows
from keras_bert_suite.recipes.squad_data import read_squad_file
from keras_bert_suite.recipes.squad_decode import squad_predictions, write_prediction_files
from keras_bert_suite.recipes.squad_eval import evaluate_v1, evaluate_v2
from keras_bert_suite.tokenizers import WordPieceTokenizer
from tests.helpers.minilm import minilm_folder
from tests.helpers.shared_data import shared
from tests.helpers.squad_reference import prelim_predictions, reference_features, reference_predictions
from tests.helpers.tasks import minilm_tokenizer
from tests.tokenizers.google_reference import GoogleFullTokenizer

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("what jumps ? the quick brown fox over lazy dog q a b c d e red green blue go to paris now "
         + " ".join(f"a{i}" for i in range(10))).split()
TWO_CHAR = ["wh", "##o", "?", "st", "##ev", "##e", "sm", "##it", "##hs", "##on", "'", "s", "ba", "##t"]


def wordpiece(tmp_path_factory, name, tokens):
    path = tmp_path_factory.mktemp(name) / "vocab.txt"
    path.write_text("\n".join(SPECIAL + tokens) + "\n", encoding="utf-8")
    return WordPieceTokenizer(str(path), lowercase=True)


@pytest.fixture(scope="module")
def words(tmp_path_factory):
    return wordpiece(tmp_path_factory, "words", WORDS)


@pytest.fixture(scope="module")
def two_char(tmp_path_factory):
    return wordpiece(tmp_path_factory, "two_char", TWO_CHAR)


def tokens_of(tokenizer, windows):
    """Each window's tokens, unpadded."""
    vocabulary = tokenizer.get_vocabulary()
    return [[vocabulary[i] for i, m in zip(ids, mask) if m]
            for ids, mask in zip(windows["inputs"]["token_ids"].numpy(), windows["inputs"]["padding_mask"].numpy())]


def setup(tokenizer, questions, contexts, sequence_length=16, doc_stride=128, max_query_length=64,
          answers=None):
    examples = make_examples(questions, contexts, answers)
    targets = {}
    if answers is not None:
        texts = [answer["text"] if answer else "" for answer in answers]
        targets = dict(answer_chars=answer_word_chars(examples), answer_texts=tf.constant(texts, tf.string))
    windows = make_windows(tokenizer, tf.constant(questions, tf.string), tf.constant(contexts, tf.string),
                           sequence_length=sequence_length, doc_stride=doc_stride,
                           max_query_length=max_query_length, **targets)
    shape = (int(windows["inputs"]["token_ids"].shape[0]), sequence_length)
    return examples, windows, np.zeros(shape, "float32"), np.zeros(shape, "float32")


def decode(tokenizer, examples, windows, start, end, n_best_size=20, max_answer_length=30, **options):
    """`span_candidates` + `decode_answers` + `squad_predictions`: what `kbs squad` writes."""
    candidates, null = span_candidates(windows, start, end, n_best_size=n_best_size,
                                       max_answer_length=max_answer_length)
    decoded = decode_answers([example.context for example in examples], windows, candidates, null,
                             tokenizer.get_vocabulary(), n_best_size=n_best_size, **options)
    return squad_predictions(examples, decoded)


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


def test_nbest_ranked_by_summed_logits_with_softmax_probabilities(words):
    examples, windows, start, end = setup(words, ["what jumps?"], ["The quick brown fox jumps over the lazy dog"])
    assert tokens_of(words, windows)[0][:9] == ["[CLS]", "what", "jumps", "?", "[SEP]", "the", "quick", "brown", "fox"]
    start[0, 7], start[0, 8] = 5.0, 3.0  # brown, fox
    end[0, 8], end[0, 7] = 4.0, 1.0
    result = decode(words, examples, windows, start, end, n_best_size=3)
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


def test_a_start_outside_its_max_context_window_is_rejected(words):
    context = " ".join(f"a{i}" for i in range(10))
    examples, windows, start, end = setup(words, ["q"], [context], sequence_length=9, doc_stride=2)
    # windows over words 0-4, 2-6, 4-8, 6-9; the context begins at index 3
    assert windows["num_windows"].numpy().tolist() == [4] and tokens_of(words, windows)[1][3] == "a2"
    assert windows["in_doc"][1, 3] and not windows["can_start"][1, 3]  # a2 is centred better in window 0
    start[1, 3] = end[1, 3] = 10.0  # strong, but in the wrong window
    start[0, 4] = end[0, 4] = 2.0  # "a1" in its own best window
    result = decode(words, examples, windows, start, end)
    assert result.predictions == {"0": "a1"}
    assert max(entry["start_logit"] for entry in result.nbest["0"]) == 2.0  # the 10.0 start never ranks


def test_spans_longer_than_max_answer_length_are_dropped(words):
    examples, windows, start, end = setup(words, ["q"], ["a b c d e"])
    assert tokens_of(words, windows)[0] == ["[CLS]", "q", "[SEP]", "a", "b", "c", "d", "e", "[SEP]"]
    start[0, 3], end[0, 7], end[0, 4] = 5.0, 5.0, 1.0  # a..e (5 words) beats a..b
    assert decode(words, examples, windows, start, end).predictions == {"0": "a b c d e"}
    assert decode(words, examples, windows, start, end, max_answer_length=4).predictions == {"0": "a b"}


def null_case(words, null_logit):
    examples, windows, start, end = setup(words, ["c?"], ["red green blue"], sequence_length=8)
    assert tokens_of(words, windows)[0] == ["[CLS]", "c", "?", "[SEP]", "red", "green", "blue", "[SEP]"]
    start[0, 0] = end[0, 0] = null_logit
    start[0, 5], end[0, 5] = 3.0, 2.0  # green
    return examples, windows, start, end


@pytest.mark.parametrize("threshold, expected", [(0.0, "green"), (-1.0, "green"), (-1.5, "")])
def test_null_answer_flips_as_the_threshold_crosses_the_score_difference(words, threshold, expected):
    result = decode(words, *null_case(words, 2.0), version_2_with_negative=True, null_score_diff_threshold=threshold)
    assert result.null_odds == {"0": -1.0}  # null 2 + 2 minus best 3 + 2
    assert result.predictions == {"0": expected}
    assert [(e["text"], e["start_logit"], e["end_logit"]) for e in result.nbest["0"][:2]] == [("green", 3.0, 2.0), ("", 2.0, 2.0)]


def test_null_answer_ranked_first_when_it_scores_highest(words):
    result = decode(words, *null_case(words, 6.0), version_2_with_negative=True)
    assert result.predictions == {"0": ""}
    assert result.null_odds == {"0": 7.0}
    assert result.nbest["0"][0]["text"] == "" and result.nbest["0"][1]["text"] == "green"


def test_null_score_is_the_smallest_over_windows(words):
    context = " ".join(f"a{i}" for i in range(10))
    examples, windows, start, end = setup(words, ["q"], [context], sequence_length=9, doc_stride=2)
    for row, (s, e) in enumerate([(3.0, 3.0), (1.0, 0.0), (4.0, 4.0), (2.0, 2.0)]):
        start[row, 0], end[row, 0] = s, e
    start[0, 4] = end[0, 4] = 2.0
    result = decode(words, examples, windows, start, end, version_2_with_negative=True)
    assert result.null_odds == {"0": 1.0 - 4.0}
    assert result.predictions == {"0": "a1"}
    null_entry = next(e for e in result.nbest["0"] if e["text"] == "")
    assert (null_entry["start_logit"], null_entry["end_logit"]) == (1.0, 0.0)


def test_no_valid_span_gives_the_empty_placeholder(words):
    examples, windows, start, end = setup(words, ["q"], ["a b"])
    # The best start ("b") lies after the best end ("a"): with n_best_size=1 no pair is valid.
    # (The former test put the best logits on [CLS], which the top-n no longer picks: see
    # test_best_starts_and_ends_are_chosen_among_the_context_pieces.)
    start[0, 0] = end[0, 0] = 5.0
    start[0, 4], end[0, 3] = 1.0, 1.0
    v1 = decode(words, examples, windows, start, end, n_best_size=1)
    assert v1.predictions == {"0": "empty"}
    assert [(e["text"], e["probability"]) for e in v1.nbest["0"]] == [("empty", 1.0)]
    v2 = decode(words, examples, windows, start, end, n_best_size=1, version_2_with_negative=True)
    assert v2.predictions == {"0": ""} and v2.null_odds == {"0": 10.0}
    assert [e["text"] for e in v2.nbest["0"]] == ["empty", ""]
    np.testing.assert_allclose([e["probability"] for e in v2.nbest["0"]], [1 / (1 + np.exp(10)), 1 / (1 + np.exp(-10))])
    lenient = decode(words, examples, windows, start, end, n_best_size=1, version_2_with_negative=True,
                     null_score_diff_threshold=20.0)
    assert lenient.predictions == {"0": "empty"}


def assert_same_predictions(found, expected):
    """Same answers, n-best texts, logits and characters; probabilities and null odds to 1e-9."""
    assert found.predictions == expected.predictions
    assert found.nbest.keys() == expected.nbest.keys()
    keys = ("text", "start_logit", "end_logit", "start", "end")
    for qas_id, entries in expected.nbest.items():
        got = found.nbest[qas_id]
        assert [tuple(e[k] for k in keys) for e in got] == [tuple(e[k] for k in keys) for e in entries], qas_id
        np.testing.assert_allclose([e["probability"] for e in got], [e["probability"] for e in entries],
                                   rtol=0, atol=1e-9, err_msg=qas_id)
    if expected.null_odds is None:
        assert found.null_odds is None
    else:
        assert found.null_odds.keys() == expected.null_odds.keys()
        np.testing.assert_allclose([found.null_odds[k] for k in expected.null_odds], list(expected.null_odds.values()),
                                   rtol=0, atol=1e-9)


def oracle_tokenize(tokenizer):
    """`text -> [(id, piece)]` by the independent Python tokenizer, on `tokenizer`'s vocabulary."""
    oracle = GoogleFullTokenizer(tokenizer.get_vocabulary(), lowercase=tokenizer.lowercase)
    return lambda text: [(oracle.index[piece], piece) for piece in oracle.tokenize(text)]


def test_best_starts_and_ends_are_chosen_among_the_context_pieces(words):
    # DELIBERATE DEVIATION from run_squad.py (documented in postprocessing/spans.py): the
    # original takes each window's n_best_size best starts and ends over every position and
    # only then drops those outside the context; span_candidates takes them among the
    # context positions. Here [CLS] and the question score highest: the original, with
    # n_best_size=1, is left with no span ("empty"); the package still answers.
    examples, windows, start, end = setup(words, ["q"], ["a b"])
    start[0, 0] = end[0, 0] = 5.0  # [CLS]
    start[0, 1] = end[0, 1] = 4.0  # "q"
    start[0, 4] = end[0, 4] = 0.5  # "b"
    result = decode(words, examples, windows, start, end, n_best_size=1)
    assert result.predictions == {"0": "b"}
    assert [(e["text"], e["start_logit"], e["end_logit"]) for e in result.nbest["0"]] == [("b", 0.5, 0.5)]
    features = reference_features(examples, oracle_tokenize(words), cls_id=words.cls_token_id,
                                  sep_id=words.sep_token_id, max_seq_length=16, doc_stride=128, max_query_length=64)
    original = reference_predictions(examples, features, start, end, n_best_size=1, top_n_over_context_only=False)
    assert original.predictions == {"0": "empty"}
    assert_same_predictions(result, reference_predictions(examples, features, start, end, n_best_size=1))
    # With room for every position, both rules keep the same spans.
    wide = decode(words, examples, windows, start, end, n_best_size=16)
    assert_same_predictions(wide, reference_predictions(examples, features, start, end, n_best_size=16,
                                                        top_n_over_context_only=False))


def test_best_spans_serve_the_top_candidate_and_the_null_score(words):
    # What answer() and the SavedModel serve: the first candidate of each question, in characters.
    contexts = ["The quick brown fox jumps over the lazy dog", "   ", "a b"]
    examples, windows, start, end = setup(words, ["what jumps?", "q", "q"], contexts)
    assert windows["num_windows"].numpy().tolist() == [1, 0, 1]
    start[0, 7], start[0, 8], end[0, 8], end[0, 7] = 5.0, 3.0, 4.0, 1.0  # "brown fox"
    start[0, 0], end[0, 0] = 1.0, 0.5
    start[1, 4] = end[1, 4] = 2.0  # "b", in the window of the third question
    served = best_spans(*span_candidates(windows, start, end), tf.constant(contexts))
    assert served["answer_text"].numpy().tolist() == [b"brown fox", b"", b"b"]
    assert served["answer_start"].numpy().tolist() == [10, 0, 2]
    assert served["answer_end"].numpy().tolist() == [19, 0, 3]
    assert served["score"].numpy().tolist() == [9.0, -math.inf, 4.0]  # -inf: no candidate
    assert served["null_score"].numpy().tolist() == [1.5, math.inf, 0.0]  # +inf: no window
    decoded = decode(words, examples, windows, start, end)
    assert [decoded.nbest[k][0]["text"] for k in ("0", "2")] == ["brown fox", "b"]


def test_example_without_windows(words):
    examples, windows, _, _ = setup(words, ["q"], ["   "])
    empty = np.zeros((0, 16), "float32")
    assert decode(words, examples, windows, empty, empty).predictions == {"0": "empty"}
    v2 = decode(words, examples, windows, empty, empty, version_2_with_negative=True)
    assert v2.predictions == {"0": ""} and v2.null_odds == {"0": math.inf}


def test_pieces_are_joined_and_mapped_back_onto_the_original_words(two_char):
    examples, windows, start, end = setup(two_char, ["who?"], ["Steve Smithson's bat"], sequence_length=20)
    assert tokens_of(two_char, windows)[0][5:12] == ["st", "##ev", "##e", "sm", "##it", "##hs", "##on"]
    start[0, 5] = end[0, 11] = 5.0
    top = decode(two_char, examples, windows, start, end).nbest["0"][0]
    assert (top["text"], top["start"], top["end"]) == ("Steve Smithson", 0, 14)


def test_character_offsets_follow_the_context_whitespace(words):
    examples, windows, start, end = setup(words, ["q"], ["Go  to\n Paris now"])
    assert tokens_of(words, windows)[0][3:7] == ["go", "to", "paris", "now"]
    start[0, 4] = end[0, 5] = 5.0  # "to Paris"
    top = decode(words, examples, windows, start, end).nbest["0"][0]
    assert (top["text"], top["start"], top["end"]) == ("to Paris", 4, 13)
    assert examples[0].context[4:13] == "to\n Paris"


def test_logits_that_do_not_match_the_windows_are_rejected(words):
    examples, windows, start, end = setup(words, ["q"], ["a b"])
    with pytest.raises(ValueError, match=r"start_logits has shape \[2, 16\] but the windows are \[1, 16\]"):
        span_candidates(windows, np.zeros((2, 16)), np.zeros((2, 16)))
    with pytest.raises(ValueError, match=r"end_logits has shape \[1, 8\] but the windows are \[1, 16\]"):
        span_candidates(windows, start, end[:, :8])
    with pytest.raises(ValueError, match="got 2 contexts for windows of 1 questions"):
        decode_answers([examples[0].context] * 2, windows, *span_candidates(windows, start, end),
                       words.get_vocabulary())
    decoded = decode_answers([examples[0].context], windows, *span_candidates(windows, start, end),
                             words.get_vocabulary())
    with pytest.raises(ValueError, match="got 1 decoded answers for 2 examples"):
        squad_predictions(examples * 2, decoded)


def test_prediction_files(words, tmp_path):
    result = decode(words, *null_case(words, 2.0), version_2_with_negative=True)
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


# === Round trips on real SQuAD files ===

def basic_three_char_tokenize(text):
    """Google's basic tokenization, then 3-character pieces: a WordPiece look-alike."""
    return [
        token[i : i + 3] if i == 0 else "##" + token[i : i + 3]
        for token in _basic_tokenize(text, do_lower_case=True)
        for i in range(0, len(token), 3)
    ]


def three_char_windows(examples, tmp_path):
    """Windows (seq 128, stride 64, with targets) by a WordPiece whose vocabulary is every
    3-character piece of the examples: greedy longest match then cuts exactly those pieces."""
    vocabulary = dict.fromkeys(SPECIAL)
    for example in examples:
        for text in [example.context, example.question] + [answer["text"] for answer in example.answers[:1]]:
            vocabulary.update(dict.fromkeys(basic_three_char_tokenize(text)))
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    tokenizer = WordPieceTokenizer(str(path), lowercase=True)
    texts = [example.answers[0]["text"] if example.answers else "" for example in examples]
    windows = make_windows(tokenizer, tf.constant([e.question for e in examples]),
                           tf.constant([e.context for e in examples]), sequence_length=128, doc_stride=64,
                           max_query_length=64, answer_chars=answer_word_chars(examples),
                           answer_texts=tf.constant(texts, tf.string))
    pieces = [[tokenizer.get_vocabulary()[i] for i in row] for row in windows["pieces"].to_list()]
    assert pieces == [basic_three_char_tokenize(example.context) for example in examples]
    return tokenizer, windows


def gold_logits(windows, sequence_length):
    start_positions, end_positions = windows["start_positions"].numpy(), windows["end_positions"].numpy()
    start = np.zeros((len(start_positions), sequence_length), "float32")
    end = np.zeros_like(start)
    rows = np.arange(len(start_positions))
    start[rows, start_positions] = end[rows, end_positions] = 10.0
    return start, end


def test_round_trip_squad_v1_gold_spans_decode_to_the_gold_answers(tmp_path):
    examples = read_squad_file(shared("squad_v1.1/dev-v1.1-part1.json"), is_training=True).examples[:300]
    tokenizer, windows = three_char_windows(examples, tmp_path)
    result = decode(tokenizer, examples, windows, *gold_logits(windows, 128))
    # answers that are whole pieces (not part of a piece) and at most 30 pieces long are recoverable
    recoverable = set()
    tokens = tokens_of(tokenizer, windows)
    for row, example_index in enumerate(windows["example"].numpy().tolist()):
        start_position, end_position = int(windows["start_positions"][row]), int(windows["end_positions"][row])
        answer = " ".join(basic_three_char_tokenize(examples[example_index].answers[0]["text"]))
        span = tokens[row][start_position : end_position + 1]
        if start_position and " ".join(span) == answer and len(span) <= 30:
            recoverable.add(example_index)
    assert len(recoverable) == 287
    sample = [examples[index] for index in sorted(recoverable)]
    assert all(result.predictions[e.qas_id] == e.answers[0]["text"] for e in sample)
    assert evaluate_v1(sample, result.predictions) == {"exact_match": 100.0, "f1": 100.0}
    for example in sample:
        top = result.nbest[example.qas_id][0]
        assert example.context[top["start"] : top["end"]] == top["text"]


def test_round_trip_squad_v2_predicts_no_answer_for_impossible_questions(tmp_path):
    examples = read_squad_file(shared("squad/haystack_small_v2.json"), is_training=True).examples[:200]
    tokenizer, windows = three_char_windows(examples, tmp_path)
    result = decode(tokenizer, examples, windows, *gold_logits(windows, 128), version_2_with_negative=True)
    scores = evaluate_v2(examples, result.predictions, result.null_odds)
    assert scores["exact"] == 100.0 and scores["NoAns_total"] == sum(e.is_impossible for e in examples)
    assert all(result.predictions[e.qas_id] == "" for e in examples if e.is_impossible)


# === The whole pipeline against the plain-Python transcription of run_squad.py ===

SETTINGS = dict(max_seq_length=64, doc_stride=24, max_query_length=24)


@pytest.fixture(scope="module")
def sample_and_reference():
    """The first 40 SQuAD 1.1 dev questions, the package's windows (MiniLM vocabulary) and the
    reference's features, from the independent Python tokenizer on the same vocabulary."""
    examples = read_squad_file(shared("squad_v1.1/dev-v1.1-part1.json"), is_training=True).examples[:40]
    tokenizer = minilm_tokenizer()
    windows = make_windows(
        tokenizer, tf.constant([e.question for e in examples]), tf.constant([e.context for e in examples]),
        sequence_length=SETTINGS["max_seq_length"], doc_stride=SETTINGS["doc_stride"],
        max_query_length=SETTINGS["max_query_length"], answer_chars=answer_word_chars(examples),
        answer_texts=tf.constant([e.answers[0]["text"] for e in examples]),
    )
    vocabulary = (minilm_folder() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocabulary == tokenizer.get_vocabulary()
    oracle = GoogleFullTokenizer(vocabulary, lowercase=True)
    cache = {}

    def tokenize(text):
        if text not in cache:
            cache[text] = [(oracle.index[piece], piece) for piece in oracle.tokenize(text)]
        return cache[text]

    features = reference_features(examples, tokenize, cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id,
                                  pad_id=tokenizer.pad_token_id, is_training=True, **SETTINGS)
    return examples, tokenizer, windows, features


def test_windows_match_the_reference_on_squad(sample_and_reference):
    examples, tokenizer, windows, features = sample_and_reference
    assert len(features) > 2 * len(examples)  # long contexts: several windows each
    assert windows["example"].numpy().tolist() == [feature.example_index for feature in features]
    assert windows["num_windows"].numpy().tolist() == [
        sum(f.example_index == index for f in features) for index in range(len(examples))]
    for name, field in (("token_ids", "token_ids"), ("segment_ids", "segment_ids"), ("padding_mask", "padding_mask")):
        np.testing.assert_array_equal(windows["inputs"][name].numpy(), [getattr(f, field) for f in features])
    assert windows["start"].numpy().tolist() == [f.doc_span.start for f in features]
    assert windows["length"].numpy().tolist() == [f.doc_span.length for f in features]
    in_doc, can_start = windows["in_doc"].numpy(), windows["can_start"].numpy()
    for row, feature in enumerate(features):
        assert np.flatnonzero(in_doc[row]).tolist() == sorted(feature.token_to_orig_map)
        assert np.flatnonzero(can_start[row]).tolist() == sorted(
            position for position, is_max in feature.token_is_max_context.items() if is_max)
    assert windows["start_positions"].numpy().tolist() == [f.start_position for f in features]
    assert windows["end_positions"].numpy().tolist() == [f.end_position for f in features]
    assert sum(f.start_position > 0 for f in features) >= len(examples)  # every answer lies in some window


@pytest.mark.parametrize("n_best_size, max_answer_length", [(20, 30), (3, 5)])
def test_decoding_matches_the_reference_on_squad(sample_and_reference, n_best_size, max_answer_length):
    examples, tokenizer, windows, features = sample_and_reference
    rng = np.random.default_rng(20240611 + n_best_size)
    start, end = (rng.normal(scale=3.0, size=(len(features), SETTINGS["max_seq_length"])).astype("float32")
                  for _ in range(2))
    options = dict(n_best_size=n_best_size, max_answer_length=max_answer_length)
    v2 = reference_predictions(examples, features, start, end, version_2_with_negative=True, **options)
    # A threshold between the null odds, so that some questions answer "" and some do not.
    threshold = float(np.median(list(v2.null_odds.values())))
    for version_2, v2_options in ((False, {}), (True, {}), (True, {"null_score_diff_threshold": threshold})):
        found = decode(tokenizer, examples, windows, start, end, version_2_with_negative=version_2,
                       **options, **v2_options)
        expected = reference_predictions(examples, features, start, end, version_2_with_negative=version_2,
                                         **options, **v2_options)
        assert_same_predictions(found, expected)
        assert (found.null_odds is None) == (not version_2)
    assert 0 < sum(answer == "" for answer in expected.predictions.values()) < len(examples)
    # Every span the original rule considers (top-n over all positions) is a candidate too.
    candidates, _ = span_candidates(windows, start, end, **options)
    package = {(w, s, e) for w, s, e in zip(*(candidates[k].flat_values.numpy().tolist() for k in ("window", "start", "end")))}
    original = prelim_predictions(features, start, end, n_best_size, max_answer_length, top_n_over_context_only=False)
    assert {(p.feature_index, p.start_index, p.end_index) for p in original} <= package
