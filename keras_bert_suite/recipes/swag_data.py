"""SWAG multiple-choice data: the released CSV files and JSON Lines.

SWAG rows name a context (`sent1`), the start of the next sentence (`sent2`) and four
candidate endings (`ending0`..`ending3`); `label` is the index of the right ending and is
absent from the test split. As in BERT's SWAG setup and HF's `run_swag`, the context is
`sent1` and choice i is `sent2 + " " + ending_i`.

Example:
    >>> examples = read_swag("swag/sample.json")    # doctest: +SKIP
    >>> examples[0].choices[examples[0].label]      # doctest: +SKIP
    'A drum line passes by walking down the street playing their instruments.'
"""

import dataclasses
import pathlib

from keras_bert_suite.recipes.errors import DataFileError, iter_delimited_rows, iter_json_lines

ENDING_KEYS = ("ending0", "ending1", "ending2", "ending3")
TEXT_KEYS = ("sent1", "sent2", *ENDING_KEYS)


@dataclasses.dataclass(frozen=True)
class MultipleChoiceExample:
    """A context, its candidate continuations, and the index of the right one (or `None`)."""

    context: str
    choices: list[str]
    label: int | None = None


def read_swag(path):
    """Reads a SWAG `.csv` (header row, columns by name) or `.jsonl`/`.json` file.

    Raises:
        DataFileError: a column or key is missing, a row is short, or a label is not an
            ending index 0..3.
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _csv_records(path)
    elif suffix in (".jsonl", ".json"):
        records = _json_records(path)
    else:
        raise ValueError(f"Cannot read {path}: unknown extension {suffix!r}; use .csv or .jsonl/.json (JSON Lines).")
    return [
        MultipleChoiceExample(
            context=record["sent1"],
            choices=[f"{record['sent2']} {record[key]}" for key in ENDING_KEYS],
            label=_parse_label(record.get("label"), path, line),
        )
        for line, record in records
    ]


def _parse_label(value, path, line):
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(ENDING_KEYS):
        raise DataFileError(path, line, f"label {value!r} is not an ending index 0..{len(ENDING_KEYS) - 1}")
    return value


def _csv_records(path):
    rows = iter_delimited_rows(path)
    header = next(rows)
    missing = [key for key in TEXT_KEYS if key not in header]
    if missing:
        raise DataFileError(path, 1, f"header lacks SWAG columns {missing}; found {header}")
    keys = [*TEXT_KEYS, "label"] if "label" in header else list(TEXT_KEYS)
    columns = {key: header.index(key) for key in keys}
    for line, row in rows:
        yield line, {key: row[column] for key, column in columns.items()}


def _json_records(path):
    for line, record in iter_json_lines(path):
        for key in TEXT_KEYS:
            if not isinstance(record.get(key), str):
                raise DataFileError(path, line, f"expected key {key!r} holding a string; found keys {sorted(record)}")
        yield line, record
