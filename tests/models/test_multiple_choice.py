"""BertMultipleChoice and its preprocessor: pair packing, fit on SWAG, saving, errors."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.models.multiple_choice import BertMultipleChoice
from keras_bert_suite.preprocessing.classifier import BertClassifierPreprocessor
from keras_bert_suite.preprocessing.multiple_choice import BertMultipleChoicePreprocessor
from keras_bert_suite.recipes.swag_data import read_swag
from tests.helpers.shared_data import shared
from tests.helpers.tasks import assert_same_predictions, keras_round_trip, minilm_tokenizer, tiny_backbone


def _preprocessor(num_choices=4, sequence_length=32):
    return BertMultipleChoicePreprocessor(minilm_tokenizer(), sequence_length=sequence_length, num_choices=num_choices)


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


def test_packed_inputs_without_a_preprocessor(swag, chooser):
    contexts, choices, labels = swag
    model, _ = chooser
    packed_only = BertMultipleChoice(model.backbone, 4, dropout=0.0)
    packed_only.get_layer("choice_score").set_weights(model.get_layer("choice_score").get_weights())
    packed = model.preprocessor((contexts, choices))
    np.testing.assert_allclose(packed_only.predict(packed, verbose=0),
                               model.predict((contexts, choices), verbose=0), atol=1e-5)
    np.testing.assert_array_equal(model.predict(packed, verbose=0), model.predict((contexts, choices), verbose=0))
    np.testing.assert_array_equal(model.predict((contexts[0], choices[0]), verbose=0),  # one example
                                  model.predict((contexts[:1], choices[:1]), verbose=0))
    with pytest.raises(ValueError, match=r"'token_ids' has shape \(4, 2, 32\); expected \[batch, num_choices=4"):
        packed_only.predict({name: tensor[:, :2] for name, tensor in packed.items()})


def test_keras_round_trip(swag, chooser, tmp_path):
    contexts, choices, _ = swag
    model, _ = chooser
    restored = keras_round_trip(model, tmp_path)
    assert isinstance(restored, BertMultipleChoice) and restored.num_choices == 4
    assert restored.preprocessor.num_choices == 4 and restored.preprocessor.sequence_length == 32
    assert_same_predictions(model, restored, (contexts, choices))


def test_bad_input_errors(swag, chooser):
    contexts, choices, labels = swag
    model, _ = chooser
    with pytest.raises(ValueError, match=r"Example 2 has label 4; labels are choice indexes in \[0, 3\]"):
        model.fit((contexts, choices), [0, 1, 4, 2], verbose=0)
    short = [row[:3] if index == 1 else row for index, row in enumerate(choices)]
    with pytest.raises(ValueError, match="Example 1 has 3 choices but num_choices=4"):
        model.fit((contexts, short), labels, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices(((contexts, [row[:3] for row in choices]), labels)).batch(2)
    with pytest.raises(ValueError, match="Found 3 choices per example but num_choices=4"):
        model.fit(dataset, verbose=0)
    with pytest.raises(ValueError, match="batch of lists"):
        model.preprocessor((contexts[:1], choices[0]))
    with pytest.raises(ValueError, match="num_choices=2 but its preprocessor packs 4"):
        BertMultipleChoice(tiny_backbone(), 2, preprocessor=model.preprocessor)
    packed_only = BertMultipleChoice(tiny_backbone(), 4)
    with pytest.raises(ValueError, match="preprocessor=None.*not raw strings"):
        packed_only.predict((contexts, choices))
    uncompiled = BertMultipleChoice(tiny_backbone(), 4, preprocessor=_preprocessor(), compile=False)
    with pytest.raises(RuntimeError, match="compile=False"):
        uncompiled.fit((contexts, choices), labels)
