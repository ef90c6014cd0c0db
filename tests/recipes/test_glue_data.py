import collections

import pytest

from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.glue_data import GLUE_TASKS
from keras_bert_suite.recipes.glue_data import InputExample
from keras_bert_suite.recipes.glue_data import get_task
from keras_bert_suite.recipes.glue_data import read_glue
from keras_bert_suite.recipes.glue_data import read_table
from tests.helpers.shared_data import shared


@pytest.fixture
def shared_data():
    return shared()


def write_tsv(folder, name, rows):
    path = folder / name
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return path


def label_counts(examples):
    return collections.Counter(example.label for example in examples)


# --- real GLUE files -------------------------------------------------------------------


def test_mrpc_train_dev_test_from_real_files(shared_data):
    train = read_glue("MRPC", shared_data / "mrpc", "train")
    dev = read_glue("mrpc", shared_data / "mrpc", "dev")
    test = read_glue("mrpc", shared_data / "mrpc", "test")

    assert len(train) == 3667
    assert train[0] == InputExample(
        guid="train-0",
        text_a='Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his '
        "evidence .",
        text_b='Referring to him as only " the witness " , Amrozi accused his brother of deliberately distorting '
        "his evidence .",
        label="1",
    )
    assert len(dev) == 408
    assert label_counts(dev) == {"1": 279, "0": 129}
    # Unquoted TSV: the leading '"' is part of the sentence, as in the original reader.
    assert dev[0].text_b == '" The foodservice pie business does not fit our long-term growth strategy .'
    assert dev[-1].guid == "dev-407"
    assert len(test) == 1725
    assert label_counts(test) == {None: 1725}
    assert test[0].text_a.startswith("PCCW 's chief operating officer")
    assert test[0].text_b.startswith("Current Chief Operating Officer Mike Butcher")


def test_sst2_dev_keeps_sentences_verbatim(shared_data):
    dev = read_glue("sst-2", shared_data / "sst2", "dev")
    assert len(dev) == 872
    assert label_counts(dev) == {"1": 444, "0": 428}
    assert dev[0] == InputExample("dev-0", "it 's a charming and often affecting journey . ", None, "1")
    assert dev[1].text_a == "unflinchingly bleak and desperate "


def test_cola_dev_has_no_header(shared_data):
    dev = read_glue("cola", shared_data / "cola", "dev")
    assert len(dev) == 1043
    assert label_counts(dev) == {"1": 721, "0": 322}
    assert dev[0] == InputExample("dev-0", "The sailors rode the breeze clear of the rocks.", None, "1")
    assert dev[-1].text_a == "John talked to Bill about himself."


def test_hf_mrpc_sample_tsv_with_bom_matches_its_csv_twin(shared_data):
    folder = shared_data / "hf_tests_samples" / "MRPC"
    from_tsv = read_glue("mrpc", folder, "train")
    from_csv = read_table(folder / "train.csv", "sentence1", "sentence2", "label")

    assert len(from_tsv) == len(from_csv) == 6
    assert [e.label for e in from_tsv] == ["1", "0", "0", "1", "0", "1"]
    csv_to_glue = {"equivalent": "1", "not_equivalent": "0"}
    for tsv_example, csv_example in zip(from_tsv, from_csv):
        assert (csv_example.text_a, csv_example.text_b) == (tsv_example.text_a, tsv_example.text_b)
        assert csv_to_glue[csv_example.label] == tsv_example.label
    assert from_csv[0].guid == "train-0"
    assert from_csv[1].text_b.startswith('His wife said he was " 100 percent behind George Bush "')


def test_read_table_tsv_by_header_name_on_real_glue_file(shared_data):
    examples = read_table(shared_data / "mrpc" / "dev.tsv", "#1 String", "#2 String", "Quality", labels=["0", "1"])
    assert len(examples) == 408
    assert examples == [
        InputExample(e.guid, e.text_a, e.text_b, e.label) for e in read_glue("mrpc", shared_data / "mrpc", "dev")
    ]


# --- synthetic files for the tasks without shared samples --------------------------------


def test_stsb_is_regression_with_float_scores(tmp_path):
    header = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2"]
    write_tsv(
        tmp_path,
        "train.tsv",
        [
            header + ["score"],
            ["0", "main-captions", "MSRvid", "2012test", "0001", "none", "none", "A plane.", "An air plane.", "5.000"],
        ],
    )
    write_tsv(tmp_path, "test.tsv", [header, ["0", "main-forums", "f", "2015", "0", "none", "none", "Hi.", "Hello."]])

    task = get_task("STS-B")
    assert task.is_regression and task.num_labels == 1 and task.labels is None
    assert read_glue(task, tmp_path, "train") == [InputExample("train-0", "A plane.", "An air plane.", 5.0)]
    assert read_glue("stsb", tmp_path, "test") == [InputExample("test-0", "Hi.", "Hello.", None)]


