"""Training on many devices with TensorFlow's own `tf.distribute` strategies.

`get_strategy(name)` gives the strategy; build (or load) and compile the model inside its
`scope()`, then `fit` as usual: `batch_size` is the global batch, split among the replicas.

- "auto": every local GPU mirrored when there are several, else the one device.
- "one_device": the first GPU, else the CPU.
- "mirrored": every local GPU (every logical CPU when there is none), one worker.
- "multi_worker": every worker of the cluster in the `TF_CONFIG` environment variable, each
  with its local GPUs. Create it before any other TensorFlow call.
- "tpu": the TPU named by `tpu` (a name, a `grpc://` address, or "local" on a TPU VM).

Each global batch holds the same examples as on one device: under multi-worker, every worker
builds the same shuffled batches (same seed) and keeps its replicas' part, so the shards
differ. Gradients are summed over the replicas before clipping (see `sum_over_replicas`).
`resolve_jit_compile` decides XLA when training starts, on the strategy's devices.

Example:
    >>> strategy = get_strategy("mirrored")
    >>> with strategy.scope():
    ...     model = BertClassifier.from_preset("bert_base_uncased", num_classes=2)
    >>> model.fit(texts, labels, batch_size=64, seed=1)   # 32 per GPU on two GPUs
"""

import functools
import json
import os
import random
import socket
import urllib.parse

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")
# How long to wait for a `grpc://` TPU address to accept a connection before giving up
# (TensorFlow itself would wait for ever).
TPU_CONNECT_TIMEOUT_S = 10
TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
)


