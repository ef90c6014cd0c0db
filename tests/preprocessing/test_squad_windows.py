"""SQuAD windows (`preprocessing.squad_windows.make_windows`) on a tiny real WordPiece vocabulary.

The vocabulary holds 2-character pieces only, so WordPiece's greedy longest match cuts every
word into 2-character pieces ("aaaa" -> aa ##aa, "cccccc" -> cc ##cc ##cc) after splitting
punctuation off: the pieces the former pure-Python tests got from a fake tokenizer.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.preprocessing.question_answerer import BertQuestionAnswererPreprocessor
from keras_bert_suite.preprocessing.squad_examples import answer_word_chars, make_examples, split_context
from keras_bert_suite.preprocessing.squad_windows import make_windows
from keras_bert_suite.tokenizers import WordPieceTokenizer
from tests.helpers.squad_reference import DocSpan, improve_answer_span, is_max_context, make_doc_spans

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PIECES = [
    "aa", "##aa", "bb", "cc", "##cc", "dd", "ee", "ff", "gg", "##gg", "hh", "ii", "jj", "qq", "?", "q",
    "ab", "cd", "x", "wh", "##en", "bo", "##rn", "(", ")", "-", "18", "##95", "19", "##43", "th", "##er", "##e",
    "on", "tw", "##o", "##re", "fo", "##ur", "fi", "##ve", "si", "##x",
]

# 14 pieces: aa ##aa | bb | cc ##cc ##cc | dd | ee | ff | gg ##gg | hh | ii | jj
CONTEXT = "aaaa bb cccccc dd ee ff gggg hh ii jj"
WINDOW_OPTIONS = dict(sequence_length=12, doc_stride=3, max_query_length=64)
T, F = True, False


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("two_char_vocab") / "vocab.txt"
    path.write_text("\n".join(SPECIAL + PIECES) + "\n", encoding="utf-8")
    tokenizer = WordPieceTokenizer(str(path), lowercase=True)
    assert tokenizer.pad_token_id == 0
    return tokenizer


def windows_of(tokenizer, questions, contexts, answers=None, **options):
    """`make_windows` (with training targets when `answers` is given), as NumPy plus views
    in the former `SquadFeature` terms: `tokens` (unpadded), `doc_span_index`,
    `token_to_orig_map` (window position -> context word) and the max-context `flags`
    (`can_start` on each window's context positions)."""
    options = {"sequence_length": 384, "doc_stride": 128, "max_query_length": 64, **options}
    targets = {}
    if answers is not None:
        examples = make_examples(questions, contexts, answers)
        texts = [answer["text"] if answer else "" for answer in answers]
        targets = dict(answer_chars=answer_word_chars(examples), answer_texts=tf.constant(texts, tf.string))
    windows = make_windows(tokenizer, tf.constant(questions, tf.string), tf.constant(contexts, tf.string),
                           **options, **targets)
    result = {name: value.numpy() for name, value in windows["inputs"].items()}
    for name in ("example", "start", "length", "num_windows", "doc_piece", "in_doc", "can_start",
                 "start_positions", "end_positions"):
        if name in windows:
            result[name] = windows[name].numpy()
    for name in ("pieces", "char_starts", "char_ends"):
        result[name] = windows[name].to_list()
    vocabulary = tokenizer.get_vocabulary()
    result["tokens"] = [[vocabulary[i] for i, m in zip(ids, mask) if m]
                        for ids, mask in zip(result["token_ids"], result["padding_mask"])]
    result["doc_span_index"] = [i for n in result["num_windows"] for i in range(n)]
    word_of_char = [split_context(context)[1] for context in contexts]
    result["token_to_orig_map"] = [
        {int(position): word_of_char[example][result["char_starts"][example][piece]]
         for position, piece in enumerate(doc_piece) if in_doc[position]}
        for example, doc_piece, in_doc in zip(result["example"], result["doc_piece"], result["in_doc"])
    ]
    result["flags"] = [can_start[in_doc].tolist() for can_start, in_doc in zip(result["can_start"], result["in_doc"])]
    return result


def windows(tokenizer, answers=None, **options):
    return windows_of(tokenizer, ["qq?"], [CONTEXT], answers, **{**WINDOW_OPTIONS, **options})


def test_context_pieces_map_to_words_both_ways(tokenizer):
    # Former `tokenize_context`: the pieces now come from one call on the whole context, with
    # character offsets; the piece -> word and word -> first piece maps follow from them.
    result = windows(tokenizer)
    vocabulary = tokenizer.get_vocabulary()
    pieces, char_starts = result["pieces"][0], result["char_starts"][0]
    assert [vocabulary[i] for i in pieces] == ["aa", "##aa", "bb", "cc", "##cc", "##cc", "dd", "ee", "ff", "gg", "##gg", "hh", "ii", "jj"]
    doc_tokens, char_to_word = split_context(CONTEXT)
    assert [char_to_word[start] for start in char_starts] == [0, 0, 1, 2, 2, 2, 3, 4, 5, 6, 6, 7, 8, 9]
    word_starts = make_examples(["qq?"], [CONTEXT])[0].word_start_chars()
    assert [char_starts.index(start) for start in word_starts] == [0, 2, 3, 6, 7, 8, 9, 11, 12, 13]
    assert [CONTEXT[s:e] for s, e in zip(char_starts, result["char_ends"][0])] == [
        "aa", "aa", "bb", "cc", "cc", "cc", "dd", "ee", "ff", "gg", "gg", "hh", "ii", "jj"]


@pytest.mark.parametrize("context, doc_stride, spans", [
    (CONTEXT, 3, [DocSpan(0, 7), DocSpan(3, 7), DocSpan(6, 7), DocSpan(9, 5)]),  # 14 pieces
    (CONTEXT, 100, [DocSpan(0, 7), DocSpan(7, 7)]),
    ("aaaa bb dd ee", 3, [DocSpan(0, 5)]),  # 5 pieces
    ("   ", 3, []),  # no pieces
])
def test_doc_spans_advance_by_the_stride_and_stop_at_the_end(tokenizer, context, doc_stride, spans):
    # Former `make_doc_spans(num_pieces, 7, doc_stride)`: "qq?" is 2 pieces, so 12 - 2 - 3 = 7 fit.
    result = windows_of(tokenizer, ["qq?"], [context], sequence_length=12, doc_stride=doc_stride)
    assert [DocSpan(int(s), int(n)) for s, n in zip(result["start"], result["length"])] == spans
    assert result["num_windows"].tolist() == [len(spans)]


def test_max_context_prefers_centred_then_longer_windows(tokenizer):
    # Former `is_max_context`; "qq" is 1 piece, so 9 - 1 - 3 = 5 context pieces per window.
    # 7 pieces, windows (0, 5), (2, 5): piece 3 scores min(3, 1) + 0.05 in both; the earlier wins.
    seven = windows_of(tokenizer, ["qq"], ["aaaa bb cccccc dd"], sequence_length=9, doc_stride=2)
    assert [(int(s), int(n)) for s, n in zip(seven["start"], seven["length"])] == [(0, 5), (2, 5)]
    assert seven["flags"] == [[T, T, T, T, F], [F, F, T, T, T]]
    # 6 pieces, windows (0, 5), (2, 4): piece 3 scores 1.05 in the first and 1.04 in the second.
    six = windows_of(tokenizer, ["qq"], ["aaaa bb cccccc"], sequence_length=9, doc_stride=2)
    assert [(int(s), int(n)) for s, n in zip(six["start"], six["length"])] == [(0, 5), (2, 4)]
    assert six["flags"] == [[T, T, T, T, F], [F, F, T, T]]


def test_max_context_length_term_can_outweigh_centring(tokenizer):
    # 201 pieces, windows (0, 200) and (150, 51): piece 199 scores min(199, 0) + 0.01 * 200 = 2.0
    # in the first and min(49, 1) + 0.51 = 1.51 in the second, so the longer window keeps it.
    result = windows_of(tokenizer, ["qq"], [" ".join(["ee"] * 201)], sequence_length=204, doc_stride=150)
    spans = [DocSpan(int(s), int(n)) for s, n in zip(result["start"], result["length"])]
    assert spans == [DocSpan(0, 200), DocSpan(150, 51)]
    assert result["flags"][0][199] and not result["flags"][1][199 - 150]
    assert result["flags"][1][200 - 150]
    for index, span in enumerate(spans):
        expected = [is_max_context(spans, index, piece) for piece in range(span.start, span.start + span.length)]
        assert result["flags"][index] == expected


def test_windows_layout_and_max_context_flags(tokenizer):
    result = windows(tokenizer)
    assert result["doc_span_index"] == [0, 1, 2, 3]
    assert result["example"].tolist() == [0, 0, 0, 0]
    assert result["tokens"][0] == ["[CLS]", "qq", "?", "[SEP]", "aa", "##aa", "bb", "cc", "##cc", "##cc", "dd", "[SEP]"]
    assert result["tokens"][3] == ["[CLS]", "qq", "?", "[SEP]", "gg", "##gg", "hh", "ii", "jj", "[SEP]"]
    assert result["token_to_orig_map"][3] == {4: 6, 5: 6, 6: 7, 7: 8, 8: 9}
    assert result["flags"] == [
        [T, T, T, T, T, F, F],  # pieces 0-6
        [F, F, T, T, T, F, F],  # pieces 3-9
        [F, F, T, T, T, F, F],  # pieces 6-12
        [F, F, T, T, T],  # pieces 9-13
    ]
    # Only context positions are marked at all, and doc_piece numbers them.
    assert not result["can_start"][~result["in_doc"]].any()
    assert result["doc_piece"][3][result["in_doc"][3]].tolist() == [9, 10, 11, 12, 13]


def test_windows_are_padded_to_max_seq_length(tokenizer):
    result = windows(tokenizer)
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    for name in ("token_ids", "segment_ids", "padding_mask"):
        assert result[name].shape == (4, 12) and result[name].dtype == np.int32
    last = {name: result[name][3] for name in ("token_ids", "segment_ids", "padding_mask")}
    assert last["padding_mask"].tolist() == [1] * 10 + [0] * 2
    assert last["segment_ids"].tolist() == [0] * 4 + [1] * 6 + [0] * 2
    assert last["token_ids"][[0, 3, 9, 10, 11]].tolist() == [cls_id, sep_id, sep_id, 0, 0]
    assert result["padding_mask"][0].tolist() == [1] * 12


def test_training_positions_inside_and_outside_each_window(tokenizer):
    # "cccccc dd" = words 2-3 = pieces 3-6; the context starts at window index 4
    result = windows(tokenizer, [{"text": "cccccc dd", "answer_start": 8}])
    assert list(zip(result["start_positions"].tolist(), result["end_positions"].tolist())) == [(7, 10), (4, 7), (0, 0), (0, 0)]
    assert result["tokens"][1][4:8] == ["cc", "##cc", "##cc", "dd"]
    assert result["start_positions"].dtype == result["end_positions"].dtype == np.int32


def test_impossible_question_trains_on_cls_in_every_window(tokenizer):
    # Beside an answerable question.
    result = windows_of(tokenizer, ["qq?", "q"], [CONTEXT, "ab cd"], [None, {"text": "cd", "answer_start": 3}],
                        **WINDOW_OPTIONS)
    assert result["example"].tolist() == [0, 0, 0, 0, 1]
    assert list(zip(result["start_positions"].tolist(), result["end_positions"].tolist())) == [(0, 0)] * 4 + [(4, 4)]


def test_batch_of_impossible_questions_only_trains_on_cls(tokenizer):
    result = windows(tokenizer, [None])
    assert list(zip(result["start_positions"].tolist(), result["end_positions"].tolist())) == [(0, 0)] * 4


def test_inference_windows_have_no_targets(tokenizer):
    result = windows(tokenizer)
    assert "start_positions" not in result and "end_positions" not in result


def test_answer_span_is_improved_to_the_answer_pieces(tokenizer):
    result = windows_of(tokenizer, ["When?"], ["Born (1895-1943) there"], [{"text": "1895", "answer_start": 6}],
                        sequence_length=32)
    start, end = result["start_positions"][0], result["end_positions"][0]
    # the word "(1895-1943)" is ( 18 ##95 - 19 ##43 ); the answer is only 18 ##95
    assert result["tokens"][0][start : end + 1] == ["18", "##95"]
    # Former `improve_answer_span(["(", "18", "##95", ")"], 0, 3, answer)`: the word "(1895)"
    # is pieces 0-3 of the context, which starts at window position 3 after "[CLS] q [SEP]".
    word = np.array([[0, 6]], np.int32)  # characters of the whole word "(1895)"

    def targets(answer_text):
        return windows_of_chars(tokenizer, "(1895)", word, answer_text)

    assert targets("1895") == (3 + 1, 3 + 2)
    assert targets("x") == (3 + 0, 3 + 3)  # no exact match: the whole word span


def windows_of_chars(tokenizer, context, answer_chars, answer_text):
    """The first window's `(start_position, end_position)` for raw `answer_chars`/`answer_text`."""
    windows = make_windows(tokenizer, tf.constant(["q"]), tf.constant([context]), sequence_length=32,
                           doc_stride=128, max_query_length=64, answer_chars=answer_chars,
                           answer_texts=tf.constant([answer_text]))
    return int(windows["start_positions"][0]), int(windows["end_positions"][0])


def test_query_is_truncated_to_max_query_length(tokenizer):
    result = windows_of(tokenizer, ["one two three four five"], ["ab cd"], sequence_length=16, max_query_length=3)
    assert result["tokens"] == [["[CLS]", "on", "##e", "tw", "[SEP]", "ab", "cd", "[SEP]"]]
    assert result["token_to_orig_map"][0] == {5: 0, 6: 1}


def test_no_room_for_context_is_a_clear_error(tokenizer):
    # "one two three four five six" is 13 pieces, cut to 5; 8 - 5 - 3 leaves none for context.
    preprocessor = BertQuestionAnswererPreprocessor(tokenizer, sequence_length=8, doc_stride=128, max_query_length=5)
    with pytest.raises(ValueError, match="sequence_length=8 leaves no room for context after a question of 5 pieces"):
        preprocessor.check_questions_fit(["one two three four five six"])
    with pytest.raises(ValueError, match="sequence_length=8 leaves no room for context after a question of 5 pieces"):
        preprocessor.labelled(["one two three four five six"], ["ab"], [None])
    preprocessor.check_questions_fit(["one two"])  # 4 pieces leave 1
    # The TensorFlow ops refuse too, for callers that skip the Python check.
    with pytest.raises(tf.errors.InvalidArgumentError, match="leaves no room for context in sequence_length=8"):
        preprocessor.windows(["one two three four five six"], ["ab"])


def test_make_features_numbers_examples_and_stacks(tokenizer):
    # Former `make_features` + `features_to_arrays`: one flat batch of windows for all examples.
    questions, contexts = ["qq?", "q"], [CONTEXT, "ab cd"]
    answers = [{"text": "dd", "answer_start": 15}, {"text": "cd", "answer_start": 3}]
    result = windows_of(tokenizer, questions, contexts, answers, **WINDOW_OPTIONS)
    assert list(zip(result["example"].tolist(), result["doc_span_index"])) == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]
    assert result["num_windows"].tolist() == [4, 1]
    assert result["token_ids"].shape == (5, 12) and result["padding_mask"].shape == (5, 12)
    assert result["start_positions"].tolist() == [10, 7, 4, 0, 4]
    assert result["end_positions"].tolist() == [10, 7, 4, 0, 4]
    # The preprocessor's `labelled` + `call` give the same arrays; without labels, no targets.
    preprocessor = BertQuestionAnswererPreprocessor(tokenizer, **WINDOW_OPTIONS)
    x, y = preprocessor(*preprocessor.labelled(questions, contexts, answers))
    assert sorted(x) == ["padding_mask", "segment_ids", "token_ids"]
    for name in x:
        np.testing.assert_array_equal(x[name].numpy(), result[name])
    assert y["start_logits"].numpy().tolist() == [10, 7, 4, 0, 4]
    assert y["end_logits"].numpy().tolist() == [10, 7, 4, 0, 4]
    inference = preprocessor((questions, contexts))
    assert sorted(inference) == ["padding_mask", "segment_ids", "token_ids"]
    np.testing.assert_array_equal(inference["token_ids"].numpy(), result["token_ids"])


