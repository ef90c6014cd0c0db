"""`BertBackbone`: the BERT encoder as a functional Keras model.

Example:
    >>> backbone = BertBackbone.from_preset("minilm_l6_h384_uncased")
    >>> outputs = backbone({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
    >>> outputs["sequence_output"].shape, outputs["pooled_output"].shape
    >>> BertBackbone.from_preset("minilm_l6_h384_uncased", dtype="mixed_bfloat16", remat=True)
"""

import keras
from keras import ops

from keras_bert_suite.checkpoints.keras import save_preset
from keras_bert_suite.checkpoints.loading import load_backbone_weights
from keras_bert_suite.config import BertConfig
from keras_bert_suite.layers import SUPPORTED_ACTIVATIONS, BertEmbeddings, BertEncoderBlock
from keras_bert_suite.presets import resolve_preset

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


def dtype_policy(dtype):
    """The Keras dtype policy `dtype` names (None: the global policy); a clear ValueError if none.

    Example:
        >>> policy = dtype_policy("mixed_float16")
        >>> policy.compute_dtype, policy.variable_dtype
        ('float16', 'float32')
    """
    hint = "Use 'float32', 'mixed_float16' or 'mixed_bfloat16' (or a keras.DTypePolicy)."
    try:
        policy = keras.dtype_policies.get(dtype)
    except ValueError as error:
        raise ValueError(f"dtype={dtype!r} is not a dtype policy: {error} {hint}") from None
    if policy.quantization_mode is not None or not keras.backend.is_float_dtype(policy.compute_dtype):
        raise ValueError(f"dtype={dtype!r} does not compute in floating point. {hint}")
    return policy


def task_dtype_policy(backbone, dtype=None):
    """The dtype policy of a task model on `backbone`: the backbone's own.

    A `dtype` naming another policy is a ValueError: the heads compute as the backbone does.

    Example:
        >>> backbone = BertBackbone.from_preset("minilm_l6_h384_uncased", dtype="mixed_float16")
        >>> task_dtype_policy(backbone).name
        'mixed_float16'
    """
    if dtype is not None and dtype_policy(dtype).name != backbone.dtype_policy.name:
        raise ValueError(
            f"dtype={dtype!r} differs from the backbone's dtype policy {backbone.dtype_policy.name!r}; "
            "a task model computes as its backbone does. Build the backbone with it: "
            "BertBackbone(..., dtype=...) or Task.from_preset(..., dtype=...)."
        )
    return backbone.dtype_policy


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertBackbone(keras.Model):
    """BERT encoder: embeddings, `num_layers` post-LN encoder blocks and the tanh pooler.

    Inputs are a dict of int tensors `token_ids`, `segment_ids`, `padding_mask`
    (`[batch, seq]`, any `seq <= max_sequence_length`). Outputs are a dict with
    `sequence_output` `[b, s, h]`, `pooled_output` `[b, h]` and, when
    `output_hidden_states=True`, `hidden_states` `[b, num_layers + 1, s, h]`
    (the embeddings, then every block).

    `dtype` is the Keras dtype policy (default: the global one), e.g. "mixed_float16":
    variables stay float32, layers compute in float16, LayerNorm statistics and the
    attention softmax in float32. `remat=True` recomputes each encoder block in the backward pass (same
    gradients, less activation memory); it is kept in `get_config` (a `.keras` file resumes
    training as it was saved) but not in a saved preset, which holds the architecture only.
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=512,
        num_segments=2,
        hidden_activation="gelu",
        dropout=0.1,
        attention_dropout=0.1,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        output_hidden_states=False,
        remat=False,
        dtype=None,
        **kwargs,
    ):
        if hidden_activation not in SUPPORTED_ACTIVATIONS:
            raise ValueError(
                f"Unknown hidden_activation {hidden_activation!r}; supported: {SUPPORTED_ACTIVATIONS}."
            )
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim {hidden_dim} must be a multiple of num_heads {num_heads}.")
        policy = dtype_policy(dtype)
        # === Layers ===
        embeddings = BertEmbeddings(
            vocabulary_size, hidden_dim, max_sequence_length, num_segments, dropout,
            layer_norm_epsilon, initializer_range, dtype=policy, name="embeddings",
        )
        blocks = [
            BertEncoderBlock(
                num_heads, hidden_dim, intermediate_dim, hidden_activation, dropout,
                attention_dropout, layer_norm_epsilon, initializer_range, remat=remat,
                dtype=policy, name=f"encoder_layer_{index}",
            )
            for index in range(num_layers)
        ]
        pooler = keras.layers.Dense(
            hidden_dim, activation="tanh",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=policy, name="pooler",
        )

        # === Functional Model ===
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}
        hidden = embeddings(inputs["token_ids"], inputs["segment_ids"])
        hidden_states = [hidden]
        for block in blocks:
            hidden = block(hidden, inputs["padding_mask"])
            hidden_states.append(hidden)
        outputs = {"sequence_output": hidden, "pooled_output": pooler(hidden[:, 0, :])}
        if output_hidden_states:
            outputs["hidden_states"] = ops.stack(hidden_states, axis=1)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # A functional model's constructor drops `dtype`: the model would report the global
        # policy, and `compile` would not add loss scaling for "mixed_float16".
        self.dtype_policy = policy

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.hidden_activation = hidden_activation
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.output_hidden_states = output_hidden_states
        self.remat = remat

    @property
    def token_embedding(self):
        """The word-embedding layer (its table is the tied MLM decoder)."""
        return self.get_layer("embeddings").word_embeddings

    @property
    def bert_config(self):
        """This backbone's architecture as a `BertConfig`."""
        return BertConfig(
            vocabulary_size=self.vocabulary_size, num_layers=self.num_layers,
            num_heads=self.num_heads, hidden_dim=self.hidden_dim,
            intermediate_dim=self.intermediate_dim, max_sequence_length=self.max_sequence_length,
            num_segments=self.num_segments, hidden_activation=self.hidden_activation,
            dropout=self.dropout, attention_dropout=self.attention_dropout,
            layer_norm_epsilon=self.layer_norm_epsilon, initializer_range=self.initializer_range,
        )

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": keras.saving.serialize_keras_object(self.dtype_policy)}
        config.update(self.bert_config.to_dict(), output_hidden_states=self.output_hidden_states,
                      remat=self.remat)
        return config

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """Builds an untrained backbone from a Google `bert_config.json` or HF `config.json`."""
        return cls(**{**BertConfig.from_json_file(path).backbone_kwargs(), **kwargs})

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Builds the backbone of `preset` (registered name, URL or folder) with its weights.

        `kwargs` override architecture-independent arguments, e.g.
        `output_hidden_states=True`, `dropout=0.0`, `dtype="mixed_float16"` or `remat=True`.
        The preset's float32 weights load into any policy (mixed policies keep float32 variables).
        """
        resolved = resolve_preset(preset)
        backbone = cls(**{**resolved.config.backbone_kwargs(), **kwargs})
        if load_weights:
            load_backbone_weights(backbone, resolved)
        return backbone

    def save_to_preset(self, path, tokenizer=None):
        """Writes a preset folder (config, `.weights.h5`, vocabulary, metadata) at `path`."""
        save_preset(path, self, tokenizer=tokenizer)
