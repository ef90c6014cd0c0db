"""BERT's input embeddings: word + position + segment, then LayerNorm and dropout.

Example:
    >>> layer = BertEmbeddings(vocabulary_size=100, hidden_dim=8, max_sequence_length=16)
    >>> out = layer(ops.ones((2, 5), "int32"), ops.zeros((2, 5), "int32"))  # [2, 5, 8]
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertEmbeddings(keras.layers.Layer):
    """Sums word, learned absolute position and segment (token type) embeddings."""

    def __init__(
        self,
        vocabulary_size,
        hidden_dim,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.word_embeddings = keras.layers.Embedding(
            vocabulary_size, hidden_dim, embeddings_initializer=initializer,
            dtype=self.dtype_policy, name="word_embeddings",
        )
        self.token_type_embeddings = keras.layers.Embedding(
            num_segments, hidden_dim, embeddings_initializer=initializer,
            dtype=self.dtype_policy, name="token_type_embeddings",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.word_embeddings.build(token_ids_shape)
        self.token_type_embeddings.build(token_ids_shape)
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_sequence_length, self.hidden_dim),
            initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range),
        )
        self.layer_norm.build(tuple(token_ids_shape) + (self.hidden_dim,))
        self.built = True

    def call(self, token_ids, segment_ids, training=None):
        sequence_length = token_ids.shape[1]
        if sequence_length is not None and sequence_length > self.max_sequence_length:
            raise ValueError(
                f"Sequence length {sequence_length} exceeds max_sequence_length "
                f"{self.max_sequence_length} of this model. Truncate the input "
                f"(e.g. the preprocessor's sequence_length={self.max_sequence_length})."
            )
        positions = ops.cast(self.position_embeddings[: ops.shape(token_ids)[1]], self.compute_dtype)
        embeddings = self.word_embeddings(token_ids) + self.token_type_embeddings(segment_ids)
        embeddings = embeddings + ops.expand_dims(positions, 0)
        return self.dropout_layer(self.layer_norm(embeddings), training=training)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.hidden_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            hidden_dim=self.hidden_dim,
            max_sequence_length=self.max_sequence_length,
            num_segments=self.num_segments,
            dropout=self.dropout,
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
        )
        return config
