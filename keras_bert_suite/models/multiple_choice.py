"""`BertMultipleChoice`: pick the right continuation among `num_choices` (SWAG).

Every (context, choice) pair runs through the backbone as its own sequence; dropout
and a dense layer with ONE output score each pair's pooled `[CLS]` vector, and the
scores of one example form its `num_choices` logits (softmax over the choices), as in
the BERT paper's SWAG setup.

Example:
    >>> model = BertMultipleChoice.from_preset("minilm_l6_h384_uncased", num_choices=4)
    >>> contexts = ["Members of the procession walk down the street."]
    >>> choices = [["A drum line passes by.", "A drum line eats.", "A drum line sleeps.", "A drum line sings."]]
    >>> model.fit((contexts, choices), [0], epochs=3)
    >>> model.predict((contexts, choices))   # logits [1, 4]
"""

import keras
import numpy as np
from keras import ops

from keras_bert_suite.models.backbone import INPUT_NAMES, task_dtype_policy
from keras_bert_suite.models.task import BertTask, as_numpy_labels, batch_of_one
from keras_bert_suite.preprocessing.base import is_string_input
from keras_bert_suite.preprocessing.multiple_choice import BertMultipleChoicePreprocessor, check_choice_rows


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class MergeChoices(keras.layers.Layer):
    """`[batch, num_choices, s]` -> `[batch * num_choices, s]`, for a sequence length known only at run time."""

    def call(self, inputs):
        return ops.reshape(inputs, (-1, ops.shape(inputs)[-1]))

    def compute_output_shape(self, input_shape):
        batch, num_choices, length = input_shape
        return (None if batch is None or num_choices is None else batch * num_choices, length)


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertMultipleChoice(BertTask):
    """Logits `[batch, num_choices]` (float32) over each example's choices.

    With a preprocessor, `fit`/`evaluate`/`predict` take `x = (contexts, choices)`
    (contexts `[batch]`, choices `[batch, num_choices]` strings) and `y` = index of the
    right choice; a `tf.data.Dataset` must yield `((contexts, choices), y)` batches of
    those shapes, e.g. `Dataset.from_tensor_slices(((contexts, choices), y)).batch(16)`.
    Without one it takes `token_ids`/`segment_ids`/`padding_mask` `[batch, num_choices, s]`.

    `default_learning_rate` is 2e-5: the BERT paper fine-tunes SWAG for 3 epochs at
    2e-5, batch 16 (HF's `run_swag` example uses 5e-5).

    Args:
        backbone: a `BertBackbone`.
        num_choices: choices per example.
        preprocessor: a `BertMultipleChoicePreprocessor` with the same `num_choices`, or None.
        dropout: dropout rate before the scoring layer.
        compile: compile with BERT's defaults.
        dtype: None, or the backbone's dtype policy (the head computes in it).
    """

    preprocessor_class = BertMultipleChoicePreprocessor
    default_learning_rate = 2e-5

    def __init__(self, backbone, num_choices, preprocessor=None, dropout=0.1, compile=True, dtype=None,
                 **kwargs):
        if preprocessor is not None and preprocessor.num_choices != num_choices:
            raise ValueError(
                f"The model has num_choices={num_choices} but its preprocessor packs "
                f"{preprocessor.num_choices} choices per example; build both with the same num_choices."
            )
        policy = task_dtype_policy(backbone, dtype)
        # === Layers ===
        merge_choices = MergeChoices(dtype=policy, name="merge_choices")
        dropout_layer = keras.layers.Dropout(dropout, dtype=policy, name="multiple_choice_dropout")
        score_dense = keras.layers.Dense(
            1, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=policy, name="choice_score",
        )
        # === Functional Model ===
        inputs = {name: keras.Input(shape=(num_choices, None), dtype="int32", name=name) for name in INPUT_NAMES}
        pooled = backbone({name: merge_choices(tensor) for name, tensor in inputs.items()})["pooled_output"]
        scores = ops.cast(score_dense(dropout_layer(pooled)), "float32")
        logits = ops.reshape(scores, (-1, num_choices))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.dtype_policy = policy
        # === Config ===
        self.num_choices = num_choices
        self.dropout = dropout
        self._init_task(backbone, preprocessor, compile)

    @classmethod
    def from_preset(cls, preset, load_weights=True, sequence_length=128, preprocessor="auto", num_choices=4,
                    **kwargs):
        """`BertTask.from_preset`, with a preprocessor that packs `num_choices` choices."""
        if preprocessor == "auto":
            preprocessor = BertMultipleChoicePreprocessor.from_preset(
                preset, sequence_length=sequence_length, num_choices=num_choices)
        return super().from_preset(preset, load_weights=load_weights, sequence_length=sequence_length,
                                   preprocessor=preprocessor, num_choices=num_choices, **kwargs)

    # === Compilation ===
    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    # === Data ===
    def check_labels(self, y):
        labels = as_numpy_labels(y)
        if labels.ndim != 1:
            raise ValueError(f"Expected one choice index per example; found labels of shape {labels.shape}.")
        bad = np.flatnonzero((labels < 0) | (labels >= self.num_choices) | (labels != np.round(labels)))
        if bad.size:
            raise ValueError(
                f"Example {int(bad[0])} has label {labels[bad[0]].item()!r}; labels are choice indexes in "
                f"[0, {self.num_choices - 1}] (num_choices={self.num_choices})."
            )

    def make_dataset(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False, materialize=False):
        """`BertTask.make_dataset`, checking first that every example has `num_choices` choices."""
        if self.preprocessor is None or not is_string_input(x):
            self.check_packed_shape(x)
            return super().make_dataset(x, y, sample_weight, batch_size, shuffle, materialize)
        x, y, sample_weight = batch_of_one(x, y, sample_weight)
        if isinstance(x, (tuple, list)) and len(x) == 2:
            check_choice_rows(x[1], self.num_choices)
        return super().make_dataset(x, y, sample_weight, batch_size, shuffle, materialize)

    def check_packed_shape(self, x):
        """Packed inputs must be `[batch, num_choices, s]`."""
        if not isinstance(x, dict):
            return
        for name in INPUT_NAMES:
            shape = getattr(x.get(name), "shape", None)
            if shape is not None and (len(shape) != 3 or shape[1] != self.num_choices):
                raise ValueError(
                    f"Packed input {name!r} has shape {tuple(shape)}; expected [batch, "
                    f"num_choices={self.num_choices}, sequence_length]."
                )

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update(num_choices=self.num_choices, dropout=self.dropout)
        return config
