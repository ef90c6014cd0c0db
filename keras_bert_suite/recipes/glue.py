"""Fine-tune, score and predict a sentence (pair) classifier on a GLUE task or your own CSV/TSV/JSONL.

The `kbs classify` recipe, as the original `run_classifier.py`: `--do-train` fine-tunes
a `BertClassifier` and saves `output_dir/model.keras`; `--do-eval` writes
`eval_results.txt` (`eval_accuracy`, `eval_loss`, `global_step`, `loss`, plus the
task's GLUE metrics as `eval_<name>`); `--do-predict` writes `test_results.tsv`, one
line of tab-separated class probabilities per test example (the score for STS-B).
The class order is the task's label order, written to `labels.json`. MNLI is scored
on both dev_matched and dev_mismatched (`*_mismatched` files for the second).
Without `--do-train`, eval and predict use `output_dir/model.keras` if present, else
the preset (with an untrained head unless the checkpoint has one).

Example:
    $ kbs classify --task mrpc --data-dir glue_data/MRPC --preset bert_base_uncased \\
        --output-dir out/mrpc --learning-rate 2e-5 --do-train --do-eval --do-predict
    $ kbs classify --train-file train.csv --dev-file dev.csv --text-a review --label stars \\
        --output-dir out/reviews --do-train --do-eval
"""

import dataclasses
import json
import pathlib

import numpy as np

from keras_bert_suite.models.classifier import BertClassifier
from keras_bert_suite.postprocessing.probabilities import softmax
from keras_bert_suite.recipes import classification_metrics
from keras_bert_suite.recipes.common import (
    add_common_arguments,
    build_task_model,
    finished_training,
    load_task_model,
    train_and_save,
)
from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.glue_data import get_task, read_glue, read_table
from keras_bert_suite.utils import atomic_write_text

LABELS_FILE = "labels.json"
# Tasks scored on more than one dev/test split: (task whose files to read, suffix of our files).
MULTI_SPLIT_TASKS = {"mnli": (("mnli", ""), ("mnli_mismatched", "_mismatched"))}


def add_arguments(parser):
    """Adds the `kbs classify` flags (names and defaults of `run_classifier.py`)."""
    data = parser.add_argument_group("data (a GLUE task folder, or your own files)")
    data.add_argument("--task", help="GLUE task: cola, sst2, mrpc, stsb, qqp, mnli, mnli_mismatched, qnli, rte, wnli")
    data.add_argument("--data-dir", type=pathlib.Path, help="the task's folder from the GLUE download")
    data.add_argument("--train-file", type=pathlib.Path, help="your own training data (.csv, .tsv with header, .jsonl)")
    data.add_argument("--dev-file", type=pathlib.Path, help="your own labelled evaluation data")
    data.add_argument("--test-file", type=pathlib.Path, help="your own data to predict (label not needed)")
    data.add_argument("--text-a", help="column (or JSON key) of the first text in your own files")
    data.add_argument("--text-b", help="column (or JSON key) of the second text, for sentence pairs")
    data.add_argument("--label", default="label", help="column (or JSON key) of the label in your own files")
    data.add_argument("--labels", help="comma-separated class names in class-id order for your own data; "
                      "unset: the sorted labels of the training file")
    data.add_argument("--regression", action="store_true",
                      help="your own labels are numbers to regress (one output, mean squared error)")
    add_common_arguments(parser)


# === Data ===

def _split_file(args, split):
    return getattr(args, f"{split}_file")


def _read_own_file(args, split, task, regression):
    path = _split_file(args, split)
    if args.text_a is None:
        raise ValueError(f"--{split}-file needs --text-a: the column (or JSON key) holding the first text.")
    label = None if split == "test" else args.label
    check = task.labels if task is not None and not regression else None
    examples = read_table(path, args.text_a, args.text_b, label, labels=check)
    if label is None:
        return examples
    return [_with_label(example, index, path, regression) for index, example in enumerate(examples)]


def _with_label(example, index, path, regression):
    """The example with its label as a float (regression) or a string ("1" for a JSON 1)."""
    if not regression:
        return dataclasses.replace(example, label=str(example.label))
    try:
        value = float(example.label)
    except (TypeError, ValueError):
        raise DataFileError(path, None, f"example {index + 1} has label {example.label!r}; regression needs "
                            "a number in every row") from None
    return dataclasses.replace(example, label=value)


