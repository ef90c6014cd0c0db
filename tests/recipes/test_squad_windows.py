import re

import numpy as np
import pytest

from keras_bert_suite.recipes.squad_data import make_examples
from keras_bert_suite.recipes.squad_windows import (
    DocSpan,
    features_to_arrays,
    improve_answer_span,
    is_max_context,
    make_doc_spans,
    make_features,
    make_windows,
    tokenize_context,
)

CLS_ID, SEP_ID = 101, 102


class TwoCharTokenizer:
    """Splits punctuation off, then cuts every word into 2-character pieces ("hello" -> he ##ll ##o)."""

    def __init__(self):
        self.vocab = {}

    def __call__(self, text):
        pieces = []
        for word in re.findall(r"\w+|[^\w\s]", text.lower()):
            for start in range(0, len(word), 2):
                piece = word[start : start + 2] if start == 0 else "##" + word[start : start + 2]
                pieces.append((self.vocab.setdefault(piece, 1000 + len(self.vocab)), piece))
        return pieces


# 14 pieces: aa ##aa | bb | cc ##cc ##cc | dd | ee | ff | gg ##gg | hh | ii | jj
CONTEXT = "aaaa bb cccccc dd ee ff gggg hh ii jj"
WINDOW_OPTIONS = dict(cls_id=CLS_ID, sep_id=SEP_ID, max_seq_length=12, doc_stride=3)


def windows(answers=None, is_training=False, **options):
    example = make_examples(["qq?"], [CONTEXT], answers)[0]
    return make_windows(example, TwoCharTokenizer(), is_training=is_training, **{**WINDOW_OPTIONS, **options})


def test_tokenize_context_maps_pieces_and_words_both_ways():
    pieces, tok_to_orig, orig_to_tok = tokenize_context(CONTEXT.split(), TwoCharTokenizer())
    assert [piece for _, piece in pieces] == ["aa", "##aa", "bb", "cc", "##cc", "##cc", "dd", "ee", "ff", "gg", "##gg", "hh", "ii", "jj"]
    assert tok_to_orig == [0, 0, 1, 2, 2, 2, 3, 4, 5, 6, 6, 7, 8, 9]
    assert orig_to_tok == [0, 2, 3, 6, 7, 8, 9, 11, 12, 13]


def test_doc_spans_advance_by_the_stride_and_stop_at_the_end():
    assert make_doc_spans(14, 7, 3) == [DocSpan(0, 7), DocSpan(3, 7), DocSpan(6, 7), DocSpan(9, 5)]
    assert make_doc_spans(14, 7, 100) == [DocSpan(0, 7), DocSpan(7, 7)]
    assert make_doc_spans(5, 7, 3) == [DocSpan(0, 5)]
    assert make_doc_spans(0, 7, 3) == []


def test_max_context_prefers_centred_then_longer_windows():
    spans = [DocSpan(0, 5), DocSpan(2, 3)]
    # position 3: min(3, 1) + 0.05 = 1.05 in the first window, min(1, 1) + 0.03 = 1.03 in the second
    assert is_max_context(spans, 0, 3) and not is_max_context(spans, 1, 3)
    assert is_max_context(spans, 0, 0) and not is_max_context(spans, 1, 0)


def test_windows_layout_and_max_context_flags():
    features = windows()
    assert [feature.doc_span_index for feature in features] == [0, 1, 2, 3]
    assert features[0].tokens == ["[CLS]", "qq", "?", "[SEP]", "aa", "##aa", "bb", "cc", "##cc", "##cc", "dd", "[SEP]"]
    assert features[3].tokens == ["[CLS]", "qq", "?", "[SEP]", "gg", "##gg", "hh", "ii", "jj", "[SEP]"]
    assert features[3].token_to_orig_map == {4: 6, 5: 6, 6: 7, 7: 8, 8: 9}
    flags = [[feature.token_is_max_context[index] for index in sorted(feature.token_is_max_context)] for feature in features]
    T, F = True, False
    assert flags == [
        [T, T, T, T, T, F, F],  # pieces 0-6
        [F, F, T, T, T, F, F],  # pieces 3-9
        [F, F, T, T, T, F, F],  # pieces 6-12
        [F, F, T, T, T],  # pieces 9-13
    ]


def test_windows_are_padded_to_max_seq_length():
    features = windows()
    last = features[3]
    for array in (last.token_ids, last.segment_ids, last.padding_mask):
        assert array.shape == (12,) and array.dtype == np.int32
    assert last.padding_mask.tolist() == [1] * 10 + [0] * 2
    assert last.segment_ids.tolist() == [0] * 4 + [1] * 6 + [0] * 2
    assert last.token_ids[[0, 3, 9, 10, 11]].tolist() == [CLS_ID, SEP_ID, SEP_ID, 0, 0]
    assert features[0].padding_mask.tolist() == [1] * 12


