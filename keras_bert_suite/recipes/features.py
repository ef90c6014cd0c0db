"""Write the hidden states of chosen encoder layers for every word piece of a text file (JSON Lines).

The `kbs extract-features` recipe, as the original `extract_features.py`: each input
line is `text_a` or `text_a ||| text_b`; each output line is
`{"linex_index": i, "features": [{"token": "[CLS]", "layers": [{"index": -1,
"values": [...]}, ...]}, ...]}` with one entry per word piece ([CLS] and [SEP]
included, padding left out) and values rounded to 6 decimals. Layer indexes count
encoder layers as the original does: 0 is the first block, -1 the last (the
embeddings are not a layer). A pair is truncated to `max_seq_length - 3` pieces by
trimming the longer side; a single text to `max_seq_length - 2`.

Example:
    $ kbs extract-features --input-file input.txt --output-file features.jsonl \\
        --preset bert_base_uncased --layers -1,-2,-3,-4 --max-seq-length 128
    >>> extract_features("input.txt", "features.jsonl", "minilm_l6_h384_uncased", layers=[-1])
    2
"""

import json
import pathlib
import re

import keras
import numpy as np

from keras_bert_suite.models.backbone import BertBackbone
from keras_bert_suite.preprocessing.classifier import BertClassifierPreprocessor
from keras_bert_suite.presets import DEFAULT_PRESET
from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.tokenizers import WordPieceTokenizer
from keras_bert_suite.utils import atomic_path

PAIR_PATTERN = re.compile(r"^(.*) \|\|\| (.*)$")
DECIMALS = 6


def read_input_lines(path):
    """`[(text_a, text_b or None)]`, one per line of `path`, split on " ||| " as the original.

    Surrounding whitespace is stripped. An empty line raises `DataFileError` naming it:
    the original would silently embed an empty text.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Input file {path} does not exist; pass a text file with one text per line.")
    examples = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as error:
                raise DataFileError(path, number, f"not valid UTF-8 ({error.reason} at byte {error.start}); "
                                    "save the file as UTF-8") from None
            if not line:
                raise DataFileError(path, number, "empty line; every line needs a text, or two texts as "
                                    "'text_a ||| text_b'. Remove the line.")
            match = PAIR_PATTERN.match(line)
            examples.append((line, None) if match is None else (match.group(1), match.group(2)))
    if not examples:
        raise DataFileError(path, None, "the file is empty; write one text (or 'text_a ||| text_b') per line")
    return examples


def parse_layers(text):
    """`"-1,-2,-3,-4"` -> `[-1, -2, -3, -4]`."""
    try:
        layers = [int(part) for part in str(text).split(",")]
    except ValueError:
        raise ValueError(f"--layers takes comma-separated integers such as -1,-2,-3,-4; found {text!r}.") from None
    return layers


def hidden_state_positions(layers, num_layers):
    """Position in the backbone's `hidden_states` (embeddings first) of each encoder layer index."""
    positions = []
    for layer in layers:
        if not -num_layers <= layer < num_layers:
            raise ValueError(
                f"Layer {layer} does not exist in a {num_layers}-layer model; use {-num_layers}..{num_layers - 1} "
                "(-1 is the last encoder layer, 0 the first)."
            )
        positions.append(layer + 1 if layer >= 0 else num_layers + 1 + layer)
    return positions


def pack_lines(preprocessor, examples):
    """Packed backbone inputs (numpy, `[len(examples), sequence_length]`) for mixed single/pair lines."""
    length = preprocessor.sequence_length
    packed = {name: np.zeros((len(examples), length), np.int32) for name in ("token_ids", "segment_ids", "padding_mask")}
    singles = [i for i, (_, text_b) in enumerate(examples) if text_b is None]
    pairs = [i for i, (_, text_b) in enumerate(examples) if text_b is not None]
    if singles:
        inputs = preprocessor([examples[i][0] for i in singles])
        for name, values in inputs.items():
            packed[name][singles] = keras.ops.convert_to_numpy(values)
    if pairs:
        inputs = preprocessor(([examples[i][0] for i in pairs], [examples[i][1] for i in pairs]))
        for name, values in inputs.items():
            packed[name][pairs] = keras.ops.convert_to_numpy(values)
    return packed


