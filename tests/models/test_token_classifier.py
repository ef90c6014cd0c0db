"""BertTokenClassifier and its preprocessor: first-piece labels, truncation, fit, tag; the
shared task checks (tests/helpers/task_harness.py): predict paths, lengths, saving, errors."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.models.token_classifier import BertTokenClassifier
from keras_bert_suite.preprocessing.token_classifier import BertTokenClassifierPreprocessor
from keras_bert_suite.recipes.ner_data import read_ner_jsonl
from tests.helpers import task_harness as harness
from tests.helpers.shared_data import shared
from tests.helpers.task_harness import BadInput, Single, TaskCase
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

LABELS = ["B-PER", "I-PER", "B-LOC", "O"]  # "O" deliberately not class 0
SENTENCES = [
    (["Johanson", "lives", "in", "Berlin"], ["B-PER", "O", "O", "B-LOC"]),
    (["Mary", "Smith", "visited", "Paris"], ["B-PER", "I-PER", "O", "B-LOC"]),
    (["Paris", "is", "big"], ["B-LOC", "O", "O"]),
    (["Bob", "slept", "in", "Frechette"], ["B-PER", "O", "O", "B-LOC"]),
]
WORDS = [words for words, _ in SENTENCES]
TAGS = [tags for _, tags in SENTENCES]
IDS = [[LABELS.index(tag) for tag in tags] for tags in TAGS]
# The pooler is part of the backbone but unused by a token head: Keras says so once per fit.
pytestmark = pytest.mark.filterwarnings(r"ignore:Gradients do not exist for variables \['pooler")


def _preprocessor(sequence_length=16):
    return BertTokenClassifierPreprocessor(minilm_tokenizer(), sequence_length=sequence_length)


def _tag_without_preprocessor(model):
    with harness.preprocessor_set_to(model, None):
        model.tag("Johanson lives")


def _ragged_dataset(x, y=None):
    words = tf.ragged.constant(x)
    return tf.data.Dataset.from_tensor_slices((words,) if y is None else (words, tf.ragged.constant(y)))


CASE = TaskCase(
    task=BertTokenClassifier,
    build=lambda compile=True: BertTokenClassifier(tiny_backbone(), len(LABELS), preprocessor=_preprocessor(),
                                                   labels=LABELS, compile=compile),
    x=WORDS,
    y=IDS,
    output_shape=lambda model, x: (harness.num_examples(x), model.preprocessor.sequence_length, model.num_classes),
    singles=(Single(" ".join(WORDS[0]), [" ".join(WORDS[0])]),),
    bad_inputs=(
        BadInput(lambda model: model.fit(WORDS[:2], [[0, 3, 3, 2], [0, 7, 3, 2]], verbose=0), ValueError,
                 r"Example 1 has label id 7; label ids must lie in \[0, 3\]"),
        BadInput(lambda model: model.fit(WORDS[:3], [IDS[0], IDS[1], [2, 3]], verbose=0), ValueError,
                 "Example 2 has 3 words but 2 labels"),
        BadInput(lambda model: model.fit(WORDS[:1], [TAGS[0]], verbose=0), ValueError,
                 "Expected integer label ids, found dtype string"),
        BadInput(lambda model: BertTokenClassifier(model.backbone, 3, labels=["O", "B-PER"]), ValueError,
                 "num_classes=3 but 2 labels"),
        BadInput(_tag_without_preprocessor, ValueError, r"tag\(\) needs a preprocessor"),
    ),
    preset_kwargs=dict(num_classes=len(LABELS), labels=LABELS),
    batch_size=3,
    dataset=_ragged_dataset,
)


def test_task_checks(tmp_path):
    harness.run_task_test(CASE, tmp_path)


def test_from_preset(tmp_path):
    harness.run_preset_test(CASE, tmp_path)


def test_labels_land_on_the_first_piece_of_each_word():
    x, y, weights = _preprocessor(8)([["Johanson", "lives", "in", "Berlin"]], [[1, 0, 0, 2]])
    # [CLS] johan ##son lives in berlin [SEP] [PAD]
    np.testing.assert_array_equal(x["token_ids"][0], [101, 13093, 3385, 3268, 1999, 4068, 102, 0])
    np.testing.assert_array_equal(x["segment_ids"][0], [0] * 8)
    np.testing.assert_array_equal(x["padding_mask"][0], [1, 1, 1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(y[0], [0, 1, 0, 0, 0, 2, 0, 0])
    np.testing.assert_array_equal(weights[0], [0, 1, 0, 1, 1, 1, 0, 0])
    assert y.dtype == tf.int32 and weights.dtype == tf.float32


def test_raw_texts_split_on_whitespace_and_per_example_weights_scale():
    preprocessor = _preprocessor(8)
    from_words = preprocessor([["Johanson", "lives"], ["in", "Berlin"]], [[1, 0], [0, 2]])
    from_texts = preprocessor(["Johanson  lives", "in\tBerlin"], [[1, 0], [0, 2]], np.array([1.0, 0.5]))
    np.testing.assert_array_equal(from_texts[0]["token_ids"], from_words[0]["token_ids"])
    np.testing.assert_array_equal(from_texts[1], from_words[1])
    np.testing.assert_array_equal(from_texts[2], [[0, 1, 0, 1, 0, 0, 0, 0], [0, 0.5, 0.5, 0, 0, 0, 0, 0]])


def test_truncation_drops_whole_words_from_the_end():
    preprocessor = _preprocessor(8)  # room for 6 pieces
    words = [["U.S.", "Ambassador", "Myles", "Frechette"]]  # u . s . | ambassador | myles | fr ##eche ##tte
    x, y, weights = preprocessor(words, [[1, 2, 3, 4]])
    np.testing.assert_array_equal(x["token_ids"][0], [101, 1057, 1012, 1055, 1012, 6059, 27056, 102])
    np.testing.assert_array_equal(y[0], [0, 1, 0, 0, 0, 2, 3, 0])
    np.testing.assert_array_equal(weights[0], [0, 1, 0, 0, 0, 1, 1, 0])
    assert preprocessor.first_piece_positions(words).to_list() == [[1, 5, 6, -1]]


def test_conll_sample_gives_one_weighted_piece_per_word():
    sentences = read_ner_jsonl(shared("hf_tests_samples/conll/sample.json"))
    tags = sorted({tag for sentence in sentences for tag in sentence.tags})
    ids = [[tags.index(tag) for tag in sentence.tags] for sentence in sentences]
    _, y, weights = _preprocessor(128)([sentence.words for sentence in sentences], ids)
    assert len(sentences) == 10
    np.testing.assert_array_equal(weights.numpy().sum(axis=1), [len(s.words) for s in sentences])
    for row, labels in enumerate(ids):
        np.testing.assert_array_equal(y[row].numpy()[weights[row].numpy() == 1], labels)


@pytest.fixture(scope="module")
def tagger():
    """A tagger fitted on Python lists, then overfitted on a tf.data.Dataset of (words, label ids)."""
    model = BertTokenClassifier(tiny_backbone(dropout=0.0, attention_dropout=0.0), len(LABELS),
                                preprocessor=_preprocessor(), dropout=0.0, labels=LABELS)
    model.compile(learning_rate=1e-3)
    lists_history = model.fit(WORDS, IDS, batch_size=2, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((tf.ragged.constant(WORDS), tf.ragged.constant(IDS)))
    history = model.fit(dataset.batch(4).repeat(25), epochs=3, verbose=0)
    return model, lists_history, history


def test_fit_lowers_the_loss_and_tag_reproduces_the_gold_tags(tagger):
    model, lists_history, history = tagger
    assert np.isfinite(lists_history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(WORDS, IDS, verbose=0)[1] == 1.0
    assert model.tag(WORDS) == TAGS
    assert model.tag(" ".join(WORDS[0])) == TAGS[0]
    assert model.tag(WORDS[2], is_split_into_words=True) == TAGS[2]
    assert model.tag([" ".join(words) for words in WORDS[:2]]) == TAGS[:2]


@pytest.mark.parametrize("labels, expected", [
    (None, [2, 2, 2, 2, 2, 0]),
    (["X", "O", "Y"], ["Y", "Y", "Y", "Y", "Y", "O"]),
])
def test_words_cut_off_get_the_outside_label(labels, expected):
    model = BertTokenClassifier(tiny_backbone(), 3, preprocessor=_preprocessor(8), labels=labels)
    logits = model.get_layer("logits")
    logits.set_weights([np.zeros_like(logits.kernel), np.array([0.0, 0.0, 5.0], "float32")])  # always class 2
    # johan ##son lives in berlin and = 6 pieces fill the sequence; "Paris" is cut off.
    assert model.tag("Johanson lives in Berlin and Paris") == expected
