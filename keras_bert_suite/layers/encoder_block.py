"""One post-LayerNorm BERT encoder block: attention + feed-forward, each with residual.

Example:
    >>> block = BertEncoderBlock(num_heads=2, hidden_dim=8, intermediate_dim=32)
    >>> out = block(ops.ones((1, 3, 8)), ops.ones((1, 3), "int32"))  # [1, 3, 8]
    >>> saving = BertEncoderBlock(2, 8, 32, remat=True)  # recomputed in the backward pass
"""

import keras
from keras import ops

from keras_bert_suite.layers.activations import get_activation
from keras_bert_suite.layers.attention import BertSelfAttention


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertEncoderBlock(keras.layers.Layer):
    """`LN(x + Attn(x))` then `LN(h + W2 act(W1 h))`, dropout before each residual add.

    `remat=True` keeps only the block's input for the backward pass and recomputes the rest
    there (`keras.remat`), with the forward pass's dropout masks: activation memory of one
    block instead of all, for one more forward pass of the block per training step.
    """

    def __init__(
        self,
        num_heads,
        hidden_dim,
        intermediate_dim,
        hidden_activation="gelu",
        dropout=0.1,
        attention_dropout=0.1,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        remat=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.hidden_activation = hidden_activation
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.remat = remat
        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)
        policy = self.dtype_policy
        self.attention = BertSelfAttention(
            num_heads, hidden_dim, attention_dropout, initializer_range, dtype=policy, name="attention"
        )
        self.attention_dropout_layer = keras.layers.Dropout(dropout, dtype=policy, name="attention_dropout")
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="attention_layer_norm"
        )
        self.intermediate = keras.layers.Dense(
            intermediate_dim, activation=get_activation(hidden_activation),
            kernel_initializer=initializer, dtype=policy, name="intermediate",
        )
        self.output_dense = keras.layers.Dense(
            hidden_dim, kernel_initializer=initializer, dtype=policy, name="output"
        )
        self.output_dropout = keras.layers.Dropout(dropout, dtype=policy, name="output_dropout")
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=policy, name="output_layer_norm"
        )

    def build(self, inputs_shape, padding_mask_shape=None):
        self.attention.build(inputs_shape)
        self.attention_layer_norm.build(inputs_shape)
        self.intermediate.build(inputs_shape)
        self.output_dense.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))
        self.output_layer_norm.build(inputs_shape)
        self.built = True

    def call(self, inputs, padding_mask, training=None):
        if not self.remat:
            return self._forward(inputs, padding_mask, training)
        # The recomputation must draw the forward pass's dropout masks, so both runs first
        # reset each dropout's seed state to its value now (`ops.copy` reads it now; the
        # variable itself would be read after the forward pass advanced it). Only `inputs`
        # is an argument: TensorFlow's recompute_grad takes no keyword arguments inside a
        # graph, and the mask and seeds need no gradient.
        dropouts = (self.attention.dropout_layer, self.attention_dropout_layer, self.output_dropout)
        generators = [layer.seed_generator for layer in dropouts if layer.rate > 0]
        seeds = [ops.copy(generator.state) for generator in generators]

        def forward(hidden):
            for generator, seed in zip(generators, seeds):
                generator.state.assign(seed)
            return self._forward(hidden, padding_mask, training)

        return keras.remat(forward)(inputs)

    def _forward(self, inputs, padding_mask, training):
        attended = self.attention(inputs, padding_mask, training=training)
        attended = self.attention_dropout_layer(attended, training=training)
        hidden = self.attention_layer_norm(inputs + attended)
        feed_forward = self.output_dense(self.intermediate(hidden))
        feed_forward = self.output_dropout(feed_forward, training=training)
        return self.output_layer_norm(hidden + feed_forward)

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            hidden_dim=self.hidden_dim,
            intermediate_dim=self.intermediate_dim,
            hidden_activation=self.hidden_activation,
            dropout=self.dropout,
            attention_dropout=self.attention_dropout,
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
            remat=self.remat,
        )
        return config
