"""A `kbs classify` run killed with SIGKILL mid-training resumes and ends with the weights of
an uninterrupted run; a finished run is not retrained; `--overwrite-output-dir` starts afresh.

The killed run is a subprocess that blocks (a test callback sleeps) after its 7th batch: the
state was saved after batch 6 (`--save-checkpoints-steps 3`, 4 batches an epoch), so the
restart must resume mid-epoch 2, train the 6 remaining batches and no others.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from keras_bert_suite.cli import build_parser, main
from keras_bert_suite.recipes.common import training_state
from tests.helpers.shared_data import shared
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS_PER_EPOCH, EPOCHS, SAVE_EVERY, BLOCK_AFTER = 4, 3, 3, 7

# The `kbs` main with a probe callback: it counts the batches this process trains, and with
# a block count sleeps after that batch (until killed).
CHILD = textwrap.dedent("""
    import sys, time
    import keras
    from keras_bert_suite.cli import main
    from keras_bert_suite.recipes import common

    block_after, marker = int(sys.argv[1]), sys.argv[2]

    class Probe(keras.callbacks.Callback):
        trained = 0

        def on_train_batch_end(self, batch, logs=None):
            Probe.trained += 1
            if Probe.trained == block_after:
                open(marker, "w").close()
                time.sleep(600)

        def on_train_end(self, logs=None):
            print(f"\\nTRAINED {Probe.trained}", flush=True)

    original = common.training_callbacks
    common.training_callbacks = lambda output_dir, state=None: [*original(output_dir, state), Probe()]
    sys.exit(main(sys.argv[3:]))
""")


def copy_head(source, target, lines):
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as handle:
        target.write_bytes(b"".join(handle.readline() for _ in range(lines)))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """16 MRPC training pairs, a tiny preset, the flags of a 3-epoch run of batch 4."""
    mrpc = shared("mrpc")
    root = tmp_path_factory.mktemp("resume")
    copy_head(mrpc / "train.tsv", root / "data" / "train.tsv", 1 + STEPS_PER_EPOCH * 4)
    preset = root / "tiny_bert"
    tiny_backbone().save_to_preset(preset, tokenizer=minilm_tokenizer())
    child = root / "child.py"
    child.write_text(CHILD)

    def flags(output):
        return ["classify", "--task", "mrpc", "--data-dir", str(root / "data"), "--preset", str(preset),
                "--output-dir", str(output), "--max-seq-length", "16", "--batch-size", "4", "--epochs",
                str(EPOCHS), "--learning-rate", "1e-3", "--save-checkpoints-steps", str(SAVE_EVERY), "--do-train"]

    return root, child, flags


def run_child(child, block_after, argv, log):
    """The child on `argv`, its output in `log`; with `block_after`, it creates `log + ".blocked"`
    and sleeps after that many batches."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, str(child), str(block_after), f"{log}.blocked", *argv], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)


def wait_until_blocked(process, log, timeout):
    marker = pathlib.Path(f"{log}.blocked")
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the child did not reach its block; its output:\n{log.read_text()}")
        time.sleep(0.2)


def stop(process):
    """SIGKILL to the child's process group (it is its own session), reaped."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def final_weights(output):
    return [np.asarray(w) for w in keras.saving.load_model(output / "model.keras").get_weights()]


@pytest.fixture(scope="module")
def reference(setup):
    """The uninterrupted run (in this process)."""
    root, _, flags = setup
    assert main(flags(root / "uninterrupted")) == 0
    return root / "uninterrupted"


def test_killed_classify_resumes_mid_epoch_and_ends_with_the_uninterrupted_weights(setup, reference):
    root, child, flags = setup
    output = root / "killed"
    process = run_child(child, BLOCK_AFTER, flags(output), root / "killed.log")
    try:
        wait_until_blocked(process, root / "killed.log", timeout=300)
    finally:
        stop(process)
    assert process.returncode == -signal.SIGKILL
    state = json.loads((output / "training_state" / "state.json").read_text())
    assert (state["epoch"], state["step"], state["global_step"], state["finished"]) == (1, 2, 6, False)
    assert not (output / "model.keras").exists()
    killed_history = json.loads((output / "history.json").read_text())
    assert killed_history["global_step"][:4] == [1, 2, 3, 4] and len(killed_history["epochs"]["loss"]) == 1

    resumed = run_child(child, 0, flags(output), root / "resumed.log")
    try:
        resumed.wait(timeout=300)
    finally:
        stop(resumed)
    log = (root / "resumed.log").read_text()
    assert resumed.returncode == 0, log
    assert "epoch 2, step 2 (6 steps done)" in log, log
    # Only the 6 remaining batches were trained: 2 of epoch 2, then the 4 of epoch 3.
    assert [line for line in log.splitlines() if line.startswith("TRAINED")][-1] == "TRAINED 6", log

    # Same weights as the uninterrupted run; on one CPU they agree to the last bit, the
    # tolerance allows for a different order of float sums on other devices.
    for expected, found in zip(final_weights(reference), final_weights(output), strict=True):
        np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-6)
    history = json.loads((output / "history.json").read_text())
    reference_history = json.loads((reference / "history.json").read_text())
    assert history["global_step"] == list(range(1, STEPS_PER_EPOCH * EPOCHS + 1)) == reference_history["global_step"]
    assert len(history["epochs"]["loss"]) == EPOCHS
    # Logged losses are Keras' running means over the epoch: the resumed epoch's mean restarts at
    # step 7, so steps 7-8 differ; the other epochs' figures are the uninterrupted run's.
    comparable = [index for index in range(STEPS_PER_EPOCH * EPOCHS) if index not in (6, 7)]
    np.testing.assert_allclose(np.take(history["steps"]["loss"], comparable),
                               np.take(reference_history["steps"]["loss"], comparable), rtol=1e-5)
    np.testing.assert_allclose(history["epochs"]["loss"][::2], reference_history["epochs"]["loss"][::2], rtol=1e-5)
    assert (output / "training_curves.png").stat().st_size > 0
    assert json.loads((output / "training_state" / "state.json").read_text())["finished"] is True
    assert not list((output / "training_state").glob("state-*.npz"))


def test_a_finished_run_is_not_retrained_and_overwrite_starts_afresh(setup, reference, capsys):
    _, _, flags = setup
    before = (reference / "model.keras").stat().st_mtime_ns
    assert main(flags(reference)) == 0
    assert "holds a finished training run" in capsys.readouterr().out
    assert (reference / "model.keras").stat().st_mtime_ns == before

    assert main([*flags(reference), "--overwrite-output-dir", "--epochs", "1"]) == 0
    assert "finished training run" not in capsys.readouterr().out
    history = json.loads((reference / "history.json").read_text())
    assert history["global_step"] == list(range(1, STEPS_PER_EPOCH + 1))


def test_resuming_with_other_settings_is_refused(setup, capsys):
    root, _, flags = setup
    output = root / "changed"
    saved = training_state(build_parser().parse_args(flags(output)))
    saved.folder.mkdir(parents=True)
    (saved.folder / "state.json").write_text(json.dumps(
        {"file": "state-000000001.npz", "epoch": 0, "step": 1, "steps_per_epoch": 4, "global_step": 1,
         "finished": False, "settings": saved.settings}))
    assert main([*flags(output), "--batch-size", "8"]) == 2
    error = capsys.readouterr().err
    assert "other settings (batch_size: saved [4], now [8])" in error and "--overwrite-output-dir" in error
