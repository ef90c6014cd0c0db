"""Atomic writes: a folder or file appears whole or not at all, and a failure keeps the old one."""

import os

import pytest

from keras_bert_suite.utils import atomic_directory, atomic_path, is_occupied


def names(folder):
    return sorted(path.name for path in folder.iterdir())


def test_atomic_directory_yields_an_empty_staging_folder_and_renames_it_into_place(tmp_path):
    target = tmp_path / "nested" / "preset"
    with atomic_directory(target) as staging:
        assert staging.parent == target.parent and list(staging.iterdir()) == []
        (staging / "vocab.txt").write_text("[PAD]\n")
        assert not target.exists()
    assert names(target) == ["vocab.txt"]
    assert names(target.parent) == ["preset"]


def test_atomic_directory_replaces_an_existing_folder(tmp_path):
    target = tmp_path / "preset"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target) as staging:
        (staging / "new.txt").write_text("new")
    assert names(target) == ["new.txt"]
    assert names(tmp_path) == ["preset"]


def test_atomic_directory_replaces_an_existing_file(tmp_path):
    target = tmp_path / "preset"
    target.write_text("a file")
    with atomic_directory(target) as staging:
        (staging / "new.txt").write_text("new")
    assert names(target) == ["new.txt"]
    assert names(tmp_path) == ["preset"]


def test_atomic_directory_failure_keeps_the_old_folder_and_leaves_no_staging(tmp_path):
    target = tmp_path / "preset"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(OSError, match="disk full"):
        with atomic_directory(target) as staging:
            (staging / "new.txt").write_text("half")
            raise OSError("disk full")
    assert names(tmp_path) == ["preset"]
    assert (target / "old.txt").read_text() == "old" and names(target) == ["old.txt"]


def test_atomic_directory_failure_without_an_old_folder_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_directory(tmp_path / "preset"):
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_failed_rename_restores_the_old_folder(tmp_path, monkeypatch):
    target = tmp_path / "preset"
    target.mkdir()
    (target / "old.txt").write_text("old")
    real_rename = os.rename

    def rename(source, destination):
        if str(source).endswith(".tmp"):  # the staging folder's own rename onto the target
            raise OSError("rename failed")
        real_rename(source, destination)

    monkeypatch.setattr("keras_bert_suite.utils.os.rename", rename)
    monkeypatch.setattr("keras_bert_suite.utils._RENAMEAT2", None)  # a system without an atomic swap
    with pytest.raises(OSError, match="rename failed"):
        with atomic_directory(target) as staging:
            (staging / "new.txt").write_text("new")
    assert names(tmp_path) == ["preset"] and names(target) == ["old.txt"]


@pytest.mark.parametrize("old_is_a_file", [False, True])
def test_atomic_directory_swaps_in_one_step_on_linux(tmp_path, monkeypatch, old_is_a_file):
    """No moment without `preset`: the replacement never renames the old folder aside."""
    target = tmp_path / "preset"
    if old_is_a_file:
        target.write_text("old")
    else:
        target.mkdir()
        (target / "old.txt").write_text("old")

    def rename(source, destination):
        raise AssertionError(f"renamed {source} -> {destination}: not one atomic swap")

    monkeypatch.setattr("keras_bert_suite.utils.os.rename", rename)
    with atomic_directory(target) as staging:
        (staging / "new.txt").write_text("new")
    assert names(tmp_path) == ["preset"] and names(target) == ["new.txt"]


def test_atomic_path_keeps_the_suffix_and_a_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".keras" and tmp != target
            tmp.write_text("half")
            raise ValueError
    assert names(tmp_path) == ["model.keras"] and target.read_text() == "old"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert names(tmp_path) == ["model.keras"] and target.read_text() == "new"


def test_is_occupied(tmp_path):
    assert not is_occupied(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    assert not is_occupied(tmp_path / "empty")
    (tmp_path / "empty" / "file").write_text("")
    assert is_occupied(tmp_path / "empty") and is_occupied(tmp_path / "empty" / "file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert is_occupied(tmp_path / "dangling")
