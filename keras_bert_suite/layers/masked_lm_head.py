"""BERT's masked-LM head: transform, LayerNorm, tied decoder, output bias.

Google's `cls/predictions`: dense (activation = hidden_act) + LayerNorm(1e-12), then
logits against the word-embedding table (tied) plus a per-token `output_bias`.
Only the hidden states at `mask_positions` are projected.

Example:
    >>> head = BertMaskedLMHead(backbone.token_embedding, hidden_activation="gelu")
    >>> logits = head(sequence_output, mask_positions)  # [b, p, vocabulary_size]
"""

import keras
from keras import ops

from keras_bert_suite.layers.activations import get_activation


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertMaskedLMHead(keras.layers.Layer):
    """Predicts the vocabulary at chosen positions, decoding with the tied embedding table."""

    def __init__(self, token_embedding, hidden_activation="gelu", layer_norm_epsilon=1e-12,
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.hidden_activation = hidden_activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.transform = keras.layers.Dense(
            token_embedding.output_dim, activation=get_activation(hidden_activation),
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="transform",
        )
        self.transform_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="transform_layer_norm"
        )

    def build(self, sequence_output_shape, mask_positions_shape=None):
        hidden_shape = (None, None, self.token_embedding.output_dim)
        self.transform.build(hidden_shape)
        self.transform_layer_norm.build(hidden_shape)
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.token_embedding.input_dim,), initializer="zeros"
        )
        self.built = True

    def call(self, sequence_output, mask_positions):
        positions = ops.cast(mask_positions, "int32")[:, :, None]
        hidden = ops.take_along_axis(sequence_output, positions, axis=1)
        hidden = self.transform_layer_norm(self.transform(hidden))
        table = ops.cast(self.token_embedding.embeddings, hidden.dtype)
        logits = ops.matmul(hidden, ops.transpose(table)) + ops.cast(self.output_bias, hidden.dtype)
        return ops.cast(logits, "float32")

    def compute_output_shape(self, sequence_output_shape, mask_positions_shape):
        return tuple(mask_positions_shape) + (self.token_embedding.input_dim,)

    def get_config(self):
        # The embedding layer is shared with the backbone; the task model re-links it.
        config = super().get_config()
        config.update(
            hidden_activation=self.hidden_activation,
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
        )
        return config
