"""`kbs extract-features`: the original extract_features.py JSON Lines, checked against the backbone."""

import json

import keras
import numpy as np
import pytest

from keras_bert_suite import BertBackbone
from keras_bert_suite.cli import main
from keras_bert_suite.recipes.features import hidden_state_positions, parse_layers, read_input_lines
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preset") / "tiny_bert"
    tiny_backbone().save_to_preset(folder, tokenizer=minilm_tokenizer())
    return folder


def extract(preset, lines, tmp_path, *flags):
    source = tmp_path / "input.txt"
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    output = tmp_path / "features.jsonl"
    code = main(["extract-features", "--input-file", str(source), "--output-file", str(output),
                 "--preset", str(preset), *flags])
    return code, output


def packed(tokens, segments, length):
    """Backbone inputs for one row of known word pieces, padded to `length`."""
    ids = [minilm_tokenizer().token_to_id(token) for token in tokens]
    pad = length - len(ids)
    return {
        "token_ids": np.array([ids + [0] * pad], np.int32),
        "segment_ids": np.array([segments + [0] * pad], np.int32),
        "padding_mask": np.array([[1] * len(ids) + [0] * pad], np.int32),
    }


def values_of(record, layer):
    return np.array([next(l["values"] for l in feature["layers"] if l["index"] == layer)
                     for feature in record["features"]])


def test_features_match_the_backbone_for_single_and_pair_lines(tiny_preset, tmp_path):
    lines = ["Hello, World!", "The cat sat. ||| A cat was sitting on the mat.", "  naïve café  "]
    code, output = extract(tiny_preset, lines, tmp_path, "--layers", "-1,-2", "--max-seq-length", "16",
                           "--batch-size", "2")
    assert code == 0
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [record["linex_index"] for record in records] == [0, 1, 2]
    assert list(records[0]) == ["linex_index", "features"]
    assert list(records[0]["features"][0]) == ["token", "layers"]
    expected_tokens = [
        ["[CLS]", "hello", ",", "world", "!", "[SEP]"],
        ["[CLS]", "the", "cat", "sat", ".", "[SEP]", "a", "cat", "was", "sitting", "on", "the", "mat", ".", "[SEP]"],
        ["[CLS]", "naive", "cafe", "[SEP]"],
    ]
    expected_segments = [[0] * 6, [0] * 6 + [1] * 9, [0] * 4]
    assert [[feature["token"] for feature in record["features"]] for record in records] == expected_tokens
    assert [[l["index"] for l in feature["layers"]] for feature in records[1]["features"]] == [[-1, -2]] * 15

    backbone = BertBackbone.from_preset(tiny_preset)
    first_block = keras.Model(backbone.input, backbone.get_layer("encoder_layer_0").output)
    for record, tokens, segments in zip(records, expected_tokens, expected_segments):
        inputs = packed(tokens, segments, 16)
        last = keras.ops.convert_to_numpy(backbone(inputs)["sequence_output"])[0, : len(tokens)]
        first = keras.ops.convert_to_numpy(first_block(inputs))[0, : len(tokens)]
        found_last, found_first = values_of(record, -1), values_of(record, -2)
        assert found_last.shape == (len(tokens), 32)
        np.testing.assert_allclose(found_last, np.round(last, 6), atol=1e-6)
        np.testing.assert_allclose(found_first, np.round(first, 6), atol=1e-6)
        # Rounded to 6 decimals, as the original writes them.
        assert np.all(np.round(found_last, 6) == found_last)


def test_long_lines_are_truncated_as_the_original(tiny_preset, tmp_path):
    lines = ["one two three four five ||| six seven", "one two three four five six seven"]
    code, output = extract(tiny_preset, lines, tmp_path, "--layers", "0", "--max-seq-length", "8")
    assert code == 0
    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    tokens = [[feature["token"] for feature in record["features"]] for record in records]
    # Pair: 5 + 2 pieces into a budget of 8 - 3: the longer side loses two.
    assert tokens[0] == ["[CLS]", "one", "two", "three", "[SEP]", "six", "seven", "[SEP]"]
    assert tokens[1] == ["[CLS]", "one", "two", "three", "four", "five", "six", "[SEP]"]
    assert [layer["index"] for layer in records[0]["features"][0]["layers"]] == [0]


def test_empty_line_is_an_error_naming_the_line(tiny_preset, tmp_path, capsys):
    code, output = extract(tiny_preset, ["first text", "", "third text"], tmp_path)
    assert code == 2
    error = capsys.readouterr().err
    assert f"kbs extract-features: error: {tmp_path / 'input.txt'}:2: empty line" in error
    assert "Traceback" not in error
    assert not output.exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--layers", "-1,-3", "--max-seq-length", "16"], "Layer -3 does not exist in a 2-layer model; use -2..1"),
        (["--max-seq-length", "128"], "--max-seq-length 128 exceeds the 64 positions the preset"),
    ],
)
def test_flags_outside_the_model_exit_2(tiny_preset, tmp_path, capsys, flags, message):
    code, output = extract(tiny_preset, ["text"], tmp_path, *flags)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_layer_indexes_count_encoder_layers_from_the_first():
    assert parse_layers("-1,-2,-3,-4") == [-1, -2, -3, -4]
    # hidden_states = [embeddings, layer 0, ..., layer 11]
    assert hidden_state_positions([-1, -12, 0, 11], 12) == [12, 1, 1, 12]
    with pytest.raises(ValueError, match="comma-separated integers"):
        parse_layers("last")


def test_pair_separator_needs_spaces_around_the_bars(tmp_path):
    source = tmp_path / "input.txt"
    source.write_text("a ||| b\na|||b\n  left |||  right \n", encoding="utf-8")
    assert read_input_lines(source) == [("a", "b"), ("a|||b", None), ("left", " right")]
