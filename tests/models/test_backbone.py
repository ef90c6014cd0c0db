"""BertBackbone: parity with an independent NumPy BERT, Google/HF/own-preset loading."""

import keras
import numpy as np
import pytest

from keras_bert_suite import BertBackbone, BertConfig
from tests.helpers.google_checkpoint import write_google_folder
from tests.helpers.minilm import minilm_config, minilm_folder, minilm_weights, numpy_bert, padded_batch


@pytest.fixture(scope="module")
def minilm():
    return BertBackbone.from_preset(str(minilm_folder()))


@pytest.fixture(scope="module")
def batch():
    return padded_batch()


def _outputs(backbone, batch):
    return {k: keras.ops.convert_to_numpy(v) for k, v in backbone.predict_on_batch(batch).items()}


def test_minilm_matches_numpy_reference(minilm, batch):
    expected_sequence, expected_pooled = numpy_bert(minilm_weights(), minilm_config(), **batch)
    outputs = _outputs(minilm, batch)
    assert outputs["sequence_output"].shape == (3, 12, 384)
    assert outputs["pooled_output"].shape == (3, 384)
    error = np.abs(outputs["sequence_output"] - expected_sequence)
    valid = batch["padding_mask"].astype(bool)
    assert error[valid].max() <= 1e-5
    # Padded positions are never read, and their values are ill-conditioned: float32
    # rounding alone (measured against a float64 reference) reaches ~1e-5 there.
    assert error.max() <= 5e-5
    assert np.abs(outputs["pooled_output"] - expected_pooled).max() <= 1e-5


def test_google_tf1_checkpoint_loads_identically(minilm, batch, tmp_path):
    slots = {"bert/pooler/dense/kernel/adam_m": np.ones((384, 384), np.float32),
             "global_step": np.array(7, np.int64)}
    folder = write_google_folder(tmp_path / "uncased_minilm", minilm_folder(), minilm_weights(), slots)
    google = BertBackbone.from_preset(str(folder))
    for ours, theirs in zip(minilm.weights, google.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs))
    expected, found = _outputs(minilm, batch), _outputs(google, batch)
    np.testing.assert_array_equal(expected["sequence_output"], found["sequence_output"])
    np.testing.assert_array_equal(expected["pooled_output"], found["pooled_output"])


def test_hidden_states_and_variable_length(minilm, batch):
    backbone = BertBackbone(**minilm.bert_config.to_dict(), output_hidden_states=True)
    backbone.set_weights(minilm.get_weights())
    outputs = _outputs(backbone, batch)
    assert outputs["hidden_states"].shape == (3, 7, 12, 384)
    np.testing.assert_array_equal(outputs["hidden_states"][:, -1], outputs["sequence_output"])
    short = {k: v[:, :5] for k, v in batch.items()}
    assert _outputs(backbone, short)["sequence_output"].shape == (3, 5, 384)


def test_sequence_longer_than_max_is_a_clear_error():
    backbone = BertBackbone(50, 1, 2, 8, 16, max_sequence_length=8)
    too_long = {k: np.ones((1, 9), np.int32) for k in ("token_ids", "segment_ids", "padding_mask")}
    with pytest.raises(ValueError, match="Sequence length 9 exceeds max_sequence_length 8"):
        backbone(too_long)


def test_activation_follows_the_config(minilm, batch):
    tanh = BertBackbone(**{**minilm.bert_config.to_dict(), "hidden_activation": "gelu_new"})
    tanh.set_weights(minilm.get_weights())
    difference = np.abs(_outputs(tanh, batch)["sequence_output"] - _outputs(minilm, batch)["sequence_output"]).max()
    assert 1e-4 < difference < 0.5
    with pytest.raises(ValueError, match="Unknown hidden_activation 'swiglu'"):
        BertBackbone(50, 1, 2, 8, 16, hidden_activation="swiglu")


def test_config_files_google_and_hf(tmp_path):
    hf = BertConfig.from_json_file(minilm_folder() / "config.json")
    assert (hf.hidden_dim, hf.num_layers, hf.num_heads, hf.intermediate_dim) == (384, 6, 12, 1536)
    hf.to_json_file(tmp_path / "bert_config.json", google=True)
    google = BertBackbone.from_config_file(tmp_path / "bert_config.json")
    assert google.bert_config == hf
    (tmp_path / "bad.json").write_text('{"hidden_size": 8}')
    with pytest.raises(ValueError, match="missing key"):
        BertConfig.from_json_file(tmp_path / "bad.json")


def test_keras_file_round_trip(tmp_path, batch):
    backbone = BertBackbone(30522, 2, 2, 16, 32, max_sequence_length=32, dropout=0.0)
    path = tmp_path / "backbone.keras"
    backbone.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(_outputs(backbone, batch)["sequence_output"], _outputs(loaded, batch)["sequence_output"])


def test_save_to_preset_round_trips_bit_exactly(minilm, batch, tmp_path):
    from keras_bert_suite import WordPieceTokenizer

    tokenizer = WordPieceTokenizer.from_preset(str(minilm_folder()))
    minilm.save_to_preset(tmp_path / "preset", tokenizer=tokenizer)
    assert sorted(p.name for p in (tmp_path / "preset").iterdir()) == [
        "backbone_config.json", "kbs_metadata.json", "model.weights.h5", "tokenizer_config.json", "vocab.txt"]
    restored = BertBackbone.from_preset(str(tmp_path / "preset"))
    for a, b in zip(minilm.weights, restored.weights):
        assert a.path == b.path
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    np.testing.assert_array_equal(_outputs(minilm, batch)["sequence_output"], _outputs(restored, batch)["sequence_output"])
    assert WordPieceTokenizer.from_preset(str(tmp_path / "preset")).get_vocabulary() == tokenizer.get_vocabulary()