def get_strategy(name="auto", tpu=None):
    """The `tf.distribute.Strategy` called `name` (one of `STRATEGIES`), made once per process.

    Args:
        name: "auto", "one_device", "mirrored", "multi_worker" or "tpu" (see above).
        tpu: for "tpu" only: the TPU's name, `grpc://` address or "local".

    Raises:
        ValueError: an unknown name, `tpu` without the "tpu" strategy, no `TF_CONFIG` for
            "multi_worker", or no TPU reachable.

    Example:
        >>> get_strategy("one_device").num_replicas_in_sync
        1
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")
    if tpu is not None and name != "tpu":
        raise ValueError(f"tpu={tpu!r} names a TPU, which only the 'tpu' strategy uses; the strategy is "
                         f"{name!r}. Pass --strategy tpu, or leave out --tpu.")
    return _create_strategy(name, tpu)


@functools.cache
def _create_strategy(name, tpu):
    # Cached: TensorFlow sets up collectives, clusters and TPUs once per process. These two
    # come first: listing devices starts TensorFlow, after which no cluster can be joined.
    if name == "multi_worker":
        return _multi_worker_strategy()
    if name == "tpu":
        return _tpu_strategy(tpu)
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(gpus or [device.name for device in tf.config.list_logical_devices("CPU")])
    if name == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy(gpus)
    return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")


def _multi_worker_strategy():
    text = os.environ.get("TF_CONFIG")
    where = f"Set it on every machine, e.g. TF_CONFIG='{TF_CONFIG_EXAMPLE}' (index 0, 1, ... per machine)."
    if not text:
        raise ValueError(f"The multi_worker strategy reads its cluster from TF_CONFIG, which is not set. {where}")
    try:
        config = json.loads(text)
        workers, task = config["cluster"]["worker"], config["task"]
        index = int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"TF_CONFIG={text!r} is not a cluster with workers and this task's index "
                         f"({type(error).__name__}: {error}). {where}") from None
    if not 0 <= index < len(workers):
        raise ValueError(f"TF_CONFIG task index {index} is not one of the {len(workers)} workers. {where}")
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        raise ValueError(f"Could not start the multi_worker strategy: {error}. Create it before any other "
                         "TensorFlow call (get_strategy first, then build the model).") from None


def _tpu_strategy(tpu):
    where = f" at {tpu!r}" if tpu else ""
    hint = "Pass --tpu (tpu=) with the TPU's name or grpc:// address, or 'local' on a TPU VM."
    try:
        _check_reachable(tpu)
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, OSError, RuntimeError, tf.errors.OpError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"No TPU is reachable{where}: {message}. {hint}") from None
    return tf.distribute.TPUStrategy(resolver)


def _check_reachable(tpu):
    """A `grpc://host:port` TPU must accept a connection within `TPU_CONNECT_TIMEOUT_S`."""
    if tpu and tpu.startswith("grpc://"):
        address = urllib.parse.urlsplit(tpu)
        with socket.create_connection((address.hostname, address.port), timeout=TPU_CONNECT_TIMEOUT_S):
            pass


def num_workers(strategy):
    """How many worker processes train together under `strategy` (1 unless multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec() if resolver is not None else None
    return spec.num_tasks("worker") if spec and "worker" in spec.jobs else 1


def runs_on_gpu(strategy):
    """True when `strategy` places its replicas on GPUs (the default strategy: when TensorFlow
    sees a GPU)."""
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy lists no devices
        return bool(tf.config.list_logical_devices("GPU"))
    return any(tf.DeviceSpec.from_string(device).device_type == "GPU" for device in devices)


def resolve_jit_compile(jit_compile, strategy):
    """Keras' `jit_compile` (a bool) for `jit_compile` ("auto", True or False) under `strategy`.

    Decided when training starts, once the strategy's devices exist. "auto" is XLA on one
    GPU: on a CPU it compiles for tens of seconds and measured no faster. A TPU compiles every
    step with XLA whatever Keras' flag says, so the flag stays off there. Several GPUs (or
    CPUs) cannot run Keras' XLA step (each replica would read the others' variables), so
    "auto" is off there and True is refused.

    Example:
        >>> resolve_jit_compile("auto", get_strategy("one_device"))   # on a CPU-only machine
        False
    """
    check_jit_compile(jit_compile)
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return False
    several = strategy.num_replicas_in_sync > 1
    if jit_compile is True and several:
        raise ValueError(f"jit_compile=True (--jit-compile true) cannot run on the {strategy.num_replicas_in_sync} "
                         f"replicas of {type(strategy).__name__}: XLA would read each replica's variables from "
                         "another device. Use 'auto' or False there.")
    if jit_compile == "auto":
        return not several and runs_on_gpu(strategy)
    return jit_compile


def check_jit_compile(jit_compile):
    """Raises a ValueError unless `jit_compile` is "auto", True or False."""
    if not (isinstance(jit_compile, bool) or jit_compile == "auto"):
        raise ValueError(f"jit_compile must be 'auto', True or False, found {jit_compile!r}.")


def training_batches(examples, batch_size, strategy, shuffle=False, seed=None, drop_remainder=None):
    """Global batches of `examples` (an unbatched `tf.data.Dataset`) for `fit` under `strategy`.

    With `shuffle`, reshuffled every epoch with `seed` (None: one from Python's `random`,
    which `keras.utils.set_random_seed` seeds; multi-worker training needs an explicit seed,
    the same on every worker). `drop_remainder` None drops the last, smaller batch on a TPU
    only: XLA there needs static shapes. Every worker builds the same batches, and Keras
    gives each worker its replicas' part of every batch, so the workers' shards differ.

    Example:
        >>> batches = training_batches(tf.data.Dataset.range(10), 4, get_strategy(), shuffle=True, seed=1)
        >>> [len(batch) for batch in batches]
        [4, 4, 2]
    """
    on_tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    replicas = strategy.num_replicas_in_sync
    if on_tpu and batch_size % replicas:
        raise ValueError(f"The global batch size {batch_size} must be a multiple of the {replicas} TPU cores "
                         "(each core needs the same static shape).")
    if shuffle:
        if seed is None and num_workers(strategy) > 1:
            raise ValueError("Multi-worker training shuffles the same way on every worker, so that each takes "
                             "its own part of every batch: pass seed= to fit (the recipes pass --seed).")
        seed = random.randrange(2**31) if seed is None else seed
        examples = examples.shuffle(int(examples.cardinality()), seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    # Every worker holds all the examples in memory and keeps its replicas' part of each batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = examples.batch(batch_size, drop_remainder=on_tpu if drop_remainder is None else drop_remainder)
    return batches.with_options(options)


def sum_over_replicas(values):
    """`values` (tensors, `IndexedSlices` or None) summed over the replicas in sync.

    Inside a replica of a multi-replica strategy each gradient is that replica's share
    (Keras scales each replica's loss by 1 / replicas), so the sum is the gradient of the
    whole global batch; elsewhere `values` come back as they are.

    Example:
        >>> grads = sum_over_replicas(tape.gradient(loss, model.trainable_variables))
    """
    values = list(values)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return values
    present = [value for value in values if value is not None]
    summed = iter(context.all_reduce(tf.distribute.ReduceOp.SUM, present) if present else [])
    return [None if value is None else next(summed) for value in values]
