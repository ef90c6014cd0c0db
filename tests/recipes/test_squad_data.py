import json

import pytest

from keras_bert_suite.preprocessing.squad_examples import make_examples, split_context
from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.squad_data import read_squad_file
from tests.helpers.shared_data import shared


def write_squad(tmp_path, qas, context="The cat sat on the mat.", version="1.1"):
    path = tmp_path / "squad.json"
    dataset = {"version": version, "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}
    path.write_text(json.dumps(dataset), encoding="utf-8")
    return path


def test_reads_squad_v1_1_dev_part():
    dataset = read_squad_file(shared("squad_v1.1/dev-v1.1-part1.json"))
    assert len(dataset) == 4961
    assert dataset.version == "1.1"
    assert sum(example.is_impossible for example in dataset) == 0
    first = dataset.examples[0]
    assert first.qas_id == "56be4db0acb8001400a502ec"
    assert first.question == "Which NFL team represented the AFC at Super Bowl 50?"
    assert first.answers == [{"text": "Denver Broncos", "answer_start": 177}] * 3
    assert first.doc_tokens[:5] == ["Super", "Bowl", "50", "was", "an"]
    assert len(first.doc_tokens) == 124
    assert len(first.char_to_word_offset) == len(first.context)
    assert first.start_word is None  # only located when reading for training


def test_training_mode_locates_the_first_answer_in_words():
    dataset = read_squad_file(shared("squad_v1.1/dev-v1.1-part1.json"), is_training=True)
    assert len(dataset) == 4961 and dataset.skipped == []
    first = dataset.examples[0]
    assert (first.start_word, first.end_word) == (28, 29)
    assert first.doc_tokens[28:30] == ["Denver", "Broncos"]


def test_reads_squad_v2_with_impossible_questions():
    dataset = read_squad_file(shared("squad/haystack_small_v2.json"), is_training=True)
    assert len(dataset) == 626
    assert dataset.version == "2.0"
    impossible = [example for example in dataset if example.is_impossible]
    assert len(impossible) == 333
    assert all(example.answers == [] and example.start_word is None for example in impossible)
    assert all(example.start_word is not None for example in dataset if not example.is_impossible)


def test_flattened_layout_matches_the_official_one():
    flat = read_squad_file(shared("hf_tests_samples/SQUAD/sample.json"), is_training=True)
    official = read_squad_file(shared("hf_tests_samples/SQUAD/dev-v2.0.json"), is_training=True)
    assert (len(flat), flat.version) == (14, "2.0")
    assert sum(example.is_impossible for example in flat) == 6
    for a, b in zip(flat, official, strict=True):
        assert (a.qas_id, a.question, a.context, a.is_impossible) == (b.qas_id, b.question, b.context, b.is_impossible)
        assert (a.start_word, a.end_word) == (b.start_word, b.end_word)
        assert a.answers[:1] == b.answers[:1]
    assert flat.examples[1].answers[1] == {"text": "in the 10th and 11th centuries", "answer_start": 87}


def test_split_context_maps_whitespace_to_the_previous_word():
    doc_tokens, offsets = split_context("  Hi  you\u202fall\n")
    assert doc_tokens == ["Hi", "you", "all"]
    assert offsets == [-1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


def test_word_start_chars():
    example = make_examples(["q"], ["  Hi  you\u202fall"])[0]
    assert example.word_start_chars() == [2, 6, 10]


def test_mismatched_answer_raises_naming_file_question_and_texts(tmp_path):
    path = write_squad(tmp_path, [
        {"id": "q1", "question": "Who sat?", "answers": [{"text": "cat", "answer_start": 4}]},
        {"id": "q2", "question": "Where?", "answers": [{"text": "mat", "answer_start": 3}]},
    ])
    with pytest.raises(DataFileError, match=r"squad\.json.*'q2'.*'mat' is not at character 3.*found ' ca'"):
        read_squad_file(path, is_training=True)
    assert len(read_squad_file(path)) == 2  # only training needs the spans


def test_skip_mismatched_warns_and_counts(tmp_path):
    path = write_squad(tmp_path, [
        {"id": "q1", "question": "Who sat?", "answers": [{"text": "cat", "answer_start": 4}]},
        {"id": "q2", "question": "Where?", "answers": [{"text": "mat", "answer_start": 3}]},
    ])
    with pytest.warns(UserWarning, match=r"skipped 1 questions .*q2"):
        dataset = read_squad_file(path, is_training=True, skip_mismatched=True)
    assert [example.qas_id for example in dataset] == ["q1"]
    assert dataset.skipped == ["q2"]


def test_answer_inside_a_word_keeps_the_whole_word_span(tmp_path):
    path = write_squad(tmp_path, [{"id": "q", "question": "What?", "answers": [{"text": "mat", "answer_start": 19}]}])
    example = read_squad_file(path, is_training=True).examples[0]
    assert example.doc_tokens[example.start_word : example.end_word + 1] == ["mat."]


def test_answerable_training_question_without_answer_is_an_error(tmp_path):
    path = write_squad(tmp_path, [{"id": "q9", "question": "?", "answers": [], "is_impossible": False}])
    with pytest.raises(DataFileError, match="'q9'.*has no answer and is not marked is_impossible"):
        read_squad_file(path, is_training=True)


def test_malformed_json_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "data": [\n    ,\n  ]\n}\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"broken\.json:3: malformed JSON"):
        read_squad_file(path)


def test_missing_key_names_where(tmp_path):
    path = write_squad(tmp_path, [{"id": "q1", "answers": []}])
    with pytest.raises(DataFileError, match=r"data\[0\]\.paragraphs\[0\]\.qas\[0\] has no 'question' key"):
        read_squad_file(path)


def test_version_2_detected_from_an_impossible_question(tmp_path):
    path = write_squad(tmp_path, [{"id": "q1", "question": "?", "answers": [], "is_impossible": True}])
    assert read_squad_file(path).version == "2.0"


def test_make_examples_from_lists():
    examples = make_examples(
        ["Who wrote it?", "Why?"],
        ["It was written by Ada Lovelace.", "No reason  given"],
        [{"text": "Ada Lovelace", "answer_start": 18}, None],
    )
    assert [example.qas_id for example in examples] == ["0", "1"]
    assert (examples[0].start_word, examples[0].end_word) == (4, 5)
    assert examples[0].answers == [{"text": "Ada Lovelace", "answer_start": 18}]
    assert examples[1].is_impossible and examples[1].answers == []
    assert examples[1].doc_tokens == ["No", "reason", "given"]


def test_make_examples_without_answers_is_for_inference():
    example = make_examples(["Who?"], ["Ada did."])[0]
    assert (example.is_impossible, example.answers, example.start_word) == (False, [], None)


def test_make_examples_rejects_an_answer_not_in_its_context():
    with pytest.raises(ValueError, match=r"answer 1: expected 'Ada' at character 3 of its context, found 'was'"):
        make_examples(["a", "b"], ["Ada was", "It was Ada"], [{"text": "Ada", "answer_start": 0}, {"text": "Ada", "answer_start": 3}])


def test_make_examples_rejects_unpaired_lists():
    with pytest.raises(ValueError, match="2 questions but 1 contexts"):
        make_examples(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="1 questions but 2 answers"):
        make_examples(["a"], ["c"], [None, None])
