"""GLUE scores (accuracy, F1, Matthews, Pearson, Spearman) and `eval_results.txt`.

Plain NumPy, so scores need neither scikit-learn nor SciPy. `glue_metrics` returns the
metric names GLUE leaderboards and the usual fine-tuning scripts report for each task;
`format_eval_results` writes results the way the original `run_classifier.py` does.

Example:
    >>> glue_metrics("mrpc", predictions=[1, 1, 0, 1], labels=[1, 0, 0, 1])
    {'acc': 0.75, 'f1': 0.8, 'acc_and_f1': 0.775}
    >>> print(format_eval_results({"global_step": 343, "eval_accuracy": 0.84}), end="")
    eval_accuracy = 0.84
    global_step = 343
"""

import numpy as np

from keras_bert_suite.recipes.glue_data import get_task
from keras_bert_suite.utils import atomic_write_text

EVAL_RESULT_KEYS = ("eval_accuracy", "eval_loss", "global_step", "loss")


def _pair(predictions, labels, dtype=None):
    predictions = np.asarray(predictions, dtype=dtype)
    labels = np.asarray(labels, dtype=dtype)
    if predictions.ndim != 1 or labels.ndim != 1:
        raise ValueError(
            f"Expected 1-D predictions and labels, found shapes {predictions.shape} and {labels.shape}; "
            "take the argmax of classifier logits first."
        )
    if len(predictions) != len(labels):
        raise ValueError(f"Expected as many predictions as labels, found {len(predictions)} and {len(labels)}.")
    if len(labels) == 0:
        raise ValueError("Cannot score an empty set of predictions.")
    return predictions, labels


def accuracy(predictions, labels):
    """Fraction of predictions equal to their label."""
    predictions, labels = _pair(predictions, labels)
    return float(np.mean(predictions == labels))


def f1(predictions, labels, positive=1):
    """Binary F1 of the `positive` class; 0.0 when there is no true or predicted positive."""
    predictions, labels = _pair(predictions, labels)
    true_positive = np.sum((predictions == positive) & (labels == positive))
    predicted = np.sum(predictions == positive)
    actual = np.sum(labels == positive)
    if predicted + actual == 0:
        return 0.0
    return float(2 * true_positive / (predicted + actual))


def matthews_corrcoef(predictions, labels):
    """Matthews correlation (multi-class form); 0.0 when either side is constant."""
    predictions, labels = _pair(predictions, labels)
    classes, encoded = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    true_ids, predicted_ids = encoded[: len(labels)], encoded[len(labels) :]
    true_counts = np.bincount(true_ids, minlength=len(classes)).astype(np.float64)
    predicted_counts = np.bincount(predicted_ids, minlength=len(classes)).astype(np.float64)
    total = float(len(labels))
    correct = float(np.sum(true_ids == predicted_ids))
    covariance = correct * total - true_counts @ predicted_counts
    denominator = np.sqrt((total**2 - predicted_counts @ predicted_counts) * (total**2 - true_counts @ true_counts))
    if denominator == 0:
        return 0.0
    return float(covariance / denominator)


def pearson(predictions, labels):
    """Pearson correlation; NaN when either side is constant (correlation is undefined)."""
    predictions, labels = _pair(predictions, labels, dtype=np.float64)
    x = predictions - predictions.mean()
    y = labels - labels.mean()
    denominator = np.sqrt((x @ x) * (y @ y))
    if denominator == 0:
        return float("nan")
    return float((x @ y) / denominator)


def average_ranks(values):
    """1-based ranks of `values`; tied values share the mean of the ranks they span."""
    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    first = np.flatnonzero(starts)
    sizes = np.diff(np.append(first, len(values)))
    group_rank = first + (sizes + 1) / 2.0
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = group_rank[np.cumsum(starts) - 1]
    return ranks


def spearman(predictions, labels):
    """Spearman rank correlation: Pearson on average ranks (ties share their mean rank)."""
    predictions, labels = _pair(predictions, labels, dtype=np.float64)
    return pearson(average_ranks(predictions), average_ranks(labels))


_METRICS = {
    "acc": accuracy,
    "f1": f1,
    "mcc": matthews_corrcoef,
    "pearson": pearson,
    "spearmanr": spearman,
}
_AVERAGES = {"acc_and_f1": ("acc", "f1"), "corr": ("pearson", "spearmanr")}


def _label_ids(values, task):
    values = np.asarray(values)
    if task.labels is None or values.dtype.kind not in "UO":
        return values
    index = {label: i for i, label in enumerate(task.labels)}
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        raise ValueError(f"Labels {unknown} are not {task.name} labels {list(task.labels)}.")
    return np.array([index[v] for v in values])


def glue_metrics(task, predictions, labels):
    """Scores predictions on a GLUE task with the metrics GLUE reports for it.

    Args:
        task: task name or `GlueTask`.
        predictions: class ids (index into `task.labels`) or label strings; floats for STS-B.
        labels: gold class ids or label strings (e.g. `InputExample.label`); floats for STS-B.

    Returns:
        `{name: value}` in `task.metrics` order: CoLA `mcc`; MRPC/QQP `acc`, `f1`,
        `acc_and_f1`; STS-B `pearson`, `spearmanr`, `corr`; the others `acc`.
    """
    task = get_task(task)
    predictions, labels = _label_ids(predictions, task), _label_ids(labels, task)
    scores = {}
    for name in task.metrics:
        if name in _AVERAGES:
            first, second = _AVERAGES[name]
            scores[name] = (scores[first] + scores[second]) / 2
        else:
            scores[name] = _METRICS[name](predictions, labels)
    return scores


def format_eval_results(results):
    """One `key = value` line per key, keys sorted: the original's `eval_results.txt`.

    The original `run_classifier.py` writes `eval_accuracy`, `eval_loss`, `global_step`
    and `loss` (see `EVAL_RESULT_KEYS`); any other keys are written the same way. Values
    go through `str()` as the original's `"%s"` does, so a float32 prints its short form.
    """
    return "".join(f"{key} = {results[key]!s}\n" for key in sorted(results))


def write_eval_results(path, results):
    """Writes `format_eval_results(results)` to `path` atomically."""
    atomic_write_text(path, format_eval_results(results))
