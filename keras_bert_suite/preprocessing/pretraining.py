"""`BertPreTrainingPreprocessor`: sentence pairs + next-sentence labels -> MLM+NSP batches.

Example:
    >>> preprocessor = BertPreTrainingPreprocessor.from_preset("minilm_l6_h384_uncased")
    >>> x, y, weights = preprocessor((["It rained."], ["The road was wet."]), [0])  # 0 = IsNext
"""

import keras
import tensorflow as tf

from keras_bert_suite.preprocessing.masked_lm import BertMaskedLMPreprocessor


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertPreTrainingPreprocessor(BertMaskedLMPreprocessor):
    """Masks like `BertMaskedLMPreprocessor`; `y` is the NSP label (0 IsNext, 1 random)."""

    def call(self, x, y=None, sample_weight=None, seed=None):
        inputs, mask_ids, mask_weights = self.mask(self.pack_texts(x), seed)
        if y is None:
            return inputs
        labels = tf.cast(y, tf.int32)
        targets = {"mlm_logits": mask_ids, "nsp_logits": labels}
        weights = {"mlm_logits": mask_weights, "nsp_logits": tf.ones_like(labels, tf.float32)}
        return inputs, targets, weights
