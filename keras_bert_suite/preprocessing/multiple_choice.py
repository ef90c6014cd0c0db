"""`BertMultipleChoicePreprocessor`: a context and its candidate choices -> packed pairs.

Each (context, choice) pair is packed as `[CLS] context [SEP] choice [SEP]` with the
original pair truncation (trim the longer side first), as BERT's SWAG setup does, and
the pairs of one example stay together: every output is `[batch, num_choices, s]`.

Example:
    >>> preprocessor = BertMultipleChoicePreprocessor(tokenizer, sequence_length=16, num_choices=2)
    >>> x, y = preprocessor((["A man opens the door."], [["He walks in.", "He flies."]]), [0])
    >>> x["token_ids"].shape, y.numpy()
    (TensorShape([1, 2, 16]), array([0], dtype=int32))
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.preprocessing.base import TaskPreprocessor, to_string_tensor


def check_choice_rows(choices, num_choices):
    """Raises a clear ValueError when a Python/NumPy batch of choices is not `[batch, num_choices]`."""
    if isinstance(choices, np.ndarray) and choices.dtype != object:
        rows = choices.tolist() if choices.ndim == 2 else None
    elif isinstance(choices, (list, tuple)):
        rows = list(choices)
    else:
        return
    if rows is None or any(isinstance(row, (str, bytes)) for row in rows):
        raise ValueError(
            f"Expected choices as a batch of lists, [batch, num_choices={num_choices}] strings; found "
            f"{'a flat list of strings' if rows is not None else f'shape {choices.shape}'}. Wrap one "
            "example's choices in a list: ([context], [[choice_0, choice_1, ...]])."
        )
    for index, row in enumerate(rows):
        if len(row) != num_choices:
            raise ValueError(
                f"Example {index} has {len(row)} choices but num_choices={num_choices}; every example "
                f"needs exactly {num_choices} (build the model and preprocessor with the right num_choices)."
            )


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertMultipleChoicePreprocessor(TaskPreprocessor):
    """`x = (contexts, choices)`: contexts `[batch]`, choices `[batch, num_choices]` strings.

    Returns `token_ids`, `segment_ids`, `padding_mask` of shape
    `[batch, num_choices, sequence_length]`, and `y` (the index of the right choice)
    as given.
    """

    def __init__(self, tokenizer, sequence_length=128, num_choices=4, **kwargs):
        super().__init__(tokenizer, sequence_length, **kwargs)
        if num_choices < 1:
            raise ValueError(f"num_choices must be at least 1, found {num_choices}.")
        self.num_choices = num_choices

    def call(self, x, y=None, sample_weight=None):
        if not (isinstance(x, (tuple, list)) and len(x) == 2):
            raise ValueError(
                "Expected x = (contexts, choices): contexts [batch] strings and choices "
                f"[batch, num_choices={self.num_choices}] strings."
            )
        contexts = to_string_tensor(x[0], "contexts")
        choices = self._choice_tensor(x[1])
        if contexts.shape[0] is not None and choices.shape[0] is not None and contexts.shape[0] != choices.shape[0]:
            raise ValueError(
                f"Expected one row of choices per context; found {contexts.shape[0]} contexts and "
                f"{choices.shape[0]} rows of choices."
            )
        packed = self.pack(
            self.tokenizer(tf.repeat(contexts, self.num_choices)),
            self.tokenizer(tf.reshape(choices, [-1])),
        )
        shape = [-1, self.num_choices, self.sequence_length]
        packed = {name: tf.reshape(tensor, shape) for name, tensor in packed.items()}
        return keras.utils.pack_x_y_sample_weight(packed, y, sample_weight)

    def _choice_tensor(self, choices):
        """Choices as a dense string tensor `[batch, num_choices]`, checking the width."""
        check_choice_rows(choices, self.num_choices)
        if isinstance(choices, tf.RaggedTensor):
            check = tf.debugging.assert_equal(
                choices.row_lengths(), tf.cast(self.num_choices, choices.row_splits.dtype),
                message=f"Every example needs exactly num_choices={self.num_choices} choices",
            )
            with tf.control_dependencies([check]):
                choices = choices.to_tensor()
        choices = tf.convert_to_tensor(choices, dtype=tf.string)
        if choices.shape.rank != 2:
            raise ValueError(
                f"Expected choices of shape [batch, num_choices={self.num_choices}], found rank {choices.shape.rank}."
            )
        width = choices.shape[1]
        if width is not None and width != self.num_choices:
            raise ValueError(
                f"Found {width} choices per example but num_choices={self.num_choices}; every example "
                f"needs exactly {self.num_choices} (build the model and preprocessor with the right num_choices)."
            )
        if width is None:
            check = tf.debugging.assert_equal(
                tf.shape(choices)[1], self.num_choices,
                message=f"Every example needs exactly num_choices={self.num_choices} choices",
            )
            with tf.control_dependencies([check]):
                choices = tf.identity(choices)
        return choices

    def get_config(self):
        config = super().get_config()
        config.update(num_choices=self.num_choices)
        return config
