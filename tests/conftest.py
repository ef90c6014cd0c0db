"""Test-session settings shared by every test folder.

`make test` runs `pytest -n 2 --dist loadfile`: each test file goes whole to one worker, so
its module fixtures are built once. The files of `tests/export/` share a session fixture
(every task model exported, the slow part of those tests); sent to two workers, each would
export all six models. They go to one worker together instead.
"""

import pytest

# Folders whose test files share a session fixture from their conftest.py.
SHARED_FIXTURE_FOLDERS = ("tests/export/",)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, except that the files of a `SHARED_FIXTURE_FOLDERS` folder form one
    unit of work; every other mode as pytest-xdist has it."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LoadFileOrSharedFolder(LoadFileScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            return next((folder for folder in SHARED_FIXTURE_FOLDERS if path.startswith(folder)), path)

    return LoadFileOrSharedFolder(config, log)
