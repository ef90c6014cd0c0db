"""`BertConfig`: one architecture description read from Google or HF config files.

Example:
    >>> config = BertConfig.from_json_file("uncased_L-12_H-768_A-12/bert_config.json")
    >>> backbone = BertBackbone(**config.backbone_kwargs())
"""

import dataclasses
import json
import pathlib

from keras_bert_suite.utils import atomic_write_text, read_json_object

# Google `bert_config.json` / HF `config.json` key -> our argument name.
_KEY_MAP = {
    "vocab_size": "vocabulary_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "hidden_size": "hidden_dim",
    "intermediate_size": "intermediate_dim",
    "max_position_embeddings": "max_sequence_length",
    "type_vocab_size": "num_segments",
    "hidden_act": "hidden_activation",
    "hidden_dropout_prob": "dropout",
    "attention_probs_dropout_prob": "attention_dropout",
    "layer_norm_eps": "layer_norm_epsilon",
    "initializer_range": "initializer_range",
}
_REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """The architecture of a BERT encoder, in BertBackbone's argument names."""

    vocabulary_size: int
    num_layers: int
    num_heads: int
    hidden_dim: int
    intermediate_dim: int
    max_sequence_length: int = 512
    num_segments: int = 2
    hidden_activation: str = "gelu"
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_epsilon: float = 1e-12
    initializer_range: float = 0.02

    @classmethod
    def from_dict(cls, data, source="config"):
        """Builds a config from a Google/HF dict (unknown keys are ignored) or our own names."""
        if "vocabulary_size" in data:  # Already our own names.
            fields = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in fields})
        missing = [key for key in _REQUIRED if key not in data]
        if missing:
            raise ValueError(
                f"{source}: missing key(s) {missing}. A BERT config needs {list(_REQUIRED)} "
                f"(Google bert_config.json or HF config.json); found keys {sorted(data)}."
            )
        kwargs = {ours: data[theirs] for theirs, ours in _KEY_MAP.items() if theirs in data}
        config = cls(**kwargs)
        if config.hidden_dim % config.num_heads:
            raise ValueError(
                f"{source}: hidden_size {config.hidden_dim} is not a multiple of "
                f"num_attention_heads {config.num_heads}."
            )
        return config

    @classmethod
    def from_json_file(cls, path):
        """Reads a Google `bert_config.json` or an HF `config.json`."""
        path = pathlib.Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Config file not found: {path}. Expected bert_config.json or config.json.")
        return cls.from_dict(read_json_object(path), source=str(path))

    def to_dict(self):
        """Our own argument names -> values."""
        return dataclasses.asdict(self)

    def to_google_dict(self):
        """The same architecture in Google's `bert_config.json` keys."""
        ours = self.to_dict()
        return {theirs: ours[name] for theirs, name in _KEY_MAP.items() if theirs != "layer_norm_eps"}

    def to_json_file(self, path, google=False):
        """Writes the config atomically, in our names or (google=True) Google's."""
        data = self.to_google_dict() if google else self.to_dict()
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")

    def backbone_kwargs(self):
        """Arguments for `BertBackbone(**kwargs)`."""
        return self.to_dict()
