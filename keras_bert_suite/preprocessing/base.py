"""`TaskPreprocessor`: the shared base of every task's preprocessor.

A preprocessor is a Keras layer of TensorFlow string ops: it turns a batch of raw
text (and labels) into the packed tensors a task model trains on, and runs inside
`tf.data` (never inside the jit-compiled train step).

Example:
    >>> preprocessor = BertClassifierPreprocessor.from_preset("minilm_l6_h384_uncased", sequence_length=64)
    >>> x, y, sample_weight = preprocessor(["a sentence"], [1])
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.preprocessing.segment_packer import pack_segments
from keras_bert_suite.tokenizers import WordPieceTokenizer
from keras_bert_suite.tokenizers.wordpiece import encode_python_text


def to_string_tensor(texts, what="text"):
    """A 1-D tf.string tensor from a str, list/array of str or string tensor."""
    if isinstance(texts, str):
        texts = [texts]
    # Python str (lone surrogates included) as WordPieceTokenizer reads them.
    tensor = tf.convert_to_tensor(encode_python_text(texts)) if not isinstance(texts, tf.Tensor) else texts
    if tensor.dtype != tf.string:
        raise TypeError(f"Expected {what} as strings, found dtype {tensor.dtype.name}.")
    return tensor


def is_string_input(x):
    """True when `x` (possibly nested in tuples/lists/dicts) holds raw strings."""
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, (tf.Tensor, tf.RaggedTensor)):
        return x.dtype == tf.string
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO"
    if isinstance(x, dict):
        return any(is_string_input(v) for v in x.values())
    if isinstance(x, tuple):
        return any(is_string_input(v) for v in x)
    if isinstance(x, list):
        return bool(x) and is_string_input(x[0])
    return False


class TaskPreprocessor(keras.layers.Layer):
    """Holds a `WordPieceTokenizer` and a `sequence_length`; subclasses implement `call`."""

    def __init__(self, tokenizer, sequence_length=128, **kwargs):
        super().__init__(**kwargs)
        # String inputs must reach `call` as they are (Keras would try to convert them).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True
        if sequence_length < 3:
            raise ValueError(f"sequence_length must be at least 3 ([CLS] x [SEP]), found {sequence_length}.")
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length

    def pack(self, first, second=None):
        """Packs ragged token ids into the backbone's input dict."""
        tokenizer = self.tokenizer
        ids, segments, mask = pack_segments(
            first, second, self.sequence_length, tokenizer.cls_token_id, tokenizer.sep_token_id,
            tokenizer.pad_token_id,
        )
        return {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}

    def get_config(self):
        config = super().get_config()
        config.update(
            tokenizer=keras.saving.serialize_keras_object(self.tokenizer),
            sequence_length=self.sequence_length,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("tokenizer"), dict):
            config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)

    @classmethod
    def from_preset(cls, preset, sequence_length=128, **kwargs):
        """This preprocessor with the tokenizer (vocabulary, casing) of `preset`."""
        return cls(WordPieceTokenizer.from_preset(preset), sequence_length=sequence_length, **kwargs)
