"""GLUE task registry and readers for the GLUE TSV files and a user's own CSV/TSV/JSONL.

Each GLUE task is a `GlueTask`: its label set (`None` for the STS-B regression), the
metric names GLUE reports, and where every field sits in each split's TSV. The layouts
follow the processors of the original `run_classifier.py` (CoLA, MNLI, MRPC) and the
published GLUE files for the rest. TSVs are read as the original does: tab-separated,
no quoting (a `"` is an ordinary character), UTF-8 with or without a byte-order mark.

Example:
    >>> examples = read_glue("mrpc", "glue_data/MRPC", "dev")   # doctest: +SKIP
    >>> examples[0].label, examples[0].text_b[:10]               # doctest: +SKIP
    ('1', '" The food')
    >>> get_task("sst-2").labels
    ('0', '1')
"""

import csv
import dataclasses
import pathlib

from keras_bert_suite.recipes.errors import DataFileError, iter_delimited_rows, iter_json_lines

SPLITS = ("train", "dev", "test")
LAST_COLUMN = -1


@dataclasses.dataclass(frozen=True)
class InputExample:
    """One sentence (pair) to classify; `label` is `None` where the split has none.

    `label` is the label string for classification tasks (as written in the file) and a
    float for regression (STS-B).
    """

    guid: str
    text_a: str
    text_b: str | None = None
    label: str | float | None = None


@dataclasses.dataclass(frozen=True)
class SplitLayout:
    """Where one split's fields sit in its TSV file.

    Args:
        file: file name inside the task folder.
        text_a: column of the first sentence.
        text_b: column of the second sentence, `None` for single-sentence tasks.
        label: column of the label, `LAST_COLUMN` (-1) for "the last column", `None`
            when the split is unlabelled (GLUE test files).
        header: whether the first row is a header to skip.
    """

    file: str
    text_a: int
    text_b: int | None = None
    label: int | None = None
    header: bool = True

    @property
    def min_columns(self):
        """Fewest columns a row may have; a last-column label must come after the texts."""
        text_columns = [c for c in (self.text_a, self.text_b) if c is not None]
        needed = max(text_columns) + 1
        if self.label == LAST_COLUMN:
            return needed + 1
        if self.label is not None:
            return max(needed, self.label + 1)
        return needed


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """One GLUE task: labels, reported metrics and the layout of each split."""

    name: str
    labels: tuple[str, ...] | None
    metrics: tuple[str, ...]
    train: SplitLayout
    dev: SplitLayout
    test: SplitLayout

    @property
    def is_regression(self):
        return self.labels is None

    @property
    def num_labels(self):
        """Output units of the classifier head: 1 for regression."""
        return 1 if self.labels is None else len(self.labels)

    def split(self, split):
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r} for GLUE task '{self.name}'; use one of {SPLITS}.")
        return getattr(self, split)


def _pair_task(name, labels, metrics, text_a, text_b, label, test_a, test_b, dev="dev.tsv", test="test.tsv"):
    return GlueTask(
        name=name,
        labels=labels,
        metrics=metrics,
        train=SplitLayout("train.tsv", text_a, text_b, label),
        dev=SplitLayout(dev, text_a, text_b, label),
        test=SplitLayout(test, test_a, test_b),
    )


_BINARY = ("0", "1")
_NLI = ("contradiction", "entailment", "neutral")
_ENTAILMENT = ("entailment", "not_entailment")
_ACC_F1 = ("acc", "f1", "acc_and_f1")

GLUE_TASKS = {
    task.name: task
    for task in (
        GlueTask(
            name="cola",
            labels=_BINARY,
            metrics=("mcc",),
            train=SplitLayout("train.tsv", text_a=3, label=1, header=False),
            dev=SplitLayout("dev.tsv", text_a=3, label=1, header=False),
            test=SplitLayout("test.tsv", text_a=1),
        ),
        GlueTask(
            name="sst2",
            labels=_BINARY,
            metrics=("acc",),
            train=SplitLayout("train.tsv", text_a=0, label=1),
            dev=SplitLayout("dev.tsv", text_a=0, label=1),
            test=SplitLayout("test.tsv", text_a=1),
        ),
        _pair_task("mrpc", _BINARY, _ACC_F1, 3, 4, 0, 3, 4),
        _pair_task("stsb", None, ("pearson", "spearmanr", "corr"), 7, 8, 9, 7, 8),
        _pair_task("qqp", _BINARY, _ACC_F1, 3, 4, 5, 1, 2),
        _pair_task("mnli", _NLI, ("acc",), 8, 9, LAST_COLUMN, 8, 9, "dev_matched.tsv", "test_matched.tsv"),
        _pair_task(
            "mnli_mismatched", _NLI, ("acc",), 8, 9, LAST_COLUMN, 8, 9, "dev_mismatched.tsv", "test_mismatched.tsv"
        ),
        _pair_task("qnli", _ENTAILMENT, ("acc",), 1, 2, LAST_COLUMN, 1, 2),
        _pair_task("rte", _ENTAILMENT, ("acc",), 1, 2, LAST_COLUMN, 1, 2),
        _pair_task("wnli", _BINARY, ("acc",), 1, 2, LAST_COLUMN, 1, 2),
    )
}


