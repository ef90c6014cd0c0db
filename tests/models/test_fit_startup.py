"""What a `fit` pays before its first step: the train step traced once (no variable created
inside it), and in-memory text preprocessed once for all epochs when no masks are random."""

from unittest import mock

import numpy as np
import tensorflow as tf

from keras_bert_suite import BertClassifier, BertClassifierPreprocessor
from keras_bert_suite.models import task as task_module
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

TEXTS = ["a good movie", "a bad film", "great acting", "awful plot", "lovely story", "dull script"] * 3
LABELS = [1, 0, 1, 0, 1, 0] * 3


def _classifier():
    preprocessor = BertClassifierPreprocessor(minilm_tokenizer(), sequence_length=16)
    model = BertClassifier(tiny_backbone(), 2, preprocessor=preprocessor, dropout=0.0)
    model.compile(learning_rate=1e-2)
    return model


def test_fit_creates_no_variable_inside_the_traced_train_step():
    # A tf.function whose first trace creates variables is traced a second time: Keras builds
    # the optimizer inside the first step unless it was built before.
    created = []

    def record(next_creator, **kwargs):
        created.append((kwargs.get("name"), tf.inside_function()))
        return next_creator(**kwargs)

    model = _classifier()
    with tf.variable_creator_scope(record):
        model.fit(TEXTS, LABELS, batch_size=6, epochs=1, verbose=0)
    assert model.optimizer.built and any("momentum" in str(name) for name, _ in created)
    assert [name for name, inside in created if inside] == []


def test_fit_preprocesses_in_memory_text_once_and_trains_as_streamed():
    made_once = _classifier()
    with mock.patch.object(task_module, "_preprocessed_now", wraps=task_module._preprocessed_now) as now:
        made_once.fit(TEXTS, LABELS, batch_size=6, epochs=3, seed=1, verbose=0)
    assert now.call_count == 1  # one pass over the texts for three epochs

    streamed = _classifier()
    streamed.materialize_limit = 0  # more examples than the limit: mapped through tf.data every epoch
    with mock.patch.object(task_module, "_preprocessed_now") as now:
        streamed.fit(TEXTS, LABELS, batch_size=6, epochs=3, seed=1, verbose=0)
    assert now.call_count == 0
    assert int(made_once.optimizer.iterations) == int(streamed.optimizer.iterations) == 9
    for once, each_epoch in zip(made_once.get_weights(), streamed.get_weights()):
        np.testing.assert_allclose(once, each_epoch, rtol=0, atol=1e-6)
