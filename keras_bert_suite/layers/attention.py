"""Multi-head self-attention exactly as the original BERT computes it.

Scores are scaled by 1/sqrt(head_dim) and padded keys get `(1 - mask) * -10000.0`
added before the softmax (as `attention_layer` in google-research/bert `modeling.py`), so
outputs match Google's to 1e-6.

Example:
    >>> attention = BertSelfAttention(num_heads=2, hidden_dim=8)
    >>> out = attention(ops.ones((1, 3, 8)), ops.ones((1, 3), "int32"))  # [1, 3, 8]
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertSelfAttention(keras.layers.Layer):
    """Query/key/value projections, masked softmax attention, output projection."""

    def __init__(self, num_heads, hidden_dim, attention_dropout=0.1, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim {hidden_dim} must be a multiple of num_heads {num_heads}.")
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.head_dim = hidden_dim // num_heads
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)

        def dense(name):
            return keras.layers.Dense(
                hidden_dim, kernel_initializer=initializer, dtype=self.dtype_policy, name=name
            )

        self.query, self.key, self.value, self.output_dense = (
            dense("query"), dense("key"), dense("value"), dense("output")
        )
        self.dropout_layer = keras.layers.Dropout(attention_dropout, dtype=self.dtype_policy, name="dropout")

    def build(self, inputs_shape, padding_mask_shape=None):
        for layer in (self.query, self.key, self.value, self.output_dense):
            layer.build(inputs_shape)
        self.built = True

    def _split_heads(self, x):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, length, self.num_heads, self.head_dim))
        return ops.transpose(x, (0, 2, 1, 3))  # [b, heads, s, head_dim]

    def call(self, inputs, padding_mask, training=None):
        query = self._split_heads(self.query(inputs))
        key = self._split_heads(self.key(inputs))
        value = self._split_heads(self.value(inputs))
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))
        scores = scores * ops.cast(1.0 / math.sqrt(self.head_dim), scores.dtype)
        # Softmax in float32 so mixed precision keeps the -10000 mask and the sum exact.
        scores = ops.cast(scores, "float32")
        mask = ops.cast(padding_mask, "float32")[:, None, None, :]
        probs = ops.softmax(scores + (1.0 - mask) * -10000.0, axis=-1)
        probs = self.dropout_layer(ops.cast(probs, self.compute_dtype), training=training)
        context = ops.transpose(ops.matmul(probs, value), (0, 2, 1, 3))
        batch, length = ops.shape(context)[0], ops.shape(context)[1]
        return self.output_dense(ops.reshape(context, (batch, length, self.hidden_dim)))

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            hidden_dim=self.hidden_dim,
            attention_dropout=self.attention_dropout,
            initializer_range=self.initializer_range,
        )
        return config
