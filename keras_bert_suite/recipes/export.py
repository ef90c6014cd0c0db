"""Export a trained model.keras as a SavedModel for TensorFlow Serving (folder OUTPUT_DIR/VERSION).

The `kbs export` recipe: loads `--model` (a `.keras` file a recipe or `model.save` wrote,
with `safe_mode=True`) and writes `model.export(...)` into the TF Serving layout
`--output-dir/<version>/`: signatures `serving_default` (raw strings) and `serving_packed`
(packed int tensors), see README "Saving and serving". `--version` defaults to one more than
the highest numbered folder already in `--output-dir` (1 in a new one); the version folder is
written beside its place and renamed into it when complete, so a server watching
`--output-dir` never sees half an export.

Example:
    $ kbs export --model out/mrpc/model.keras --output-dir serving/mrpc --pairs
    $ tensorflow_model_server --model_base_path=$PWD/serving/mrpc --model_name=mrpc
    >>> run(build_parser().parse_args(["export", "--model", "out/mrpc/model.keras", "--output-dir", "serving/mrpc"]))
    {'export_dir': 'serving/mrpc/1', 'version': 1}
"""

import pathlib

from keras_bert_suite.models.task import BertTask
from keras_bert_suite.recipes.common import formatter, load_trained_model, positive_int


def add_arguments(parser):
    parser.formatter_class = formatter()
    parser.add_argument("--model", required=True, type=pathlib.Path,
                        help="the trained .keras file (e.g. OUT/model.keras of kbs classify)")
    parser.add_argument("--output-dir", required=True, type=pathlib.Path,
                        help="the model's TF Serving folder; the export goes into OUTPUT_DIR/VERSION")
    parser.add_argument("--version", type=positive_int, default=None,
                        help="version folder to write (default: one more than the highest there)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --version folder")
    options = parser.add_argument_group("serving options (only for the tasks that take them)")
    options.add_argument("--pairs", action="store_true", help="classifier: serve text and text_b pairs")
    options.add_argument("--top-k", type=positive_int, default=None, help="masked LM: tokens per [MASK]")
    options.add_argument("--max-answer-length", type=positive_int, default=None,
                         help="question answering: longest answer, in word pieces")
    options.add_argument("--n-best-size", type=positive_int, default=None,
                         help="question answering: start and end candidates per window")


def next_version(output_dir):
    """One more than the highest all-digit folder name in `output_dir` (1 when there is none)."""
    output_dir = pathlib.Path(output_dir)
    versions = [int(p.name) for p in output_dir.iterdir() if p.is_dir() and p.name.isdigit()] \
        if output_dir.is_dir() else []
    return max(versions, default=0) + 1


def serving_options(args):
    """The serving options given on the command line, as `model.export` keywords."""
    options = {"top_k": args.top_k, "max_answer_length": args.max_answer_length, "n_best_size": args.n_best_size}
    options = {name: value for name, value in options.items() if value is not None}
    return {**options, "pairs": True} if args.pairs else options


def run(args):
    """Loads `--model`, exports it to `--output-dir/<version>`; returns the folder and version."""
    if args.output_dir.exists() and not args.output_dir.is_dir():
        raise ValueError(f"--output-dir {args.output_dir} is a file; pass a folder (one per served model).")
    model = load_trained_model(args.model, BertTask, "(a task model saved by a recipe or model.save)")
    version = args.version or next_version(args.output_dir)
    export_dir = args.output_dir / str(version)
    try:
        model.export(export_dir, overwrite=args.overwrite, **serving_options(args))
    except FileExistsError:
        raise ValueError(f"{export_dir} already exists; pass --overwrite to replace it, or another --version "
                         "(without --version the next free one is taken).") from None
    print(f"Exported {args.model} to {export_dir}: signatures serving_default (raw strings), serving_packed.")
    return {"export_dir": str(export_dir), "version": version}
