"""`BertPreTraining`: BERT's two pretraining heads, masked LM and next-sentence prediction.

Losses as in the original `run_pretraining.py`: MLM cross-entropy weighted by the
mask weights plus NSP cross-entropy (label 0 = IsNext). Metrics: masked-LM accuracy
and NSP accuracy.

Example:
    >>> model = BertPreTraining.from_preset("bert_base_uncased")
    >>> model.fit((["It rained."], ["The road was wet."]), [0], epochs=1)
    >>> model.predict((["It rained."], ["Cats purr."]))["nsp_logits"]  # [1, 2]
"""

import keras
from keras import ops

from keras_bert_suite.checkpoints.names import masked_lm_variables, output_layer_variables
from keras_bert_suite.layers.masked_lm_head import BertMaskedLMHead
from keras_bert_suite.models.backbone import task_dtype_policy
from keras_bert_suite.models.masked_lm import masked_lm_inputs, masked_lm_loss
from keras_bert_suite.models.task import BertTask
from keras_bert_suite.preprocessing.pretraining import BertPreTrainingPreprocessor


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertPreTraining(BertTask):
    """Outputs float32 `{"mlm_logits": [b, p, vocabulary_size], "nsp_logits": [b, 2]}`.

    The heads compute in the backbone's dtype policy (`dtype`, if given, must match it).
    """

    preprocessor_class = BertPreTrainingPreprocessor
    default_learning_rate = 1e-4

    def __init__(self, backbone, preprocessor=None, compile=True, dtype=None, **kwargs):
        policy = task_dtype_policy(backbone, dtype)
        # === Layers ===
        mlm_head = BertMaskedLMHead(
            backbone.token_embedding, backbone.hidden_activation, backbone.layer_norm_epsilon,
            backbone.initializer_range, dtype=policy, name="mlm_head",
        )
        nsp_head = keras.layers.Dense(
            2, kernel_initializer=keras.initializers.TruncatedNormal(stddev=backbone.initializer_range),
            dtype=policy, name="nsp_head",
        )
        # === Functional Model ===
        inputs = masked_lm_inputs(backbone)
        outputs = backbone({k: inputs[k] for k in backbone.input})
        logits = {
            "mlm_logits": mlm_head(outputs["sequence_output"], inputs["mask_positions"]),
            "nsp_logits": ops.cast(nsp_head(outputs["pooled_output"]), "float32"),
        }
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.dtype_policy = policy
        self.mlm_head, self.nsp_head = mlm_head, nsp_head
        self._init_task(backbone, preprocessor, compile)

    def default_loss(self):
        return {
            "mlm_logits": masked_lm_loss(),
            "nsp_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        }

    def default_weighted_metrics(self):
        return {
            "mlm_logits": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            "nsp_logits": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        }

    def head_checkpoint_variables(self):
        variables = masked_lm_variables(self.mlm_head)
        variables.update(output_layer_variables(self.nsp_head, "cls/seq_relationship/"))
        return variables