def read_examples(args, split, task, regression, glue_task_name=None):
    """Examples of `split` from `--{split}-file` if given, else from the GLUE folder."""
    if _split_file(args, split) is not None:
        return _read_own_file(args, split, task, regression)
    if task is None or args.data_dir is None:
        raise ValueError(
            f"The {split} split needs --{split}-file, or --task with --data-dir (a GLUE task folder)."
        )
    return read_glue(glue_task_name or task.name, args.data_dir, split)


def model_inputs(examples):
    """Raw texts as the classifier takes them: a list, or a pair of lists."""
    texts_a = [example.text_a for example in examples]
    if examples[0].text_b is None:
        return texts_a
    return texts_a, [example.text_b for example in examples]


def resolve_labels(args, task, train_examples, dev_examples):
    """Class names in class-id order, or None for regression."""
    if task is not None:
        if args.labels:
            raise ValueError(f"--labels is for your own data; GLUE task '{task.name}' fixes its labels {task.labels}.")
        return task.labels
    if args.regression:
        return None
    if args.labels:
        return tuple(name.strip() for name in args.labels.split(","))
    saved = args.output_dir / LABELS_FILE
    if not args.do_train and saved.is_file():
        classes = json.loads(saved.read_text(encoding="utf-8"))
        return None if classes is None else tuple(classes)  # null: a regression model
    source = train_examples or dev_examples
    if not source:
        raise ValueError("Pass --labels (comma-separated class names) to predict without training or dev data.")
    return tuple(sorted({example.label for example in source}))


def label_ids(examples, labels):
    """Gold labels as class ids (int32), or as float32 values for regression."""
    if labels is None:
        return np.array([example.label for example in examples], np.float32)
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({example.label for example in examples} - set(index))
    if unknown:
        raise ValueError(f"Labels {unknown} are not among the classes {list(labels)}; pass --labels with all of them.")
    return np.array([index[example.label] for example in examples], np.int32)


# === Model ===

def load_model(args, labels):
    """`output_dir/model.keras` if present, else a fresh classifier on the preset."""
    num_classes = 1 if labels is None else len(labels)
    return load_task_model(BertClassifier, args, lambda: build_model(args, labels),
                           f"and {num_classes} outputs for the classes {labels}",
                           lambda model: model.num_classes == num_classes)


def build_model(args, labels):
    """A `BertClassifier` on the preset, compiled with BERT's optimizer at `--learning-rate`."""
    return build_task_model(BertClassifier, args, num_classes=1 if labels is None else len(labels),
                            problem_type="regression" if labels is None else "single_label")


# === Scores and files ===

def predict_in_one_pass(model, example_lists, batch_size):
    """The model's outputs for each list of examples, from one `predict` (one input pipeline)."""
    everything = [example for examples in example_lists for example in examples]
    outputs = model.predict(model_inputs(everything), batch_size=batch_size)
    return np.split(outputs, np.cumsum([len(examples) for examples in example_lists])[:-1])


def per_example_loss(outputs, gold, labels):
    """Cross-entropy of the gold class (squared error for regression), as float64."""
    outputs = outputs.astype(np.float64)
    if labels is None:
        return (outputs[:, 0] - gold) ** 2
    log_norm = np.log(np.exp(outputs - outputs.max(-1, keepdims=True)).sum(-1)) + outputs.max(-1)
    return log_norm - outputs[np.arange(len(gold)), gold]


def eval_results(outputs, gold, labels, task, batch_size, global_step):
    """The original's `eval_results.txt` keys plus the GLUE metrics as `eval_<name>`.

    `eval_loss` is the mean per-example loss; `loss` the mean of per-batch mean losses
    (what the original's Estimator reports).
    """
    losses = per_example_loss(outputs, gold, labels)
    batch_means = [losses[start:start + batch_size].mean() for start in range(0, len(losses), batch_size)]
    results = {"eval_loss": float(losses.mean()), "loss": float(np.mean(batch_means)), "global_step": global_step}
    if labels is None:
        predictions = outputs[:, 0]
    else:
        predictions = outputs.argmax(axis=-1)
        results["eval_accuracy"] = classification_metrics.accuracy(predictions, gold)
    if task is not None:
        scores = classification_metrics.glue_metrics(task, predictions, gold)
    elif labels is None:
        scores = {"pearson": classification_metrics.pearson(predictions, gold),
                  "spearmanr": classification_metrics.spearman(predictions, gold)}
    else:
        scores = {"acc": classification_metrics.accuracy(predictions, gold)}
    results.update({f"eval_{name}": value for name, value in scores.items()})
    return results