def feature_record(line_index, tokens, hidden_states, layers, positions):
    """One output line: per token, the rounded values of each requested layer."""
    features = []
    for token_index, token in enumerate(tokens):
        features.append({
            "token": token,
            "layers": [
                {"index": layer,
                 "values": [round(value, DECIMALS) for value in hidden_states[position, token_index].tolist()]}
                for layer, position in zip(layers, positions)
            ],
        })
    return {"linex_index": line_index, "features": features}


def extract_features(input_file, output_file, preset, layers=(-1, -2, -3, -4), max_seq_length=128,
                     batch_size=8, verbose=True):
    """Writes `output_file` (JSON Lines, atomically) and returns the number of lines written."""
    if batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, found {batch_size}.")
    examples = read_input_lines(input_file)
    backbone = BertBackbone.from_preset(preset, output_hidden_states=True)
    if max_seq_length > backbone.max_sequence_length:
        raise ValueError(
            f"--max-seq-length {max_seq_length} exceeds the {backbone.max_sequence_length} positions "
            f"the preset {preset} was trained with; use at most {backbone.max_sequence_length}."
        )
    positions = hidden_state_positions(list(layers), backbone.num_layers)
    tokenizer = WordPieceTokenizer.from_preset(preset)
    preprocessor = BertClassifierPreprocessor(tokenizer, sequence_length=max_seq_length)
    vocabulary = tokenizer.get_vocabulary()
    progress = keras.utils.Progbar(len(examples), unit_name="line", verbose=1 if verbose else 0)
    with atomic_path(output_file) as tmp, open(tmp, "w", encoding="utf-8") as writer:
        for start in range(0, len(examples), batch_size):
            batch = examples[start:start + batch_size]
            inputs = pack_lines(preprocessor, batch)
            hidden_states = keras.ops.convert_to_numpy(backbone(inputs, training=False)["hidden_states"])
            for row in range(len(batch)):
                ids = inputs["token_ids"][row, : int(inputs["padding_mask"][row].sum())]
                tokens = [vocabulary[token_id] for token_id in ids]
                record = feature_record(start + row, tokens, hidden_states[row], list(layers), positions)
                writer.write(json.dumps(record) + "\n")
            progress.add(len(batch))
    return len(examples)


# Lets `--layers -1,-2` through: argparse before Python 3.13 would take "-1,-2" for an option.
_NEGATIVE_NUMBER_LIST = re.compile(r"^-\d+(,-?\d+)*$|^-\d*\.\d+$")


def add_arguments(parser):
    """Adds the `kbs extract-features` flags (names and defaults of `extract_features.py`)."""
    parser._negative_number_matcher = _NEGATIVE_NUMBER_LIST
    parser.add_argument("--input-file", required=True, type=pathlib.Path,
                        help="text file, one 'text_a' or 'text_a ||| text_b' per line")
    parser.add_argument("--output-file", required=True, type=pathlib.Path, help="JSON Lines file to write")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help="registered preset name, checkpoint folder (Google, HF or saved preset) or URL")
    parser.add_argument("--layers", default="-1,-2,-3,-4",
                        help="comma-separated encoder layer indexes (-1 = last, 0 = first)")
    parser.add_argument("--max-seq-length", type=int, default=128,
                        help="word pieces per line after packing ([CLS], [SEP] included)")
    parser.add_argument("--batch-size", type=int, default=8, help="lines per forward pass")


def run(args):
    """Runs the recipe from parsed flags; returns {} (it computes no metrics)."""
    count = extract_features(args.input_file, args.output_file, args.preset, parse_layers(args.layers),
                             args.max_seq_length, args.batch_size)
    print(f"Wrote features of {count} lines to {args.output_file}")
    return {}

