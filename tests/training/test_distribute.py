"""`get_strategy` and training under `tf.distribute`: two logical CPUs mirrored, two worker
processes on 127.0.0.1, the TPU path up to its error.

Devices and clusters must be set before TensorFlow starts, so the training runs are fresh
processes (`tests/training/distributed_jobs.py`), each bounded by a timeout and always
killed at the end. Tolerances: one device and two replicas differ only in float rounding
(the order of sums), so losses agree to rtol 1e-5 and weights to atol 1e-5 after 8 Adam
steps at learning rate 1e-3 with clipping at 0.1 (measured: 1.2e-7). Before the fix Keras
clipped each replica's half of the gradient: a like run (packed inputs, 4 steps) ended
3.9e-3 apart, its first epoch's loss already different.
"""

import json
import types

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.training import STRATEGIES, get_strategy
from keras_bert_suite.training.distribute import resolve_jit_compile, training_batches
from tests.training.distributed_jobs import CLIPNORM, EPOCHS, EXAMPLES, GLOBAL_BATCH, free_ports, run_jobs

STEPS = EPOCHS * EXAMPLES // GLOBAL_BATCH


def weights(results, name):
    prefix = f"{name}/weights/"
    return {key[len(prefix):]: results[key] for key in results.files if key.startswith(prefix)}


def assert_same_training(expected, expected_name, found, found_name):
    """Same step count, losses (rtol 1e-5) and final weights (atol 1e-5)."""
    assert int(expected[f"{expected_name}/iterations"]) == int(found[f"{found_name}/iterations"]) == STEPS
    np.testing.assert_allclose(found[f"{found_name}/losses"], expected[f"{expected_name}/losses"], rtol=1e-5)
    expected_weights, found_weights = weights(expected, expected_name), weights(found, found_name)
    assert sorted(expected_weights) == sorted(found_weights) and expected_weights
    for path, value in expected_weights.items():
        np.testing.assert_allclose(found_weights[path], value, atol=1e-5, err_msg=path)


# === get_strategy ===
def test_one_device_and_auto_on_a_cpu():
    strategy = get_strategy("one_device")
    assert isinstance(strategy, tf.distribute.OneDeviceStrategy) and strategy.num_replicas_in_sync == 1
    assert get_strategy("one_device") is strategy  # made once per process
    assert get_strategy() is get_strategy("auto") and get_strategy().num_replicas_in_sync == 1
    assert resolve_jit_compile("auto", strategy) is False and resolve_jit_compile(True, strategy) is True


def test_jit_compile_true_is_refused_on_several_replicas():
    several = types.SimpleNamespace(num_replicas_in_sync=2)
    assert resolve_jit_compile("auto", several) is False and resolve_jit_compile(False, several) is False
    with pytest.raises(ValueError, match=r"jit_compile=True \(--jit-compile true\) cannot run on the 2 replicas"):
        resolve_jit_compile(True, several)


@pytest.mark.parametrize("name, tpu, message", [
    ("gpus", None, r"Unknown strategy 'gpus'; choose one of auto, one_device, mirrored, multi_worker, tpu"),
    ("mirrored", "my-tpu", r"tpu='my-tpu' names a TPU, which only the 'tpu' strategy uses.*--strategy tpu"),
])
def test_unknown_strategy_and_tpu_without_the_tpu_strategy_are_refused(name, tpu, message):
    with pytest.raises(ValueError, match=message):
        get_strategy(name, tpu)
    assert "tpu" in STRATEGIES


@pytest.mark.parametrize("tf_config, message", [
    (None, "reads its cluster from TF_CONFIG, which is not set"),
    ("{not json", "is not a cluster with workers and this task's index"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "task index 3 is not one of the 1"),
])
def test_multi_worker_needs_a_valid_tf_config(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message) as raised:
        get_strategy("multi_worker")
    assert "TF_CONFIG='{\"cluster\"" in str(raised.value)  # shows what to set


def test_training_batches_are_seeded_and_reshuffled_every_epoch():
    def epochs(seed):
        batches = training_batches(tf.data.Dataset.range(10), 4, get_strategy("one_device"), shuffle=True, seed=seed)
        return [[batch.numpy().tolist() for batch in batches] for _ in range(2)]

    first, again = epochs(3), epochs(3)
    assert first == again != epochs(4)
    assert first[0] != first[1] and [len(batch) for batch in first[0]] == [4, 4, 2]
    assert sorted(sum(first[0], [])) == list(range(10))


# === Training runs in fresh processes ===
def test_two_mirrored_cpus_and_two_workers_on_localhost_train_as_one_device(tmp_path):
    """One run in each of three processes at once: one device then two mirrored CPUs (same
    process), and two workers of a cluster on 127.0.0.1, all at the same global batch."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [(["train", "multi_worker", str(tmp_path / f"worker{index}.npz")],
                {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})})
               for index in range(2)]
    run_jobs((["train", "one_device,mirrored", str(tmp_path / "local.npz")], {"LOGICAL_CPUS": "2"}), *workers)
    local = np.load(tmp_path / "local.npz")

    assert int(local["mirrored/replicas"]) == 2 and int(local["one_device/replicas"]) == 1
    # Clipping acted, so clipping each replica's share (what Keras does) would differ.
    assert float(local["one_device/gradient_norm"]) > 2 * CLIPNORM
    assert not local["mirrored/jit_compile"]  # "auto" on CPUs
    assert_same_training(local, "one_device", local, "mirrored")

    results = [np.load(tmp_path / f"worker{index}.npz") for index in range(2)]
    for worker in results:
        assert int(worker["multi_worker/replicas"]) == 2
        # Each worker takes its own half of every global batch: equal to one device only if
        # the halves differ (the same half twice would give another gradient).
        assert_same_training(local, "one_device", worker, "multi_worker")
    first, second = (weights(worker, "multi_worker") for worker in results)
    for path, value in first.items():
        np.testing.assert_array_equal(second[path], value, err_msg=path)


def test_tpu_strategy_without_a_tpu_is_a_clear_error():
    closed = free_ports(1)[0]
    (output,) = run_jobs((["tpu", f"grpc://127.0.0.1:{closed}"], {}))
    records = [json.loads(line) for line in output.splitlines() if line.startswith('{"tpu"')]
    errors = {record["tpu"]: record["error"] for record in records}
    assert set(errors) == {None, "local", f"grpc://127.0.0.1:{closed}"}
    for tpu, error in errors.items():
        assert error is not None and error.startswith("No TPU is reachable"), (tpu, error)
        assert "Pass --tpu (tpu=) with the TPU's name or grpc:// address" in error
    assert f"at 'grpc://127.0.0.1:{closed}'" in errors[f"grpc://127.0.0.1:{closed}"]
