import json

import pytest

from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.ner_data import TaggedSentence
from keras_bert_suite.recipes.ner_data import iob1_to_iob2
from keras_bert_suite.recipes.ner_data import label_list
from keras_bert_suite.recipes.ner_data import read_conll
from keras_bert_suite.recipes.ner_data import read_ner_jsonl
from keras_bert_suite.recipes.ner_data import split_tag
from keras_bert_suite.recipes.ner_data import tag_scheme
from keras_bert_suite.recipes.ner_data import write_conll_predictions
from keras_bert_suite.recipes.ner_metrics import Entity
from keras_bert_suite.recipes.ner_metrics import EntityCounts
from keras_bert_suite.recipes.ner_metrics import classification_report
from keras_bert_suite.recipes.ner_metrics import evaluate_ner
from keras_bert_suite.recipes.ner_metrics import extract_entities
from tests.helpers.shared_data import shared


@pytest.fixture
def conll_sample():
    return shared("hf_tests_samples/conll/sample.json")


# --- readers -----------------------------------------------------------------------------


def test_jsonl_sample_reads_ten_sentences_with_string_tags(conll_sample):
    sentences = read_ner_jsonl(conll_sample)
    assert len(sentences) == 10
    assert sentences[1] == TaggedSentence(["CHICAGO", "AT", "ATLANTA"], ["B-ORG", "O", "B-LOC"])
    assert sentences[2].words[1:3] == ["Bill", "Clinton"]
    assert sentences[2].tags[1:3] == ["B-PER", "I-PER"]
    assert [len(s.words) for s in sentences] == [17, 3, 24, 9, 26, 34, 1, 31, 25, 25]
    assert tag_scheme(s.tags for s in sentences) == "IOB2"
    assert label_list(sentences) == ["O", "B-LOC", "B-ORG", "B-PER", "I-LOC", "I-PER"]


def test_sample_entity_counts_per_type(conll_sample):
    gold = [s.tags for s in read_ner_jsonl(conll_sample)]
    scores = evaluate_ner(gold, gold)
    assert scores.per_type == {
        "LOC": EntityCounts(15, 15, 15),
        "ORG": EntityCounts(3, 3, 3),
        "PER": EntityCounts(7, 7, 7),
    }
    assert (scores.overall.f1, scores.accuracy, scores.tokens) == (1.0, 1.0, 195)


def test_jsonl_integer_tags_with_label_names(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"tokens": ["EU", "rejects"], "ner_tags": [3, 0]}) + "\n", encoding="utf-8")
    names = ["O", "B-PER", "I-PER", "B-ORG"]
    assert read_ner_jsonl(path, "tokens", "ner_tags", label_names=names) == [
        TaggedSentence(["EU", "rejects"], ["B-ORG", "O"])
    ]
    with pytest.raises(DataFileError, match=r"train\.jsonl:1: tag 3 is an integer id; pass label_names"):
        read_ner_jsonl(path, "tokens", "ner_tags")
    with pytest.raises(DataFileError, match=r"train\.jsonl:1: tag id 3 is outside label_names \(0\.\.1\)"):
        read_ner_jsonl(path, "tokens", "ner_tags", label_names=["O", "B-ORG"])


