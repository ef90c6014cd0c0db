"""`BertClassifier`: sentence or sentence-pair classification and regression.

The head is Google's `run_classifier.py` head: dropout on the pooled `[CLS]`
output, then one dense layer. `problem_type` picks the loss as HF does.

Example:
    >>> model = BertClassifier.from_preset("minilm_l6_h384_uncased", num_classes=2)
    >>> model.fit((["The cat sat."], ["A cat was sitting."]), [1], epochs=1)
    >>> model.predict((["It rains."], ["The sun shines."]))  # logits [1, 2]
"""

import keras
import numpy as np
from keras import ops

from keras_bert_suite.models.backbone import task_dtype_policy
from keras_bert_suite.models.task import BertTask, as_numpy_labels
from keras_bert_suite.preprocessing.classifier import BertClassifierPreprocessor

PROBLEM_TYPES = ("single_label", "multi_label", "regression")


def infer_problem_type(num_classes, y=None):
    """HF's rule: 1 output -> regression; integer labels -> single_label; else multi_label."""
    if num_classes == 1:
        return "regression"
    if y is not None and np.asarray(y).ndim == 2:
        return "multi_label"
    return "single_label"


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertClassifier(BertTask):
    """`num_classes` float32 logits per text (or pair); `problem_type` single_label/multi_label/regression.

    The head computes in the backbone's dtype policy (`dtype`, if given, must match it).
    """

    preprocessor_class = BertClassifierPreprocessor
    default_learning_rate = 5e-5

    def __init__(self, backbone, num_classes, preprocessor=None, dropout=0.1, problem_type=None,
                 compile=True, dtype=None, **kwargs):
        if problem_type is not None and problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type must be one of {PROBLEM_TYPES} or None, found {problem_type!r}.")
        if problem_type == "regression" and num_classes != 1:
            raise ValueError(f"problem_type='regression' needs num_classes=1, found {num_classes}.")
        policy = task_dtype_policy(backbone, dtype)
        # === Layers ===
        dropout_layer = keras.layers.Dropout(dropout, dtype=policy, name="classifier_dropout")
        output_dense = keras.layers.Dense(
            num_classes, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=policy, name="logits",
        )
        # === Functional Model ===
        inputs = backbone.input
        pooled = backbone(inputs)["pooled_output"]
        logits = ops.cast(output_dense(dropout_layer(pooled)), "float32")
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.dtype_policy = policy
        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout
        self.problem_type = problem_type or infer_problem_type(num_classes)
        self._init_task(backbone, preprocessor, compile)

    def default_loss(self):
        if self.problem_type == "regression":
            return keras.losses.MeanSquaredError()
        if self.problem_type == "multi_label":
            return keras.losses.BinaryCrossentropy(from_logits=True)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        if self.problem_type == "regression":
            return [keras.metrics.MeanSquaredError(name="mse")]
        if self.problem_type == "multi_label":
            return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)]
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def check_labels(self, y):
        labels = as_numpy_labels(y)
        if self.problem_type == "single_label":
            if labels.ndim != 1:
                raise ValueError(
                    f"single_label classification takes one class id per example; found labels of "
                    f"shape {labels.shape}. For multi-hot labels use problem_type='multi_label'."
                )
            bad = labels[(labels < 0) | (labels >= self.num_classes) | (labels != np.round(labels))]
            if bad.size:
                raise ValueError(
                    f"Labels must be class ids in [0, {self.num_classes - 1}] (num_classes="
                    f"{self.num_classes}); found {bad[:5].tolist()}."
                )
        elif self.problem_type == "multi_label" and (labels.ndim != 2 or labels.shape[1] != self.num_classes):
            raise ValueError(
                f"multi_label classification takes multi-hot labels of shape [n, {self.num_classes}]; "
                f"found {labels.shape}."
            )

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, dropout=self.dropout, problem_type=self.problem_type)
        return config
