"""Errors that point at one line of a data file, and the JSON Lines and CSV readers that raise them.

Every recipe reader reports bad input as `DataFileError`: the file, the 1-based line
number and what was expected, so a user can open the file at that line and fix it.

Example:
    >>> error = DataFileError("dev.tsv", 12, "expected 5 columns, found 3")
    >>> str(error)
    'dev.tsv:12: expected 5 columns, found 3'
    >>> isinstance(error, ValueError)
    True
"""

import csv
import json


class DataFileError(ValueError):
    """A data file holds something its reader cannot use.

    Args:
        file: path of the file (any object that prints as a path).
        line: 1-based line number, or `None` when the problem is the whole file.
        reason: what was expected, what was found, and what to do.
    """

    def __init__(self, file, line, reason):
        self.file = str(file)
        self.line = line
        self.reason = reason
        where = self.file if line is None else f"{self.file}:{line}"
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):
        return type(self), (self.file, self.line, self.reason)


def iter_json_lines(path):
    """Yields `(line_number, object)` for every non-blank line of a JSON Lines file.

    The file is read as UTF-8 (a leading byte-order mark is ignored). A line that is not
    a JSON object raises `DataFileError` naming the line.
    """
    with open(path, encoding="utf-8-sig") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataFileError(
                    path,
                    line_number,
                    f"malformed JSON ({error.msg} at column {error.colno}); expected one "
                    "JSON object per line (JSON Lines), not a single pretty-printed document",
                ) from None
            if not isinstance(record, dict):
                raise DataFileError(
                    path,
                    line_number,
                    f"expected a JSON object per line, found {type(record).__name__}",
                )
            yield line_number, record


def iter_delimited_rows(path, delimiter=","):
    """Yields the header row of a CSV (`,`, quoted fields) or TSV file (`\t`, no quoting),
    then `(line_number, row)` for every non-blank row, each as wide as the header.

    Example:
        >>> rows = iter_delimited_rows("train.csv")
        >>> header = next(rows)
        >>> for line, row in rows: ...
    """
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        header = next(reader, None)
        if not header:
            raise DataFileError(path, 1, "expected a header row naming the columns, found an empty line")
        yield header
        last_line = reader.line_num
        for row in reader:
            line, last_line = last_line + 1, reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                raise DataFileError(path, line, f"expected {len(header)} columns as in the header, found {len(row)}")
            yield line, row