def test_jsonl_length_mismatch_and_missing_key_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [{"words": ["A"], "ner": ["O"]}, {"words": ["B", "C"], "ner": ["O"]}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"bad\.jsonl:2: 2 words but 1 tags") as caught:
        read_ner_jsonl(path)
    assert caught.value.line == 2
    path.write_text('{"words": ["A"]}\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"bad\.jsonl:1: expected key 'ner' holding a list; found keys \['words'\]"):
        read_ner_jsonl(path)


CONLL_TEXT = (
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "EU NNP B-NP B-ORG\n"
    "rejects VBZ B-VP O\n"
    "German JJ B-NP I-MISC\n"
    ". . O O\n"
    "\n"
    "\n"
    "Peter\tNNP\tB-NP\tI-PER\n"
    "Blackburn\tNNP\tI-NP\tI-PER\n"
    "-DOCSTART- -X- O O\n"
    "BRUSSELS I-LOC"
)


def test_conll_text_with_docstart_both_column_counts_and_no_final_newline(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(CONLL_TEXT, encoding="utf-8")
    sentences = read_conll(path)
    assert sentences == [
        TaggedSentence(["EU", "rejects", "German", "."], ["B-ORG", "O", "I-MISC", "O"]),
        TaggedSentence(["Peter", "Blackburn"], ["I-PER", "I-PER"]),
        TaggedSentence(["BRUSSELS"], ["I-LOC"]),
    ]
    assert tag_scheme(s.tags for s in sentences) == "IOB1"
    assert [iob1_to_iob2(s.tags) for s in sentences] == [
        ["B-ORG", "O", "B-MISC", "O"],
        ["B-PER", "I-PER"],
        ["B-LOC"],
    ]


def test_conll_line_with_one_column(tmp_path):
    path = tmp_path / "dev.txt"
    path.write_text("EU B-ORG\nrejects\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"dev\.txt:2: expected a word and its tag .* found one column 'rejects'"):
        read_conll(path)


def test_write_conll_predictions_exact_file_and_read_back(tmp_path):
    path = tmp_path / "out" / "predictions.txt"
    words = [["EU", "rejects"], ["Peter"]]
    write_conll_predictions(path, words, [["B-ORG", "O"], ["B-PER"]], [["B-ORG", "B-PER"], ["O"]])
    assert path.read_text(encoding="utf-8") == "EU B-ORG B-ORG\nrejects O B-PER\n\nPeter B-PER O\n\n"
    assert read_conll(path) == [TaggedSentence(["EU", "rejects"], ["B-ORG", "B-PER"]), TaggedSentence(["Peter"], ["O"])]
    assert list(path.parent.iterdir()) == [path]


def test_write_conll_predictions_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError, match=r"Sentence 0: 2 words, 2 gold tags, 1 predicted tags"):
        write_conll_predictions(tmp_path / "p.txt", [["a", "b"]], [["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match=r"Sentence 0: word 'New York' is empty or holds whitespace"):
        write_conll_predictions(tmp_path / "p.txt", [["New York"]], [["B-LOC"]], [["B-LOC"]])
    assert not (tmp_path / "p.txt").exists()


# --- tag schemes ---------------------------------------------------------------------------


def test_iob1_to_iob2_rules():
    assert iob1_to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]) == [
        "B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"
    ]
    iob2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]
    assert iob1_to_iob2(iob2) == iob2


def test_iob1_and_iob2_give_the_same_entities():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-MISC", "I-MISC"]
    assert extract_entities(iob1) == extract_entities(iob1_to_iob2(iob1)) == [
        Entity("PER", 0, 2), Entity("PER", 2, 3), Entity("LOC", 4, 5), Entity("MISC", 5, 7)
    ]


def test_bad_tags_are_named():
    with pytest.raises(ValueError, match=r"Tag 'PER' is neither 'O' nor PREFIX-TYPE"):
        tag_scheme([["O", "PER"]])
    with pytest.raises(ValueError, match=r"Tag 'E-PER' is not an IOB tag"):
        iob1_to_iob2(["B-PER", "E-PER"])
    assert split_tag("B-I-PER") == ("B", "I-PER")


# --- entity metrics (conlleval rules) ---------------------------------------------------------


def test_chunk_rules_for_each_scheme():
    assert extract_entities(["O", "I-PER", "I-PER", "O"]) == [Entity("PER", 1, 3)]  # I- after O starts
    assert extract_entities(["B-PER", "I-LOC"]) == [Entity("PER", 0, 1), Entity("LOC", 1, 2)]  # type change
    assert extract_entities(["I-LOC", "E-LOC", "E-LOC", "O", "E-PER"]) == [  # IOE
        Entity("LOC", 0, 2), Entity("LOC", 2, 3), Entity("PER", 4, 5)
    ]
    assert extract_entities(["S-PER", "B-LOC", "E-LOC", "S-LOC"]) == [  # IOBES
        Entity("PER", 0, 1), Entity("LOC", 1, 3), Entity("LOC", 3, 4)
    ]
    assert extract_entities(["O", "O"]) == []


def test_hand_computed_partial_match():
    # gold PER[0,2) LOC[3,4); predicted PER[0,1) LOC[3,4): only LOC is correct.
    scores = evaluate_ner([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]])
    assert scores.overall == EntityCounts(correct=1, predicted=2, gold=2)
    assert (scores.overall.precision, scores.overall.recall, scores.overall.f1) == (0.5, 0.5, 0.5)
    assert scores.per_type == {"LOC": EntityCounts(1, 1, 1), "PER": EntityCounts(0, 1, 1)}
    assert (scores.per_type["PER"].f1, scores.per_type["LOC"].f1) == (0.0, 1.0)
    assert scores.accuracy == 0.75


def test_seqeval_readme_example():
    gold = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    predicted = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    scores = evaluate_ner(gold, predicted)
    assert scores.as_dict() == {
        "precision": 0.5, "recall": 0.5, "f1": 0.5, "accuracy": 0.8,
        "MISC/precision": 0.0, "MISC/recall": 0.0, "MISC/f1": 0.0,
        "PER/precision": 1.0, "PER/recall": 1.0, "PER/f1": 1.0,
    }


# Chunking in the CoNLL-2000 style: IOB1 predictions scored against IOB2 gold.
CHUNK_GOLD = [
    ["B-NP", "B-PP", "B-NP", "I-NP", "B-VP", "I-VP", "I-VP", "O"],  # NP PP NP VP
    ["O", "B-NP", "I-NP", "O"],  # NP[1,3)
]
CHUNK_PREDICTED = [
    ["B-NP", "B-PP", "B-NP", "B-NP", "B-VP", "I-VP", "I-VP", "O"],  # NP PP NP NP VP
    ["I-NP", "I-NP", "O", "I-VP"],  # NP[0,2) VP[3,4): I- after start and after O open chunks
]


def test_conlleval_style_chunking_example():
    scores = evaluate_ner(CHUNK_GOLD, CHUNK_PREDICTED)
    assert scores.overall == EntityCounts(correct=3, predicted=7, gold=5)
    assert scores.per_type == {"NP": EntityCounts(1, 4, 3), "PP": EntityCounts(1, 1, 1), "VP": EntityCounts(1, 2, 1)}
    assert scores.overall.precision == pytest.approx(3 / 7)
    assert scores.overall.recall == pytest.approx(3 / 5)
    assert scores.overall.f1 == pytest.approx(0.5)  # 2 * (3/7)(3/5) / (3/7 + 3/5)
    assert (scores.correct_tokens, scores.tokens) == (7, 12)


def test_classification_report_text():
    assert classification_report(CHUNK_GOLD, CHUNK_PREDICTED, digits=2) == (
        "processed 12 tokens with 5 entities; found: 7 entities; correct: 3.\n"
        "          precision    recall  f1-score   support\n"
        "\n"
        "       NP      0.25      0.33      0.29         3\n"
        "       PP      1.00      1.00      1.00         1\n"
        "       VP      0.50      1.00      0.67         1\n"
        "\n"
        "micro avg      0.43      0.60      0.50         5\n"
        " accuracy                          0.58        12\n"
    )


def test_entities_never_cross_sentences():
    # As two sentences, the I-PER opens a new entity; joined, it would continue the first one.
    split = evaluate_ner([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]])
    assert split.overall == EntityCounts(correct=2, predicted=2, gold=2)
    joined = evaluate_ner([["B-PER", "I-PER"]], [["B-PER", "B-PER"]])
    assert joined.overall == EntityCounts(correct=0, predicted=2, gold=1)


def test_metric_input_errors():
    with pytest.raises(ValueError, match=r"Expected as many predicted as gold sentences, found 1 and 2"):
        evaluate_ner([["O"], ["O"]], [["O"]])
    with pytest.raises(ValueError, match=r"Sentence 1: 2 gold tags but 1 predicted tags"):
        evaluate_ner([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match=r"Tag 'X-PER' is neither 'O' nor PREFIX-TYPE"):
        evaluate_ner([["X-PER"]], [["O"]])
