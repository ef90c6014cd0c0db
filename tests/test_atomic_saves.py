"""A process killed (SIGKILL) while it saves a preset or a `model.keras` leaves the previous
one, which still loads with the previous weights.

The child saves new weights over the previous ones; its writer is made to stop halfway
through the file it is writing (half of the real bytes written, then a sleep), where the
parent kills it.
"""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np

from keras_bert_suite.models.backbone import BertBackbone
from keras_bert_suite.models.classifier import BertClassifier
from keras_bert_suite.recipes.common import save_model
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

ROOT = pathlib.Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import pathlib, shutil, sys, tempfile, time
    from keras_bert_suite.models.backbone import BertBackbone
    from keras_bert_suite.models.classifier import BertClassifier
    from keras_bert_suite.recipes.common import save_model
    from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

    what, target, marker = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])

    def halfway(real_save):
        def save(self, path, *args, **kwargs):
            scratch = pathlib.Path(tempfile.mkdtemp()) / pathlib.Path(path).name
            real_save(self, str(scratch), *args, **kwargs)
            data = scratch.read_bytes()
            pathlib.Path(path).write_bytes(data[: len(data) // 2])
            marker.touch()
            time.sleep(600)
        return save

    backbone = tiny_backbone(seed=1)
    if what == "preset":
        BertBackbone.save_weights = halfway(BertBackbone.save_weights)
        backbone.save_to_preset(target, tokenizer=minilm_tokenizer())
    else:
        model = BertClassifier(backbone, num_classes=2)
        BertClassifier.save = halfway(BertClassifier.save)
        save_model(model, target)
""")


def kill_while_saving(tmp_path, what, target):
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    marker = tmp_path / f"{what}.halfway"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    with open(tmp_path / f"{what}.log", "w") as log:
        process = subprocess.Popen([sys.executable, str(child), what, str(target), str(marker)], stdout=log,
                                   stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / f"{what}.log").read_text())
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def same_weights(first, second):
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_kill_during_a_preset_save_leaves_the_previous_preset(tmp_path):
    target = tmp_path / "tiny_bert"
    previous = tiny_backbone(seed=0)
    previous.save_to_preset(target, tokenizer=minilm_tokenizer())
    kill_while_saving(tmp_path, "preset", target)
    same_weights(BertBackbone.from_preset(target), previous)
    assert not np.array_equal(tiny_backbone(seed=1).get_weights()[0], previous.get_weights()[0])  # it was new


def test_a_kill_during_a_model_keras_save_leaves_the_previous_file(tmp_path):
    target = tmp_path / "model.keras"
    previous = BertClassifier(tiny_backbone(seed=0), num_classes=2)
    save_model(previous, target)
    kill_while_saving(tmp_path, "model", target)
    same_weights(keras.saving.load_model(target), previous)
    # What the kill left is a hidden temporary file beside it, never the target name.
    assert sorted(path.name for path in tmp_path.glob("model.keras*")) == ["model.keras"]