def format_test_results(outputs, labels):
    """`test_results.tsv` text: tab-separated class probabilities per line (the score for regression)."""
    rows = outputs[:, :1] if labels is None else softmax(outputs)
    return "".join("\t".join(str(value) for value in row) + "\n" for row in rows)


# === Recipe ===

def _evaluation_sets(args, task):
    """`(task name to read, file suffix)` for each scored split: MNLI gives matched and mismatched."""
    if task is not None and task.name in MULTI_SPLIT_TASKS and args.dev_file is None and args.test_file is None:
        return MULTI_SPLIT_TASKS[task.name]
    return ((task.name if task is not None else None, ""),)


def run(args):
    """Runs the recipe from parsed flags; returns the eval results (MNLI mismatched keys suffixed)."""
    if not (args.do_train or args.do_eval or args.do_predict):
        raise ValueError("Nothing to do: pass --do-train, --do-eval and/or --do-predict.")
    if args.task is None and not (args.train_file or args.dev_file or args.test_file):
        raise ValueError("Pass --task with --data-dir (GLUE), or your own --train-file/--dev-file/--test-file.")
    task = get_task(args.task) if args.task is not None else None
    regression = task.is_regression if task is not None else args.regression
    sets = _evaluation_sets(args, task)

    # Read every file first, so a bad row stops the run before any training.
    train = read_examples(args, "train", task, regression) if args.do_train else []
    dev = {suffix: read_examples(args, "dev", task, regression, name) for name, suffix in sets} if args.do_eval else {}
    test = {suffix: read_examples(args, "test", task, regression, name) for name, suffix in sets} \
        if args.do_predict else {}
    requested = [("train", train)] if args.do_train else []
    requested += [("dev", examples) for examples in dev.values()] + [("test", examples) for examples in test.values()]
    for split, examples in requested:
        if not examples:
            raise ValueError(f"The {split} data holds no examples.")
    labels = resolve_labels(args, task, train, dev.get(""))
    gold = {suffix: label_ids(examples, labels) for suffix, examples in dev.items()}
    print(f"Examples: {len(train)} train, {sum(map(len, dev.values()))} dev, {sum(map(len, test.values()))} test; "
          f"classes: {list(labels) if labels is not None else 'regression'}")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.do_train and not finished_training(args):
        atomic_write_text(args.output_dir / LABELS_FILE, json.dumps(labels) + "\n")
        model = train_and_save(build_model(args, labels), args, model_inputs(train), label_ids(train, labels))
    else:
        model = load_model(args, labels)
    global_step = int(model.optimizer.iterations.numpy()) if model.optimizer is not None else 0

    return score_and_predict(args, model, dev, test, gold, labels, task, global_step)


def score_and_predict(args, model, dev, test, gold, labels, task, global_step):
    """Writes `eval_results*.txt` for the dev sets and `test_results*.tsv` for the test sets."""
    eval_batch_size = args.eval_batch_size or args.batch_size
    scored = [("dev", suffix, examples) for suffix, examples in dev.items()]
    scored += [("test", suffix, examples) for suffix, examples in test.items()]
    outputs = predict_in_one_pass(model, [examples for _, _, examples in scored], eval_batch_size) if scored else []
    metrics = {}
    for (split, suffix, examples), split_outputs in zip(scored, outputs):
        if split == "dev":
            results = eval_results(split_outputs, gold[suffix], labels, task, eval_batch_size, global_step)
            classification_metrics.write_eval_results(args.output_dir / f"eval_results{suffix}.txt", results)
            print(f"***** Eval results{suffix.replace('_', ' ')} *****")
            print(classification_metrics.format_eval_results(results), end="")
            metrics.update({f"{key}{suffix}": value for key, value in results.items()})
        else:
            path = args.output_dir / f"test_results{suffix}.tsv"
            atomic_write_text(path, format_test_results(split_outputs, labels))
            print(f"Wrote {len(examples)} predictions to {path}")
    return metrics
