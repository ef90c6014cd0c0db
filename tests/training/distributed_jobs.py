"""Training jobs the distribution tests run in fresh processes, and `run_jobs` to run them.

Logical devices and clusters must be set up before TensorFlow starts, so each job is a new
Python process (`python -m tests.training.distributed_jobs JOB ...`, from the repository
root). `LOGICAL_CPUS=2` in the environment splits the CPU into two devices first.

    train STRATEGY[,STRATEGY...] OUT.npz   tiny classifier, raw text; losses and weights per strategy
    tasks PRESET_FOLDER TMP_FOLDER         every task model from its preset and its .keras file, in scope
    tpu GRPC_ADDRESS                       the TPU strategy's errors where there is no TPU (JSON lines)
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

import tensorflow as tf

if os.environ.get("LOGICAL_CPUS"):
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * int(os.environ["LOGICAL_CPUS"]),
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_bert_suite import (  # noqa: E402
    BertClassifier,
    BertClassifierPreprocessor,
    BertMaskedLM,
    BertMultipleChoice,
    BertPreTraining,
    BertQuestionAnswerer,
    BertTokenClassifier,
)
from keras_bert_suite.training import bert_optimizer, get_strategy  # noqa: E402
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
JOB_TIMEOUT_S = 240
WORDS = "the a quick slow brown red fox dog cat jumps runs sleeps over under lazy happy river tree".split()
GLOBAL_BATCH = 16
EXAMPLES = 64
EPOCHS = 2
CLIPNORM = 0.1  # below the gradients' global norm (~0.3; the job reports it), so clipping acts
SEED = 7


def run_jobs(*jobs):
    """Runs each `(arguments, extra environment)` job as `python -m tests.training.distributed_jobs`,
    all at once; returns their outputs. Within `JOB_TIMEOUT_S` all must succeed; when one
    fails or time is up, every process still running is killed."""
    processes, logs = [], []
    try:
        for arguments, extra in jobs:
            environment = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
            environment.update(TF_CPP_MIN_LOG_LEVEL="2", **extra)
            logs.append(tempfile.TemporaryFile("w+"))  # a pipe could fill up and stall a job
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "tests.training.distributed_jobs", *arguments], cwd=ROOT, env=environment,
                stdout=logs[-1], stderr=subprocess.STDOUT, text=True,
            ))
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while any(process.poll() is None for process in processes) and time.monotonic() < deadline:
            if any(process.poll() not in (None, 0) for process in processes):
                break
            time.sleep(0.5)
        outputs = []
        for process, log in zip(processes, logs):
            log.seek(0)
            outputs.append(log.read())
            state = "timed out" if process.poll() is None else f"exited with {process.returncode}"
            assert process.returncode == 0, f"job {process.args[3:]} {state}:\n{outputs[-1][-4000:]}"
        return outputs
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        for log in logs:
            log.close()


def free_ports(count):
    """Ports the OS hands out now on 127.0.0.1 (closed again for the workers to take)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]
    finally:
        for each in sockets:
            each.close()


def texts_and_labels():
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) for _ in range(EXAMPLES)]
    return texts, rng.integers(0, 2, EXAMPLES).astype("int32")


def tiny_classifier():
    """The same initial weights on every call (and every worker): seeded, no dropout."""
    backbone = tiny_backbone(seed=0, dropout=0.0, attention_dropout=0.0)
    preprocessor = BertClassifierPreprocessor(minilm_tokenizer(), sequence_length=16)
    model = BertClassifier(backbone, num_classes=2, preprocessor=preprocessor, dropout=0.0, compile=False)
    model.compile(optimizer=bert_optimizer(1e-3, clipnorm=CLIPNORM))
    return model


def gradient_norm(model, texts, labels):
    """Global norm of the first global batch's gradient (dense: each embedding row once)."""
    x, y, _ = keras.utils.unpack_x_y_sample_weight(model.preprocessor(texts[:GLOBAL_BATCH], labels[:GLOBAL_BATCH]))
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    gradients = tape.gradient(loss, model.trainable_variables)
    return float(tf.linalg.global_norm([tf.convert_to_tensor(gradient) for gradient in gradients]))


class StepLosses(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


def train(names, out):
    """Fits the tiny classifier under each strategy; writes losses, weights and more to `out`."""
    texts, labels = texts_and_labels()
    results = {}
    for name in names.split(","):
        strategy = get_strategy(name)
        with strategy.scope():
            model = tiny_classifier()
        results[f"{name}/gradient_norm"] = gradient_norm(model, texts, labels)
        record = StepLosses()
        model.fit(texts, labels, batch_size=GLOBAL_BATCH, epochs=EPOCHS, seed=SEED, verbose=0, callbacks=[record])
        results[f"{name}/losses"] = np.array(record.losses)
        results[f"{name}/replicas"] = strategy.num_replicas_in_sync
        results[f"{name}/iterations"] = int(model.optimizer.iterations.numpy())
        results[f"{name}/jit_compile"] = bool(model.jit_compile)
        for variable in model.trainable_variables:
            results[f"{name}/weights/{variable.path}"] = np.asarray(variable)
    np.savez(out, **results)


def task_models(preset, folder):
    """Each task model from `preset` and from its `.keras` file inside a mirrored scope, with
    distributed variables; the masked LM (stateless random masks) also trains there."""
    texts = ["the quick brown fox", "a lazy dog sleeps", "the red cat runs", "a happy tree grows"]
    cases = [
        (BertClassifier, dict(num_classes=2)),
        (BertTokenClassifier, dict(num_classes=3)),
        (BertQuestionAnswerer, {}),
        (BertMultipleChoice, dict(num_choices=2)),
        (BertMaskedLM, {}),
        (BertPreTraining, {}),
    ]
    strategy = get_strategy("mirrored")
    for task, options in cases:
        with strategy.scope():
            model = task.from_preset(preset, sequence_length=16, **options)
        if task is BertMaskedLM:
            model.fit(texts, batch_size=4, epochs=2, seed=SEED, verbose=0)
        path = os.path.join(folder, f"{task.__name__}.keras")
        model.save(path)
        with strategy.scope():
            restored = keras.saving.load_model(path)
        for built in (model, restored):
            assert built.distribute_strategy is strategy, task.__name__
            assert all(isinstance(v.value, tf.distribute.DistributedValues) for v in built.trainable_variables)
            assert isinstance(built.optimizer.iterations.value, tf.distribute.DistributedValues), task.__name__
        for saved, loaded in zip(model.weights, restored.weights):
            np.testing.assert_array_equal(np.asarray(saved), np.asarray(loaded))
        print(json.dumps({"task": task.__name__, "replicas": strategy.num_replicas_in_sync,
                          "trained": int(restored.optimizer.iterations.numpy())}), flush=True)


def tpu_errors(address):
    """Prints `{"tpu": ..., "error": ...}` for no TPU name, "local" and `address` (no TPU behind any)."""
    for tpu in (None, "local", address):
        try:
            get_strategy("tpu", tpu)
            error = None
        except ValueError as raised:
            error = str(raised)
        print(json.dumps({"tpu": tpu, "error": error}), flush=True)


if __name__ == "__main__":
    job = sys.argv[1]
    if job == "train":
        train(sys.argv[2], sys.argv[3])
    elif job == "tasks":
        task_models(sys.argv[2], sys.argv[3])
    elif job == "tpu":
        tpu_errors(sys.argv[2])
    else:
        raise SystemExit(f"unknown job {job!r}")
