"""Small shared pieces for task-model tests: a tiny backbone on the real MiniLM vocabulary."""

import functools

import keras
import numpy as np

from keras_bert_suite import BertBackbone
from tests.helpers.minilm import minilm_folder


@functools.lru_cache(maxsize=None)
def minilm_tokenizer():
    from keras_bert_suite.tokenizers import WordPieceTokenizer

    return WordPieceTokenizer(str(minilm_folder() / "vocab.txt"), lowercase=True)


def tiny_backbone(seed=0, **kwargs):
    """A 2-layer, 32-wide BERT with the MiniLM vocabulary size (random weights)."""
    keras.utils.set_random_seed(seed)
    arguments = dict(vocabulary_size=30522, num_layers=2, num_heads=2, hidden_dim=32,
                     intermediate_dim=64, max_sequence_length=64)
    return BertBackbone(**{**arguments, **kwargs})


def assert_same_predictions(model, restored, x):
    """Predictions of the original and a reloaded model are identical."""
    expected = keras.tree.map_structure(np.asarray, model.predict(x, verbose=0))
    found = keras.tree.map_structure(np.asarray, restored.predict(x, verbose=0))
    keras.tree.map_structure(np.testing.assert_array_equal, expected, found)


def keras_round_trip(model, tmp_path):
    """Saves `model` to a .keras file and loads it back (no custom_objects)."""
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    return keras.saving.load_model(path)
