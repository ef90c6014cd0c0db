"""The small real datasets in `../shared/data` beside the repo root.

A user's clone has no such folder, so a test that needs one skips saying which path is missing.

Example:
    >>> path = shared("mrpc/dev.tsv")
"""

import pathlib

import pytest

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared(relative=""):
    """`SHARED_DATA / relative`, or skips the calling test when it does not exist."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent: this clone has no ../shared/data beside it (the project's real "
                    "sample datasets), so the test that reads it cannot run")
    return path