def test_empty_context_has_no_windows(tokenizer):
    result = windows_of(tokenizer, ["q"], ["   "], **WINDOW_OPTIONS)
    assert result["num_windows"].tolist() == [0]
    assert result["token_ids"].shape == (0, 12) and result["example"].shape == (0,)
    # ... and takes no rows between the windows of its neighbours
    mixed = windows_of(tokenizer, ["q", "q", "q"], ["ab", "   ", "cd"], **WINDOW_OPTIONS)
    assert mixed["num_windows"].tolist() == [1, 0, 1] and mixed["example"].tolist() == [0, 2]
    assert mixed["tokens"] == [["[CLS]", "q", "[SEP]", "ab", "[SEP]"], ["[CLS]", "q", "[SEP]", "cd", "[SEP]"]]


def test_reference_transcription_keeps_the_original_helper_facts():
    # tests/helpers/squad_reference.py checks the package against these run_squad.py helpers.
    assert make_doc_spans(14, 7, 3) == [DocSpan(0, 7), DocSpan(3, 7), DocSpan(6, 7), DocSpan(9, 5)]
    assert make_doc_spans(14, 7, 100) == [DocSpan(0, 7), DocSpan(7, 7)]
    assert make_doc_spans(5, 7, 3) == [DocSpan(0, 5)]
    assert make_doc_spans(0, 7, 3) == []
    spans = [DocSpan(0, 5), DocSpan(2, 3)]
    # position 3: min(3, 1) + 0.05 = 1.05 in the first window, min(1, 1) + 0.03 = 1.03 in the second
    assert is_max_context(spans, 0, 3) and not is_max_context(spans, 1, 3)
    assert is_max_context(spans, 0, 0) and not is_max_context(spans, 1, 0)
    assert improve_answer_span(["(", "18", "##95", ")"], 0, 3, ["18", "##95"]) == (1, 2)
    assert improve_answer_span(["(", "18", "##95", ")"], 0, 3, ["x"]) == (0, 3)
