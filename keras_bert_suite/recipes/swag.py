"""Fine-tune and score a multiple-choice model on SWAG (CSV or JSON Lines).

The `kbs swag` recipe, with the BERT paper's SWAG setup (3 epochs, learning rate 2e-5,
batch 16): each example's context (`sent1`) is paired with its four candidate
continuations (`sent2` + ending) and a `BertMultipleChoice` picks one. `--do-train`
fine-tunes on `--train-file` and saves `output_dir/model.keras`; `--do-eval` writes
`eval_results.txt` (`eval_accuracy`, `eval_loss`, `global_step`) for `--dev-file`;
`--do-predict` writes `test_results.tsv`, one line of four tab-separated choice
probabilities per `--test-file` example (labels not needed). Without `--do-train`,
eval and predict use `output_dir/model.keras` if present, else the preset.

Example:
    $ kbs swag --preset bert_base_uncased --train-file swagaf/data/train.csv \\
        --dev-file swagaf/data/val.csv --test-file swagaf/data/test.csv \\
        --output-dir out/swag --do-train --do-eval --do-predict
"""

import pathlib

import numpy as np

from keras_bert_suite.models.multiple_choice import BertMultipleChoice
from keras_bert_suite.recipes.classification_metrics import format_eval_results, write_eval_results
from keras_bert_suite.recipes.common import (
    add_common_arguments,
    build_task_model,
    check_sequence_length,
    finished_training,
    load_task_model,
    train_and_save,
)
from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.swag_data import ENDING_KEYS, read_swag
from keras_bert_suite.utils import atomic_write_text

NUM_CHOICES = len(ENDING_KEYS)


def add_arguments(parser):
    """Adds the `kbs swag` flags (defaults: the BERT paper's SWAG fine-tuning)."""
    data = parser.add_argument_group("SWAG data: the released CSV files (header row) or JSON Lines (.jsonl/.json)")
    data.add_argument("--train-file", type=pathlib.Path, help="labelled examples to fine-tune on (train.csv)")
    data.add_argument("--dev-file", type=pathlib.Path, help="labelled examples to score with --do-eval (val.csv)")
    data.add_argument("--test-file", type=pathlib.Path,
                      help="examples to predict with --do-predict (test.csv; labels not needed)")
    add_common_arguments(parser, max_seq_length=128, batch_size=16, learning_rate=2e-5, epochs=3)


# === Data ===

def read_examples(path, flag, labelled):
    """The examples of `path`; with `labelled`, every one must carry its label."""
    if path is None:
        raise ValueError(f"This run needs {flag}: a SWAG .csv or .jsonl file.")
    examples = read_swag(path)
    if not examples:
        raise DataFileError(path, None, "holds no examples")
    if labelled:
        unlabelled = next((number for number, example in enumerate(examples, start=1) if example.label is None), None)
        if unlabelled is not None:
            raise DataFileError(path, None, f"example {unlabelled} has no label; {flag} needs a 'label' column "
                                "(the index 0..3 of the right ending) in every row")
    return examples


def model_inputs(examples):
    """`(contexts, choices)` as `BertMultipleChoice` takes them."""
    return [example.context for example in examples], [example.choices for example in examples]


def gold_labels(examples):
    return np.array([example.label for example in examples], np.int32)


# === Model ===

def build_model(args):
    """A `BertMultipleChoice` over four choices, compiled with BERT's optimizer at `--learning-rate`."""
    return build_task_model(BertMultipleChoice, args, num_choices=NUM_CHOICES)


def load_model(args):
    """`output_dir/model.keras` if present, else a fresh model on the preset (untrained head)."""
    return load_task_model(BertMultipleChoice, args, lambda: build_model(args), f"and {NUM_CHOICES} choices",
                           lambda model: model.num_choices == NUM_CHOICES)


# === Scores and files ===

def log_probabilities(logits):
    """Log-softmax over the choices of each example, in float64."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def eval_results(logits, gold, global_step):
    """`eval_accuracy`, `eval_loss` (mean cross-entropy of the right choice) and `global_step`."""
    log_probs = log_probabilities(logits)
    return {
        "eval_accuracy": float(np.mean(log_probs.argmax(axis=-1) == gold)),
        "eval_loss": float(-log_probs[np.arange(len(gold)), gold].mean()),
        "global_step": global_step,
    }


def format_test_results(logits):
    """`test_results.tsv` text: the choice probabilities of each example, tab-separated."""
    probabilities = np.exp(log_probabilities(logits))
    return "".join("\t".join(str(value) for value in row) + "\n" for row in probabilities)


# === Recipe ===

def run(args):
    """Runs the recipe from parsed flags; returns the eval results ({} without --do-eval)."""
    if not (args.do_train or args.do_eval or args.do_predict):
        raise ValueError("Nothing to do: pass --do-train, --do-eval and/or --do-predict.")
    # Read every file first, so bad data stops the run before any training.
    train = read_examples(args.train_file, "--train-file", labelled=True) if args.do_train else []
    dev = read_examples(args.dev_file, "--dev-file", labelled=True) if args.do_eval else []
    test = read_examples(args.test_file, "--test-file", labelled=False) if args.do_predict else []
    print(f"Examples: {len(train)} train, {len(dev)} dev, {len(test)} test")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    training = args.do_train and not finished_training(args)
    model = build_model(args) if training else load_model(args)
    check_sequence_length(model, args)
    eval_batch_size = args.eval_batch_size or args.batch_size
    if training:
        validation = (model_inputs(dev), gold_labels(dev)) if dev else None
        train_and_save(model, args, model_inputs(train), gold_labels(train), validation_data=validation)
    metrics = {}
    if dev:
        logits = model.predict(model_inputs(dev), batch_size=eval_batch_size)
        metrics = eval_results(logits, gold_labels(dev), int(model.optimizer.iterations.numpy()))
        write_eval_results(args.output_dir / "eval_results.txt", metrics)
        print("***** Eval results *****")
        print(format_eval_results(metrics), end="")
    if test:
        logits = model.predict(model_inputs(test), batch_size=eval_batch_size)
        path = args.output_dir / "test_results.tsv"
        atomic_write_text(path, format_test_results(logits))
        print(f"Wrote {len(test)} predictions to {path}")
    return metrics
