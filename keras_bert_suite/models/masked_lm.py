"""`BertMaskedLM`: masked-token prediction with the tied MLM head, and `fill_mask`.

Example:
    >>> model = BertMaskedLM.from_preset("bert_base_uncased")
    >>> model.fill_mask(["The capital of France is [MASK]."], top_k=3)
    [[[{'token': 'paris', 'token_id': 3000, 'score': 0.9}, ...]]]
    >>> model.fit(["Some unlabelled text to adapt to."], epochs=1)  # new masks every epoch
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.checkpoints.names import masked_lm_variables
from keras_bert_suite.layers.masked_lm_head import BertMaskedLMHead
from keras_bert_suite.models.backbone import task_dtype_policy
from keras_bert_suite.models.task import BertTask
from keras_bert_suite.preprocessing.masked_lm import BertMaskedLMPreprocessor

MASK_TEXT = "[MASK]"


def masked_lm_inputs(backbone):
    """The backbone's inputs plus `mask_positions` (`[batch, predictions]` int)."""
    inputs = dict(backbone.input)
    inputs["mask_positions"] = keras.Input(shape=(None,), dtype="int32", name="mask_positions")
    return inputs


def masked_lm_loss():
    """Original MLM loss: sum(w * nll) / sum(w) (Google adds 1e-5 to the denominator)."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertMaskedLM(BertTask):
    """Returns float32 MLM logits `[b, p, vocabulary_size]` at `mask_positions`.

    The head computes in the backbone's dtype policy (`dtype`, if given, must match it).
    """

    preprocessor_class = BertMaskedLMPreprocessor
    default_learning_rate = 5e-5

    def __init__(self, backbone, preprocessor=None, compile=True, dtype=None, **kwargs):
        policy = task_dtype_policy(backbone, dtype)
        # === Layers ===
        head = BertMaskedLMHead(
            backbone.token_embedding, backbone.hidden_activation, backbone.layer_norm_epsilon,
            backbone.initializer_range, dtype=policy, name="mlm_head",
        )
        # === Functional Model ===
        inputs = masked_lm_inputs(backbone)
        sequence = backbone({k: inputs[k] for k in backbone.input})["sequence_output"]
        logits = head(sequence, inputs["mask_positions"])
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.dtype_policy = policy
        self.mlm_head = head
        self._init_task(backbone, preprocessor, compile)

    def default_loss(self):
        return masked_lm_loss()

    def default_weighted_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def head_checkpoint_variables(self):
        return masked_lm_variables(self.mlm_head)

    def check_labels(self, y):
        raise ValueError(
            "BertMaskedLM makes its own labels (the tokens it masks); pass texts only, "
            "e.g. model.fit(texts), not model.fit(texts, y)."
        )

    def fill_mask(self, texts, top_k=5):
        """For each text, for each `[MASK]` in it: the `top_k` tokens with probabilities.

        Returns a list (one per text) of lists (one per `[MASK]`, left to right) of
        `{"token", "token_id", "score"}` dicts, best first; `score` is the softmax
        probability over the whole vocabulary. A text without a `[MASK]`, or with one past
        `sequence_length`, raises a ValueError.
        """
        return self.postprocessor.fill_mask(texts, top_k=top_k)
