"""Sequence classification's serving outputs: logits and their probabilities.

Probabilities follow the head's `problem_type`: softmax for single_label, sigmoid for
multi_label, none for regression. Multiple choice serves a softmax over its choices.

Example:
    >>> signature, serve = model.postprocessor.serving_function(pairs=True)
    >>> serve(text=tf.constant(["A man sits."]), text_b=tf.constant(["He rests."]))["probabilities"]
"""

import tensorflow as tf

from keras_bert_suite.models.classifier import BertClassifier
from keras_bert_suite.models.multiple_choice import BertMultipleChoice
from keras_bert_suite.models.task import register_postprocessor
from keras_bert_suite.postprocessing.base import TaskPostprocessor, string_spec


@register_postprocessor(BertClassifier)
class ClassifierPostprocessor(TaskPostprocessor):
    """`logits`, and `probabilities` unless the head is a regression."""

    def outputs(self, logits):
        logits = tf.cast(logits, tf.float32)
        if self.model.problem_type == "regression":
            return {"logits": logits}
        if self.model.problem_type == "multi_label":
            return {"logits": logits, "probabilities": tf.sigmoid(logits)}
        return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

    def serving_function(self, pairs=False):
        """`text` [b] (and `text_b` [b] with `pairs=True`) -> `logits`, `probabilities`."""
        model, preprocessor = self.model, self.model.preprocessor
        if pairs:
            def serve(text, text_b):
                return self.outputs(model(preprocessor((text, text_b)), training=False))

            return [string_spec("text"), string_spec("text_b")], serve

        def serve(text):
            return self.outputs(model(preprocessor(text), training=False))

        return [string_spec("text")], serve


@register_postprocessor(BertMultipleChoice)
class MultipleChoicePostprocessor(TaskPostprocessor):
    """`logits` and `probabilities` (softmax) over each example's choices."""

    def serving_function(self):
        """`context` [b], `choices` [b, num_choices] -> `logits`, `probabilities`."""
        model, preprocessor = self.model, self.model.preprocessor

        def serve(context, choices):
            logits = tf.cast(model(preprocessor((context, choices)), training=False), tf.float32)
            return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

        return [string_spec("context"), string_spec("choices", (None, model.num_choices))], serve
