"""`BertClassifierPreprocessor`: raw single sentences or pairs -> packed inputs.

Example:
    >>> preprocessor = BertClassifierPreprocessor.from_preset("minilm_l6_h384_uncased")
    >>> x, y, _ = preprocessor((["The cat sat."], ["A cat was sitting."]), [1])
    >>> x["token_ids"].shape
    TensorShape([1, 128])
"""

import keras
import tensorflow as tf

from keras_bert_suite.preprocessing.base import TaskPreprocessor, to_string_tensor


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertClassifierPreprocessor(TaskPreprocessor):
    """`x` is a batch of texts, or a pair `(texts_a, texts_b)` of equal-length batches."""

    def call(self, x, y=None, sample_weight=None):
        if isinstance(x, (tuple, list)) and len(x) == 2 and not isinstance(x[0], str):
            first, second = to_string_tensor(x[0], "texts_a"), to_string_tensor(x[1], "texts_b")
            if first.shape[0] is not None and second.shape[0] is not None and first.shape[0] != second.shape[0]:
                raise ValueError(
                    f"A sentence pair needs as many second texts as first ones: found "
                    f"{first.shape[0]} texts_a and {second.shape[0]} texts_b."
                )
            packed = self.pack(self.tokenizer(first), self.tokenizer(second))
        else:
            packed = self.pack(self.tokenizer(to_string_tensor(x)))
        return keras.utils.pack_x_y_sample_weight(packed, y, sample_weight)
