"""`kbs`: the command line of keras_bert_suite, one subcommand per recipe.

Every recipe module gives `add_arguments(parser)` and `run(args) -> dict`; the first
line of its docstring is the subcommand's help. A bad data file or flag ends with
`kbs <command>: error: <what and where>` and exit status 2, without a traceback.

Example:
    $ kbs classify --task mrpc --data-dir glue_data/MRPC --output-dir out/mrpc --do-train --do-eval
    $ kbs squad --train-file train-v1.1.json --output-dir out/squad --do-train \
        --strategy mirrored --batch-size 64 --precision mixed_float16   # every GPU, global batch 64
    $ kbs squad-eval dev-v1.1.json out/squad/predictions.json
    $ kbs presets
    >>> main(["presets"])
    0
"""

import argparse
import json
import pathlib
import sys

from keras_bert_suite.presets import DEFAULT_PRESET, get_preset_info, list_presets
from keras_bert_suite.recipes import build_vocab, export, features, glue, ner, pretrain, pretraining_data, squad, swag
from keras_bert_suite.recipes.common import formatter
from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.squad_eval import evaluate_file
from keras_bert_suite.utils import atomic_write_text

RECIPES = {"classify": glue, "squad": squad, "ner": ner, "swag": swag, "extract-features": features, "export": export,
           "create-pretraining-data": pretraining_data, "build-vocab": build_vocab, "pretrain": pretrain}
USER_ERRORS = (DataFileError, ValueError, FileNotFoundError)


def squad_eval(args):
    """Prints (or writes to --out-file) the official SQuAD evaluation JSON."""
    results = evaluate_file(args.data_file, args.prediction_file, args.na_prob_file)
    text = json.dumps(results) if "exact_match" in results else json.dumps(results, indent=2)
    if args.out_file is not None:
        atomic_write_text(args.out_file, text + "\n")
    else:
        print(text)
    return results


def presets_table(args):
    """Prints every registered preset with its casing, size and download."""
    header = ("name", "casing", "layers", "hidden", "heads", "parameters", "download")
    rows = []
    for name in list_presets():
        info = get_preset_info(name)
        architecture = info["architecture"]
        rows.append((
            name + (" (default)" if name == DEFAULT_PRESET else ""),
            "uncased" if info["lowercase"] else "cased",
            str(architecture["num_layers"]), str(architecture["hidden_dim"]), str(architecture["num_heads"]),
            f"{info['parameter_count'] / 1e6:.1f}M",
            f"{info['download_size_mb']} MB" if info["url"] else "installed",
        ))
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return {}


def _add_squad_eval(subparsers):
    parser = subparsers.add_parser(
        "squad-eval", help="score SQuAD predictions with the official v1.1/v2.0 metric",
        description="Scores a predictions.json against a SQuAD file (v1.1 or v2.0, as the data says).",
        formatter_class=formatter(),
    )
    parser.add_argument("data_file", metavar="DATA", type=pathlib.Path, help="SQuAD JSON (e.g. dev-v1.1.json)")
    parser.add_argument("prediction_file", metavar="PREDICTIONS", type=pathlib.Path,
                        help="JSON {question id: answer text}")
    parser.add_argument("--na-prob-file", type=pathlib.Path, default=None,
                        help="v2.0: JSON {question id: no-answer score} (null_odds.json) for the threshold search")
    parser.add_argument("--out-file", type=pathlib.Path, default=None, help="write the JSON here instead of printing it")
    parser.set_defaults(handler=squad_eval)


def build_parser():
    """The `kbs` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="kbs", description="keras_bert_suite: fine-tune, score and use BERT, one subcommand per recipe.",
        formatter_class=formatter(),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command, module in RECIPES.items():
        summary = module.__doc__.strip().splitlines()[0]
        recipe_parser = subparsers.add_parser(command, help=summary, description=summary, formatter_class=formatter())
        module.add_arguments(recipe_parser)
        recipe_parser.set_defaults(handler=module.run)
    _add_squad_eval(subparsers)
    presets = subparsers.add_parser("presets", help="list the registered presets (casing, size)",
                                    description="Lists the registered presets.", formatter_class=formatter())
    presets.set_defaults(handler=presets_table)
    return parser


def main(argv=None):
    """Runs `kbs` on `argv` (default: the command line); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a flag argparse rejected (it printed why)
        return stop.code or 0
    try:
        args.handler(args)
    except USER_ERRORS as error:
        print(f"kbs {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