def test_qqp_train_and_test_columns(tmp_path):
    write_tsv(
        tmp_path,
        "train.tsv",
        [["id", "qid1", "qid2", "question1", "question2", "is_duplicate"], ["7", "15", "16", "How?", "Why?", "0"]],
    )
    write_tsv(tmp_path, "test.tsv", [["id", "question1", "question2"], ["0", "Who?", "Whom?"]])
    assert read_glue("qqp", tmp_path, "train") == [InputExample("train-0", "How?", "Why?", "0")]
    assert read_glue("qqp", tmp_path, "test") == [InputExample("test-0", "Who?", "Whom?", None)]


MNLI_HEADER = ["index", "promptID", "pairID", "genre", "s1_bp", "s2_bp", "s1_p", "s2_p", "sentence1", "sentence2"]


@pytest.mark.parametrize("task_name, dev_file", [("mnli", "dev_matched.tsv"), ("mnli-mm", "dev_mismatched.tsv")])
def test_mnli_matched_and_mismatched_dev_files(tmp_path, task_name, dev_file):
    parses = ["(", ")", "(", ")"]
    write_tsv(
        tmp_path,
        dev_file,
        [
            MNLI_HEADER + ["label1", "label2", "label3", "label4", "label5", "gold_label"],
            ["0", "1", "1n", "fiction", *parses, "A cat sat.", "An animal sat.", "entailment", "neutral",
             "entailment", "entailment", "entailment", "entailment"],
            ["1", "2", "2c", "fiction", *parses, "It rains.", "It is dry.", "contradiction", "neutral",
             "neutral", "neutral", "neutral", "neutral"],
        ],
    )
    examples = read_glue(task_name, tmp_path, "dev")
    assert examples == [
        InputExample("dev-0", "A cat sat.", "An animal sat.", "entailment"),
        InputExample("dev-1", "It rains.", "It is dry.", "neutral"),
    ]
    assert get_task(task_name).labels == ("contradiction", "entailment", "neutral")


def test_mnli_mismatched_test_file_name(tmp_path):
    write_tsv(tmp_path, "test_mismatched.tsv", [MNLI_HEADER, ["0", "1", "1", "g", "(", ")", "(", ")", "P.", "H."]])
    assert read_glue("mnli_mismatched", tmp_path, "test") == [InputExample("test-0", "P.", "H.", None)]
    with pytest.raises(FileNotFoundError, match="test_matched.tsv"):
        read_glue("mnli", tmp_path, "test")


@pytest.mark.parametrize(
    "task_name, label",
    [("qnli", "not_entailment"), ("rte", "entailment"), ("wnli", "1")],
)
def test_qnli_rte_wnli_use_the_last_column(tmp_path, task_name, label):
    write_tsv(tmp_path, "train.tsv", [["index", "sentence1", "sentence2", "label"], ["0", "First.", "Second.", label]])
    write_tsv(tmp_path, "test.tsv", [["index", "sentence1", "sentence2"], ["0", "Q.", "A."]])
    assert read_glue(task_name, tmp_path, "train") == [InputExample("train-0", "First.", "Second.", label)]
    assert read_glue(task_name, tmp_path, "test") == [InputExample("test-0", "Q.", "A.", None)]


def test_cola_train_without_header_and_test_with_header(tmp_path):
    write_tsv(tmp_path, "train.tsv", [["gj04", "1", "", "Good sentence."], ["gj04", "0", "*", "Sentence bad."]])
    write_tsv(tmp_path, "test.tsv", [["index", "sentence"], ["0", "Unseen sentence."]])
    assert read_glue("cola", tmp_path, "train") == [
        InputExample("train-0", "Good sentence.", None, "1"),
        InputExample("train-1", "Sentence bad.", None, "0"),
    ]
    assert read_glue("cola", tmp_path, "test") == [InputExample("test-0", "Unseen sentence.", None, None)]


def test_sst2_test_reads_index_then_sentence(tmp_path):
    write_tsv(tmp_path, "test.tsv", [["index", "sentence"], ["0", "uneasy mishmash ."], ["1", "a gem ."]])
    assert [e.text_a for e in read_glue("sst2", tmp_path, "test")] == ["uneasy mishmash .", "a gem ."]


def test_registry_covers_glue_with_reported_metrics():
    assert list(GLUE_TASKS) == ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "mnli_mismatched", "qnli", "rte", "wnli"]
    assert get_task("CoLA").metrics == ("mcc",)
    assert get_task("qqp").metrics == ("acc", "f1", "acc_and_f1")
    assert get_task("sts_b").metrics == ("pearson", "spearmanr", "corr")
    assert get_task("rte").labels == ("entailment", "not_entailment")
    assert get_task("mnli").num_labels == 3
    assert get_task("MNLI-MM").dev.file == "dev_mismatched.tsv"


# --- errors ------------------------------------------------------------------------------


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown GLUE task 'squad'; known tasks: cola, sst2, mrpc, .*wnli"):
        get_task("squad")


def test_unknown_split_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown split 'validation' for GLUE task 'mrpc'"):
        read_glue("mrpc", tmp_path, "validation")


def test_missing_file_names_path_and_task(tmp_path):
    expected = r"GLUE task 'rte' split 'dev' expects .*dev\.tsv, which does not exist"
    with pytest.raises(FileNotFoundError, match=expected):
        read_glue("rte", tmp_path, "dev")


