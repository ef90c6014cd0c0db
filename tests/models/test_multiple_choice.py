"""BertMultipleChoice and its preprocessor: pair packing, fit on SWAG; the shared task
checks (tests/helpers/task_harness.py): predict paths, lengths, saving, errors."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.models.multiple_choice import BertMultipleChoice
from keras_bert_suite.preprocessing.classifier import BertClassifierPreprocessor
from keras_bert_suite.preprocessing.multiple_choice import BertMultipleChoicePreprocessor
from keras_bert_suite.recipes.swag_data import read_swag
from tests.helpers import task_harness as harness
from tests.helpers.shared_data import shared
from tests.helpers.task_harness import BadInput, Single, TaskCase
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

CONTEXTS = ["A man opens the door.", "The chef cuts the onions.", "A girl kicks the ball.",
            "The dog barks at the mailman.", "She plants a tree.", "He boils water."]
CHOICES = [["He walks in.", "He flies away.", "He eats the door.", "He sings a song."],
           ["She cries a little.", "The onions fly.", "He juggles them.", "They turn blue."],
           ["It rolls away.", "It starts to rain.", "The ball sleeps.", "She reads a book."],
           ["The mailman runs.", "The dog flies.", "It snows indoors.", "The cat barks."],
           ["She waters it.", "It walks off.", "She eats the soil.", "The tree sings."],
           ["He makes tea.", "The water freezes.", "He swims in it.", "The pot dances."]]
LABELS = [0, 0, 0, 0, 0, 0]
SHORT_ROW_1 = [row[:3] if index == 1 else row for index, row in enumerate(CHOICES[:4])]  # example 1: 3 choices


def _preprocessor(num_choices=4, sequence_length=32):
    return BertMultipleChoicePreprocessor(minilm_tokenizer(), sequence_length=sequence_length, num_choices=num_choices)


def _chooser(compile=True):
    return BertMultipleChoice(tiny_backbone(), 4, preprocessor=_preprocessor(), compile=compile)


def _wrong_choice_count(model):
    """Packed inputs of 2 choices per example, to a model of 4, without a preprocessor."""
    packed = model.preprocessor((CONTEXTS[:4], CHOICES[:4]))
    with harness.preprocessor_set_to(model, None):
        model.predict({name: tensor[:, :2] for name, tensor in packed.items()})


CASE = TaskCase(
    task=BertMultipleChoice,
    build=_chooser,
    x=(CONTEXTS, CHOICES),
    y=np.array(LABELS),
    output_shape=lambda model, x: (harness.num_examples(x), model.num_choices),
    singles=(Single((CONTEXTS[0], CHOICES[0]), (CONTEXTS[:1], CHOICES[:1]), 0, [0]),),
    bad_inputs=(
        BadInput(lambda model: model.fit((CONTEXTS[:4], CHOICES[:4]), [0, 1, 4, 2], verbose=0), ValueError,
                 r"Example 2 has label 4; labels are choice indexes in \[0, 3\]"),
        BadInput(lambda model: model.fit((CONTEXTS[:4], SHORT_ROW_1), LABELS[:4], verbose=0), ValueError,
                 "Example 1 has 3 choices but num_choices=4"),
        BadInput(lambda model: model.fit(tf.data.Dataset.from_tensor_slices(
            ((CONTEXTS[:4], [row[:3] for row in CHOICES[:4]]), LABELS[:4])).batch(2), verbose=0),
            ValueError, "Found 3 choices per example but num_choices=4"),
        BadInput(lambda model: model.preprocessor((CONTEXTS[:1], CHOICES[0])), ValueError, "batch of lists"),
        BadInput(lambda model: BertMultipleChoice(model.backbone, 2, preprocessor=model.preprocessor), ValueError,
                 "num_choices=2 but its preprocessor packs 4"),
        BadInput(_wrong_choice_count, ValueError,
                 r"'token_ids' has shape \(4, 2, 32\); expected \[batch, num_choices=4"),
    ),
    preset_kwargs=dict(num_choices=4),
    batch_size=4,
)


def test_task_checks(tmp_path):
    harness.run_task_test(CASE, tmp_path)


def test_from_preset(tmp_path):
    harness.run_preset_test(CASE, tmp_path)


@pytest.fixture(scope="module")
def swag():
    """The first four SWAG sample examples: contexts, choices [4, 4] and labels."""
    examples = read_swag(shared("hf_tests_samples/swag/sample.json"))[:4]
    return [e.context for e in examples], [e.choices for e in examples], [e.label for e in examples]


def test_pairs_are_packed_per_choice_with_pair_truncation():
    x, y = _preprocessor(2, 12)((["A man opens the door."], [["He walks in.", "He flies."]]), [1])
    # a man opens the door . | he walks in . : 6 + 4 > 9, so the longer side loses its "."
    np.testing.assert_array_equal(x["token_ids"][0], [
        [101, 1037, 2158, 7480, 1996, 2341, 102, 2002, 7365, 1999, 1012, 102],
        [101, 1037, 2158, 7480, 1996, 2341, 1012, 102, 2002, 10029, 1012, 102],
    ])
    np.testing.assert_array_equal(x["segment_ids"][0], [[0] * 7 + [1] * 5, [0] * 8 + [1] * 4])
    np.testing.assert_array_equal(x["padding_mask"][0], np.ones((2, 12)))
    np.testing.assert_array_equal(y, [1])


def test_packing_matches_the_sentence_pair_preprocessor(swag):
    contexts, choices, _ = swag
    packed = _preprocessor(4, 24)((tf.constant(contexts), tf.constant(choices)))
    pairs = BertClassifierPreprocessor(minilm_tokenizer(), sequence_length=24)(
        ([c for c in contexts for _ in range(4)], [choice for row in choices for choice in row]))
    for name, tensor in packed.items():
        assert tensor.shape == (4, 4, 24)
        np.testing.assert_array_equal(tensor.numpy().reshape(16, 24), pairs[name])


@pytest.fixture(scope="module")
def chooser(swag):
    """A model overfitted on four SWAG examples through a tf.data.Dataset of ((contexts, choices), y)."""
    contexts, choices, labels = swag
    model = BertMultipleChoice(tiny_backbone(dropout=0.0, attention_dropout=0.0), 4,
                               preprocessor=_preprocessor(), dropout=0.0)
    model.compile(learning_rate=1e-3)
    dataset = tf.data.Dataset.from_tensor_slices(((contexts, choices), labels)).batch(4)
    history = model.fit(dataset.repeat(20), epochs=3, verbose=0)
    return model, history


def test_fit_lowers_the_loss_and_picks_the_right_choices(swag, chooser):
    contexts, choices, labels = swag
    model, history = chooser
    assert history.history["loss"][-1] < history.history["loss"][0]
    logits = model.predict((contexts, choices), verbose=0)
    assert logits.shape == (4, 4) and logits.dtype == np.float32
    np.testing.assert_array_equal(logits.argmax(axis=-1), labels)
    assert model.evaluate((contexts, choices), labels, verbose=0)[1] == 1.0