def _squash(name):
    return "".join(ch for ch in name.lower() if ch.isalnum())


_LOOKUP = {
    **{_squash(name): name for name in GLUE_TASKS},
    "mnlim": "mnli",
    "mnlimatched": "mnli",
    "mnlimm": "mnli_mismatched",
}


def get_task(name):
    """Returns the `GlueTask` called `name` ("MRPC", "sst-2", "mnli-mm" all work)."""
    if isinstance(name, GlueTask):
        return name
    key = _squash(name)
    if key not in _LOOKUP:
        raise ValueError(f"Unknown GLUE task {name!r}; known tasks: {', '.join(GLUE_TASKS)}.")
    return GLUE_TASKS[_LOOKUP[key]]


def _parse_label(task, value, path, line):
    if task.labels is None:
        try:
            return float(value)
        except ValueError:
            raise DataFileError(path, line, f"expected a number as the {task.name} score, found {value!r}") from None
    if value not in task.labels:
        raise DataFileError(
            path, line, f"label {value!r} is not one of the {task.name} labels {list(task.labels)}"
        )
    return value


def read_glue(task, data_dir, split="train"):
    """Reads one split of a GLUE task folder (e.g. `glue_data/MRPC`) into `InputExample`s.

    GUIDs are `"{split}-{n}"` with `n` counting examples from 0, so test predictions keep
    the order GLUE's submission files expect.

    Raises:
        FileNotFoundError: the split's file is not in `data_dir`.
        DataFileError: a row has too few columns or a label outside the task's set.
    """
    task = get_task(task)
    layout = task.split(split)
    path = pathlib.Path(data_dir) / layout.file
    if not path.is_file():
        raise FileNotFoundError(
            f"GLUE task '{task.name}' split '{split}' expects {path}, which does not exist; pass the task's "
            f"folder from the GLUE download (the one holding {task.train.file}, {task.dev.file}, "
            f"{task.test.file}) as data_dir."
        )
    examples = []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            line = reader.line_num
            if (layout.header and line == 1) or not row:
                continue
            if len(row) < layout.min_columns:
                raise DataFileError(
                    path,
                    line,
                    f"expected at least {layout.min_columns} tab-separated columns for {task.name} {split}, "
                    f"found {len(row)}",
                )
            label = None if layout.label is None else _parse_label(task, row[layout.label], path, line)
            text_b = None if layout.text_b is None else row[layout.text_b]
            examples.append(InputExample(f"{split}-{len(examples)}", row[layout.text_a], text_b, label))
    return examples


_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_JSON_LINES = (".jsonl", ".json")


def read_table(path, text_a, text_b=None, label=None, *, labels=None):
    """Reads a user's own classification data, naming the fields to use.

    `.csv` files are comma-separated with standard `"` quoting; `.tsv` files are
    tab-separated without quoting (as GLUE's); both need a header row, and `text_a`,
    `text_b`, `label` are column names. `.jsonl`/`.json` files hold one JSON object per
    line, and the names are keys. Labels are kept as found (strings from CSV/TSV); pass
    `labels` (strings) to reject any label outside that set: JSON integer labels then
    become their strings, so `1` is the class `"1"`.

    Example:
        >>> read_table("train.csv", "sentence1", "sentence2", "label")  # doctest: +SKIP
        [InputExample(guid='train-0', text_a='He said ...', text_b='" The ...', label='equivalent'), ...]
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    fields = {"text_a": text_a, "text_b": text_b, "label": label}
    if suffix in _DELIMITERS:
        records = _delimited_records(path, _DELIMITERS[suffix], fields)
    elif suffix in _JSON_LINES:
        records = _json_records(path, fields)
    else:
        raise ValueError(
            f"Cannot read {path}: unknown extension {suffix!r}; use .csv, .tsv, or .jsonl/.json (JSON Lines)."
        )
    examples = []
    for line, record in records:
        if labels is not None and label is not None:
            if isinstance(record["label"], int) and not isinstance(record["label"], bool):
                record["label"] = str(record["label"])  # JSON 1 is the class "1" of a GLUE task
            if record["label"] not in labels:
                raise DataFileError(path, line, f"label {record['label']!r} is not one of {list(labels)}")
        examples.append(InputExample(f"{path.stem}-{len(examples)}", **record))
    return examples


def _delimited_records(path, delimiter, fields):
    rows = iter_delimited_rows(path, delimiter)
    header = next(rows)
    columns = {}
    for field, name in fields.items():
        if name is None:
            continue
        if name not in header:
            raise DataFileError(path, 1, f"column {name!r} (for {field}) is not in the header {header}")
        columns[field] = header.index(name)
    for line, row in rows:
        yield line, {field: row[column] for field, column in columns.items()}


def _json_records(path, fields):
    for line, record in iter_json_lines(path):
        values = {}
        for field, key in fields.items():
            if key is None:
                continue
            if key not in record:
                raise DataFileError(path, line, f"missing key {key!r} (for {field}); found keys {sorted(record)}")
            value = record[key]
            if field != "label" and not isinstance(value, str):
                raise DataFileError(path, line, f"key {key!r} must hold a string, found {type(value).__name__}")
            values[field] = value
        yield line, values