def test_row_with_too_few_columns_names_file_and_line(tmp_path):
    path = write_tsv(tmp_path, "train.tsv", [["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                                             ["1", "1", "2", "A.", "B."], ["0", "3", "4", "C."]])
    expected = r"train\.tsv:3: expected at least 5 tab-separated columns for mrpc train, found 4"
    with pytest.raises(DataFileError, match=expected) as caught:
        read_glue("mrpc", tmp_path, "train")
    assert (caught.value.file, caught.value.line) == (str(path), 3)


def test_last_column_label_must_follow_the_texts(tmp_path):
    write_tsv(tmp_path, "dev.tsv", [["index", "question", "sentence", "label"], ["0", "Q?", "S."]])
    expected = r"dev\.tsv:2: expected at least 4 tab-separated columns for qnli dev, found 3"
    with pytest.raises(DataFileError, match=expected):
        read_glue("qnli", tmp_path, "dev")


def test_label_outside_task_labels(tmp_path):
    write_tsv(tmp_path, "dev.tsv", [["index", "sentence1", "sentence2", "label"], ["0", "A.", "B.", "entailment"],
                                    ["1", "C.", "D.", "maybe"]])
    expected = r"dev\.tsv:3: label 'maybe' is not one of the rte labels \['entailment', 'not_entailment'\]"
    with pytest.raises(DataFileError, match=expected):
        read_glue("rte", tmp_path, "dev")


def test_stsb_score_that_is_not_a_number(tmp_path):
    row = ["0", "g", "f", "y", "0", "s", "s", "A.", "B.", "high"]
    write_tsv(tmp_path, "dev.tsv", [["h"] * 10, row])
    with pytest.raises(DataFileError, match=r"dev\.tsv:2: expected a number as the stsb score, found 'high'"):
        read_glue("stsb", tmp_path, "dev")


def test_read_table_jsonl(tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_text('{"text": "Great.", "stars": 5}\n\n{"text": "Bad.", "stars": 1}\n', encoding="utf-8")
    assert read_table(path, "text", label="stars") == [
        InputExample("reviews-0", "Great.", None, 5),
        InputExample("reviews-1", "Bad.", None, 1),
    ]
    assert read_table(path, "text") == [InputExample("reviews-0", "Great."), InputExample("reviews-1", "Bad.")]


def test_read_table_malformed_jsonl_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "Fine."}\n{"text": "Broken\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"data\.jsonl:2: malformed JSON"):
        read_table(path, "text")


def test_read_table_jsonl_missing_key_and_non_string_text(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "Fine.", "label": 1}\n{"sentence": "Oops.", "label": 0}\n', encoding="utf-8")
    expected = r"data\.jsonl:2: missing key 'text' \(for text_a\); found keys \['label', 'sentence'\]"
    with pytest.raises(DataFileError, match=expected):
        read_table(path, "text", label="label")
    path.write_text('{"text": 3}\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"data\.jsonl:1: key 'text' must hold a string, found int"):
        read_table(path, "text")


def test_read_table_missing_column_and_ragged_row(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('sentence,label\n"Hello, world",pos\nshort\n', encoding="utf-8")
    expected = r"data\.csv:1: column 'text' \(for text_a\) is not in the header \['sentence', 'label'\]"
    with pytest.raises(DataFileError, match=expected):
        read_table(path, "text")
    with pytest.raises(DataFileError, match=r"data\.csv:3: expected 2 columns as in the header, found 1"):
        read_table(path, "sentence", label="label")


def test_read_table_label_set_and_multiline_csv_line_numbers(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('sentence,label\n"two\nlines",pos\nok,neutral\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"data\.csv:4: label 'neutral' is not one of \['neg', 'pos'\]"):
        read_table(path, "sentence", label="label", labels=["neg", "pos"])
    assert read_table(path, "sentence", label="label")[0].text_a == "two\nlines"


def test_read_table_json_integer_labels_match_the_string_classes_of_a_task(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"a": "x", "b": "y", "label": 1}\n{"a": "x", "b": "z", "label": 0}\n'
                    '{"a": "x", "b": "w", "label": true}\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"pairs\.jsonl:3: label True is not one of \['0', '1'\]"):
        read_table(path, "a", "b", "label", labels=("0", "1"))
    path.write_text(path.read_text().splitlines()[0] + "\n" + path.read_text().splitlines()[1] + "\n")
    assert [example.label for example in read_table(path, "a", "b", "label", labels=("0", "1"))] == ["1", "0"]


def test_read_table_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match=r"unknown extension '\.xlsx'; use \.csv, \.tsv, or \.jsonl/\.json"):
        read_table(tmp_path / "data.xlsx", "text")


def test_data_file_error_message_and_type():
    error = DataFileError("a/dev.tsv", 7, "bad row")
    assert str(error) == "a/dev.tsv:7: bad row"
    assert isinstance(error, ValueError)
    assert str(DataFileError("a/dev.tsv", None, "empty file")) == "a/dev.tsv: empty file"