def test_training_positions_inside_and_outside_each_window():
    # "cccccc dd" = words 2-3 = pieces 3-6; the context starts at window index 4
    features = windows([{"text": "cccccc dd", "answer_start": 8}], is_training=True)
    assert [(feature.start_position, feature.end_position) for feature in features] == [(7, 10), (4, 7), (0, 0), (0, 0)]
    assert features[1].tokens[4:8] == ["cc", "##cc", "##cc", "dd"]


def test_impossible_question_trains_on_cls_in_every_window():
    features = windows([None], is_training=True)
    assert [(feature.start_position, feature.end_position) for feature in features] == [(0, 0)] * 4


def test_inference_windows_have_no_targets():
    assert all(feature.start_position is None for feature in windows())


def test_answer_span_is_improved_to_the_answer_pieces():
    example = make_examples(["When?"], ["Born (1895-1943) there"], [{"text": "1895", "answer_start": 6}])[0]
    feature = make_windows(example, TwoCharTokenizer(), cls_id=CLS_ID, sep_id=SEP_ID, max_seq_length=32, is_training=True)[0]
    # the word "(1895-1943)" is ( 18 ##95 - 19 ##43 ); the answer is only 18 ##95
    assert feature.tokens[feature.start_position : feature.end_position + 1] == ["18", "##95"]
    assert improve_answer_span(["(", "18", "##95", ")"], 0, 3, ["18", "##95"]) == (1, 2)
    assert improve_answer_span(["(", "18", "##95", ")"], 0, 3, ["x"]) == (0, 3)


def test_query_is_truncated_to_max_query_length():
    example = make_examples(["one two three four five"], ["ab cd"])[0]
    feature = make_windows(example, TwoCharTokenizer(), cls_id=CLS_ID, sep_id=SEP_ID, max_seq_length=16, max_query_length=3)[0]
    assert feature.tokens == ["[CLS]", "on", "##e", "tw", "[SEP]", "ab", "cd", "[SEP]"]
    assert feature.token_to_orig_map == {5: 0, 6: 1}


def test_separate_text_tokenizer_is_used_for_the_question():
    example = make_examples(["Why"], ["ab"])[0]
    feature = make_windows(
        example, TwoCharTokenizer(), tokenize_text=lambda text: [(7, "WHOLE")], cls_id=CLS_ID, sep_id=SEP_ID, max_seq_length=8
    )[0]
    assert feature.tokens == ["[CLS]", "WHOLE", "[SEP]", "ab", "[SEP]"]


def test_no_room_for_context_is_a_clear_error():
    example = make_examples(["one two three four five six"], ["ab"])[0]
    with pytest.raises(ValueError, match="max_seq_length=8 leaves no room for context after a question of 5 pieces"):
        make_windows(example, TwoCharTokenizer(), cls_id=CLS_ID, sep_id=SEP_ID, max_seq_length=8, max_query_length=5)


def test_training_windows_need_an_answer_span():
    example = make_examples(["q"], ["ab cd"])[0]
    with pytest.raises(ValueError, match="has no answer word span"):
        make_windows(example, TwoCharTokenizer(), cls_id=CLS_ID, sep_id=SEP_ID, is_training=True)


def test_make_features_numbers_examples_and_stacks():
    examples = make_examples(["qq?", "q"], [CONTEXT, "ab cd"], [{"text": "dd", "answer_start": 15}, {"text": "cd", "answer_start": 3}])
    features = make_features(examples, TwoCharTokenizer(), is_training=True, **WINDOW_OPTIONS)
    assert [(feature.example_index, feature.doc_span_index) for feature in features] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]
    arrays = features_to_arrays(features)
    assert arrays["token_ids"].shape == (5, 12) and arrays["padding_mask"].shape == (5, 12)
    assert arrays["start_positions"].tolist() == [10, 7, 4, 0, 4]
    assert arrays["end_positions"].tolist() == [10, 7, 4, 0, 4]
    assert "start_positions" not in features_to_arrays(make_features(examples, TwoCharTokenizer(), **WINDOW_OPTIONS))


def test_empty_context_has_no_windows():
    assert make_windows(make_examples(["q"], ["   "])[0], TwoCharTokenizer(), cls_id=1, sep_id=2) == []
    with pytest.raises(ValueError, match="no features to stack"):
        features_to_arrays([])
