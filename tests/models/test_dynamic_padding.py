"""padding="dynamic": raw-text batches cut to their longest sequence (a multiple of 32) give the
outputs and training of fixed padding; question answering and NER keep sequence_length."""

import argparse

import keras
import numpy as np
import pytest

from keras_bert_suite import BertClassifier, BertMaskedLM, BertMultipleChoice, BertQuestionAnswerer
from keras_bert_suite import BertTokenClassifier
from keras_bert_suite.preprocessing.classifier import BertClassifierPreprocessor
from keras_bert_suite.preprocessing.masked_lm import BertMaskedLMPreprocessor
from keras_bert_suite.preprocessing.multiple_choice import BertMultipleChoicePreprocessor
from keras_bert_suite.preprocessing.question_answerer import BertQuestionAnswererPreprocessor
from keras_bert_suite.preprocessing.token_classifier import BertTokenClassifierPreprocessor
from keras_bert_suite.recipes import glue
from keras_bert_suite.recipes.common import build_task_model
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

LONG = "a much longer sentence that keeps going on about many things " * 4
# Batches of 4: short texts (one batch cut to 32), then a batch reaching 64 pieces.
FIRST = ["short one", "two words", "hi", "a bit longer than that", "ok", LONG, "fine", "x"]
SECOND = ["pair", "b", "c", "d", "e", "the pair", "f", "g"]
LABELS = [0, 1, 0, 1, 1, 0, 1, 0]


def _classifier():
    preprocessor = BertClassifierPreprocessor(minilm_tokenizer(), sequence_length=64)
    return BertClassifier(tiny_backbone(dropout=0.0, attention_dropout=0.0), num_classes=2, preprocessor=preprocessor, dropout=0.0)


def _lengths(model, x, **kwargs):
    return [tuple(batch[0]["token_ids"].shape) if isinstance(batch, tuple) else tuple(batch["token_ids"].shape)
            for batch in model.make_dataset(x, batch_size=4, **kwargs)]


def test_classifier_batches_are_cut_to_a_multiple_of_32_and_predict_the_same():
    model = _classifier()
    assert model.padding == "dynamic"
    assert _lengths(model, (FIRST, SECOND), materialize=True) == [(4, 32), (4, 64)]
    assert _lengths(model, (FIRST, SECOND)) == [(4, 32), (4, 64)]  # streamed (large inputs) the same
    dynamic = model.predict((FIRST, SECOND), batch_size=4, verbose=0)
    model.padding = "fixed"
    assert _lengths(model, (FIRST, SECOND), materialize=True) == [(4, 64), (4, 64)]
    fixed = model.predict((FIRST, SECOND), batch_size=4, verbose=0)
    # The same rows in the same order; float32 sums over fewer masked positions: within 1e-5.
    np.testing.assert_allclose(dynamic, fixed, atol=1e-5)
    assert not np.allclose(fixed[0], fixed[1])


def test_fit_and_evaluate_train_the_same_weights_as_fixed_padding():
    results = {}
    for padding in ("fixed", "dynamic"):
        model = _classifier()
        model.padding = padding
        model.compile(learning_rate=1e-3)
        history = model.fit((FIRST, SECOND), LABELS, batch_size=4, epochs=2, shuffle=False, verbose=0)
        results[padding] = (model.get_weights(), history.history["loss"],
                            model.evaluate((FIRST, SECOND), LABELS, batch_size=4, verbose=0))
    fixed, dynamic = results["fixed"], results["dynamic"]
    # Dropout off: its masks follow the batch's shape, so they differ between the two.
    for a, b in zip(fixed[0], dynamic[0]):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(fixed[1], dynamic[1], atol=1e-5)
    np.testing.assert_allclose(fixed[2], dynamic[2], atol=1e-5)
    assert fixed[1][1] < fixed[1][0]  # it trained


def test_multiple_choice_and_masked_lm_predict_the_same():
    choices = [[f"choice {i}", "b", "c", LONG if i == 3 else "d"] for i in range(4)]
    model = BertMultipleChoice(tiny_backbone(dropout=0.0, attention_dropout=0.0), num_choices=4, dropout=0.0,
                               preprocessor=BertMultipleChoicePreprocessor(minilm_tokenizer(), sequence_length=64,
                                                                           num_choices=4))
    contexts = ["start", "start", "start", "start"]
    assert [shape[-1] for shape in _lengths(model, (contexts[:2], choices[:2]))] == [32]
    outputs = {}
    for padding in ("dynamic", "fixed"):
        model.padding = padding
        outputs[padding] = model.predict((contexts, choices), batch_size=2, verbose=0)
    np.testing.assert_allclose(outputs["dynamic"], outputs["fixed"], atol=1e-5)

    masked = BertMaskedLM(tiny_backbone(dropout=0.0), preprocessor=BertMaskedLMPreprocessor(
        minilm_tokenizer(), sequence_length=64, mask_selection_length=4, seed=3))
    assert _lengths(masked, FIRST[:4]) == [(4, 32)]
    for padding in ("dynamic", "fixed"):
        masked.padding = padding
        outputs[padding] = masked.predict(FIRST, batch_size=4, verbose=0)
    np.testing.assert_allclose(outputs["dynamic"], outputs["fixed"], atol=1e-5)


def test_question_answering_and_token_classification_keep_sequence_length():
    qa = BertQuestionAnswerer(tiny_backbone(), preprocessor=BertQuestionAnswererPreprocessor(
        minilm_tokenizer(), sequence_length=64, doc_stride=16))
    assert qa.padding == "dynamic" and _lengths(qa, (["who?"], ["Ada."])) == [(1, 64)]
    tagger = BertTokenClassifier(tiny_backbone(), num_classes=3, preprocessor=BertTokenClassifierPreprocessor(
        minilm_tokenizer(), sequence_length=64))
    assert tagger.predict([["Ada", "wrote"]], verbose=0).shape == (1, 64, 3)


def test_unknown_padding_is_refused_naming_the_choices():
    model = _classifier()
    with pytest.raises(ValueError, match=r"padding must be one of \('dynamic', 'fixed'\), found 'bucket'"):
        model.padding = "bucket"
    assert model.padding == "dynamic"


def test_recipes_take_padding_from_the_flag(tmp_path):
    parser = argparse.ArgumentParser()
    glue.add_arguments(parser)
    preset = tmp_path / "preset"
    tiny_backbone().save_to_preset(preset, tokenizer=minilm_tokenizer())
    for flags, expected in (([], "dynamic"), (["--padding", "fixed"], "fixed")):
        args = parser.parse_args(["--task", "mrpc", "--data-dir", str(tmp_path), "--output-dir", str(tmp_path),
                                  "--preset", str(preset), *flags])
        assert build_task_model(BertClassifier, args, num_classes=2).padding == expected
    keras.backend.clear_session()
