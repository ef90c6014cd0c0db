"""Training data in an order keyed on (seed, epoch), so a resumed epoch sees the same order.

`tf.data`'s `shuffle(reshuffle_each_iteration=True)` draws each epoch's order from a
generator inside the dataset object: epoch 3 of a run restarted at epoch 3 would get the
order of epoch 0. Here the epoch is a variable that `EpochVariable` sets when Keras starts
an epoch, and the order of that epoch is a shuffle seeded with `(seed, epoch)` only.

Example:
    >>> epoch = EpochVariable()                       # a callback of fit
    >>> examples = epoch_ordered(tf.data.Dataset.range(5), seed=1, epoch=epoch.variable)
    >>> epoch.on_epoch_begin(2); first = list(examples)
    >>> epoch.on_epoch_begin(2); list(examples) == first     # the same order again, in any process
    True
"""

import keras
import tensorflow as tf

_EPOCH_MULTIPLIER = 1_000_003  # a prime: (seed, epoch) pairs give distinct shuffle seeds
_GRAPH_SEED = 87654321


def epoch_ordered(examples, seed, epoch):
    """`examples` (unbatched, finite) reshuffled every pass in the order of `(seed, epoch.numpy())`.

    `epoch` is an int64 `tf.Variable` read when an iterator starts. The result keeps the
    cardinality of `examples`, so Keras knows the steps per epoch.
    """
    size = int(examples.cardinality())
    if size < 0:
        raise ValueError("epoch_ordered needs a dataset of known, finite length (in-memory examples).")

    def one_epoch(_):
        # The graph-level half of the shuffle's seed pair, fixed in this traced function: the
        # order depends on (seed, epoch) only, not on `tf.random.set_seed` (whose 0 would also
        # make TensorFlow test the tensor seed below for 0 in Python).
        tf.random.set_seed(_GRAPH_SEED)
        epoch_seed = (tf.constant(seed, tf.int64) * _EPOCH_MULTIPLIER + epoch.read_value()) % (2**31 - 1)
        return examples.shuffle(size, seed=epoch_seed, reshuffle_each_iteration=False)

    ordered = tf.data.Dataset.from_tensors(0).flat_map(one_epoch)
    return ordered.apply(tf.data.experimental.assert_cardinality(size))


class EpochVariable(keras.callbacks.Callback):
    """Holds the epoch of `fit` in a CPU variable and sets it as Keras begins each epoch
    (before that epoch's iterator starts), also the first epoch of a resumed fit."""

    def __init__(self, initial_epoch=0):
        super().__init__()
        with tf.device("/CPU:0"):  # tf.data runs on the CPU
            self.variable = tf.Variable(initial_epoch, dtype=tf.int64, trainable=False, name="fit_epoch")

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)
