"""BERT's optimizer: AdamW with weight decay 0.01 kept off LayerNorm and bias variables.

`bert_optimizer()` builds what google-research/bert `optimization.py` trains with: Adam with
decoupled weight decay (0.01), beta 0.9/0.999, gradients clipped to a global norm of 1.0, and
the `WarmupLinearDecay` schedule (10% warmup, then linear decay to 0) — with two defaults
changed because fine-tuning measured better without the original's (the README's quality
table): the decay starts from the peak at the end of warmup (`schedule="linear"`; the
original's line from step 0 is `schedule="google"`), and Adam's epsilon is 1e-8 (PyTorch's;
the original's 1e-6 is the size of many clipped fine-tuning gradients, ~1e-6 to 1e-5, and
damps their steps). `bert_optimizer(epsilon=1e-6, schedule="google")` is the original.

Google decays every variable whose name does not contain "LayerNorm", "layer_norm" or "bias".
Keras matches `exclude_from_weight_decay(var_names=...)` against `variable.name`, which in
Keras 3 is the short name ("kernel", "bias", "gamma", "beta", "embeddings", "output_bias"),
not the path. So `BertAdamW` excludes names containing "gamma", "beta" (every
`LayerNormalization`) or "bias" (Dense biases, the masked-LM `output_bias`); kernels and
embedding tables are decayed, as in the original. Unlike a plain `AdamW`, it stores these
exclusions in its config, so a reloaded `.keras` model keeps training the same way.

The Adam step is PyTorch's `AdamW` (and HF's), not Keras' formula: Keras adds epsilon to the
square root of the *uncorrected* second moment, which acts as `epsilon / sqrt(1 - 0.999^t)`
(30x epsilon at the first step, 2x after 300) and damps small gradients; `BertAdamW` adds it
to the bias-corrected one. Google's `AdamWeightDecayOptimizer` used no bias correction at all.

Two more differences from a plain Keras optimizer. With `gradient_accumulation_steps=N`,
Keras updates once per N batches but calls the schedule with its batch counter; `BertAdamW`
calls it with the update count (`iterations`), so N batches of 8 train as batches of 8 N,
schedule and all. Under a multi-replica `tf.distribute` strategy Keras clips each replica's
share of the gradient before summing them; `BertAdamW` sums first (`sum_over_replicas`), so
the global norm is that of the whole batch's gradient, as on one device. It also adds up the
repeated rows of an embedding's sparse gradient before the norm, which Keras (and TF's
`clip_by_global_norm`, as the original used it off TPU) squares one repeat at a time.

Example:
    >>> optimizer = bert_optimizer(learning_rate=2e-5)       # steps not known yet
    >>> needs_num_train_steps(optimizer)
    True
    >>> set_num_train_steps(optimizer, 3 * 115)              # epochs x steps per epoch
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
"""

import math
import numbers
import re

import keras
import tensorflow as tf
from keras import ops

from keras_bert_suite.training.distribute import sum_over_replicas
from keras_bert_suite.training.schedules import WarmupLinearDecay

# Substrings of `variable.name` that are never decayed: LayerNorm scale/offset and biases.
BERT_WEIGHT_DECAY_EXCLUSIONS = ("gamma", "beta", "bias")


def _check_exclusions(names):
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(
            f"BertAdamW: `weight_decay_exclusions` must be a list of non-empty strings "
            f"(substrings of variable names such as 'bias'), found {names!r}."
        )
    return tuple(names)


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertAdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` that skips weight decay for some variables, kept in its config.

    Args:
        weight_decay_exclusions: substrings of `variable.name`; a variable whose short name
            contains any of them is not decayed. Defaults to LayerNorm ("gamma", "beta")
            and bias variables.
        **kwargs: every `keras.optimizers.AdamW` argument.

    Example:
        >>> optimizer = BertAdamW(learning_rate=1e-4, weight_decay=0.01)
        >>> optimizer.get_config()["weight_decay_exclusions"]
        ['gamma', 'beta', 'bias']
    """

    def __init__(self, weight_decay_exclusions=BERT_WEIGHT_DECAY_EXCLUSIONS, **kwargs):
        if kwargs.get("amsgrad"):
            raise ValueError("BertAdamW: amsgrad is not supported; use keras.optimizers.AdamW(amsgrad=True).")
        super().__init__(**kwargs)
        self.weight_decay_exclusions = _check_exclusions(weight_decay_exclusions)
        # Keras joins `var_names` into one regular expression; escape so they match literally.
        self.exclude_from_weight_decay(
            var_names=[re.escape(name) for name in self.weight_decay_exclusions]
        )

    def apply(self, grads, trainable_variables=None):
        """Keras' `apply` on the gradients summed over the replicas, each embedding row once:
        clipping and accumulation then see the whole global batch's gradient."""
        grads = [_with_rows_once(gradient) for gradient in sum_over_replicas(grads)]
        return super().apply(grads, trainable_variables)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        # Keras' sum over replicas, after clipping; `apply` summed them before.
        return list(grads_and_vars)

    def _get_current_learning_rate(self):
        # Keras calls a schedule with its batch counter, BERT's counts updates; they differ
        # with gradient accumulation.
        if isinstance(self._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            return self._learning_rate(self.iterations)
        return super()._get_current_learning_rate()

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # The step size and bias correction are the same for every variable: computed once
        # per update, not once per variable (the traced train step is ~1,000 ops smaller),
        # and handed to `update_step` where Keras passes the learning rate, so each replica
        # gets its own.
        step = ops.cast(self.iterations + 1, "float32")
        step_size = ops.divide(ops.cast(learning_rate, "float32"), 1 - ops.power(self.beta_1, step))
        bias_correction2_sqrt = ops.sqrt(1 - ops.power(self.beta_2, step))
        super()._backend_update_step(grads, trainable_variables, (step_size, bias_correction2_sqrt))

    def update_step(self, gradient, variable, learning_rate):
        """One Adam step as PyTorch takes it: `variable -= step_size * m / (sqrt(v) /
        sqrt(1 - beta_2^t) + epsilon)`; `learning_rate` is `(step_size, sqrt(1 - beta_2^t))`
        with `step_size = lr / (1 - beta_1^t)`, from `_backend_update_step`."""
        step_size, bias_correction2_sqrt = (ops.cast(value, variable.dtype) for value in learning_rate)
        gradient = ops.cast(gradient, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        denominator = ops.add(ops.divide(ops.sqrt(v), bias_correction2_sqrt), self.epsilon)
        self.assign_sub(variable, ops.multiply(ops.divide(m, denominator), step_size))

    def get_config(self):
        config = super().get_config()
        config["weight_decay_exclusions"] = list(self.weight_decay_exclusions)
        return config


def _with_rows_once(gradient):
    """An embedding's sparse gradient with each row once, its repeats added up. Keras' global
    norm squares the rows as they come, so a token seen k times in a batch (`[CLS]` in every
    sequence) counted k squares instead of the square of their sum."""
    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    rows, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


def _check_range(name, value, low, high, low_inclusive, high_inclusive, hint):
    in_range = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= low if low_inclusive else value > low)
        and (value <= high if high_inclusive else value < high)
    )
    if not in_range:
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        raise ValueError(
            f"bert_optimizer: `{name}` must be a number in {interval}, found {value!r}. {hint}"
        )


def bert_optimizer(
    learning_rate=2e-5,
    num_train_steps=None,
    warmup_ratio=0.1,
    weight_decay=0.01,
    epsilon=1e-8,
    clipnorm=1.0,
    beta_1=0.9,
    beta_2=0.999,
    schedule="linear",
    gradient_accumulation_steps=None,
    **kwargs,
):
    """Returns Google BERT's fine-tuning/pre-training optimizer as a `BertAdamW`.

    Args:
        learning_rate: peak learning rate, reached at the end of warmup.
        num_train_steps: total optimizer steps (epochs x steps per epoch). None leaves it
            to `set_num_train_steps(optimizer, n)`, which the task models call when `fit`
            starts.
        warmup_ratio: fraction of `num_train_steps` spent warming up linearly from 0.
        weight_decay: decoupled weight decay rate (not applied to LayerNorm and biases).
        epsilon: Adam epsilon (1e-8 as PyTorch; Google used 1e-6, see above).
        clipnorm: gradients are clipped so their global norm is at most this; None disables.
        beta_1, beta_2: Adam moment decay rates.
        schedule: the decay after warmup: "linear" (from the peak, the default) or
            "google" (the original's line from step 0); see `WarmupLinearDecay`.
        gradient_accumulation_steps: N > 1 averages the gradients of N batches into one
            update, clipped as one gradient: batches of b train as batches of N x b with 1/N
            of the memory. `num_train_steps` and the schedule count updates. None or 1: off.
        **kwargs: passed to `keras.optimizers.AdamW`.

    Example:
        >>> optimizer = bert_optimizer(2e-5, gradient_accumulation_steps=4)  # fit(batch_size=8): 32 per update
    """
    _check_range("learning_rate", learning_rate, 0.0, math.inf, False, False,
                 "BERT fine-tuning uses 2e-5 to 5e-5; pre-training 1e-4.")
    _check_range("weight_decay", weight_decay, 0.0, math.inf, True, False,
                 "Google uses 0.01; pass 0.0 to disable weight decay.")
    _check_range("epsilon", epsilon, 0.0, math.inf, False, False, "The default is 1e-8; Google used 1e-6.")
    _check_range("beta_1", beta_1, 0.0, 1.0, True, False, "Google uses 0.9.")
    _check_range("beta_2", beta_2, 0.0, 1.0, True, False, "Google uses 0.999.")
    if clipnorm is not None:
        _check_range("clipnorm", clipnorm, 0.0, math.inf, False, False,
                     "Google clips to a global norm of 1.0; pass None to disable clipping.")
    steps = gradient_accumulation_steps
    if steps is not None and not (isinstance(steps, numbers.Integral) and not isinstance(steps, bool) and steps >= 1):
        raise ValueError(f"bert_optimizer: `gradient_accumulation_steps` must be None or an integer >= 1 "
                         f"(batches per update), found {gradient_accumulation_steps!r}.")
    schedule = WarmupLinearDecay(
        learning_rate, num_train_steps=num_train_steps, warmup_ratio=warmup_ratio, schedule=schedule
    )
    return BertAdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
        global_clipnorm=clipnorm,
        gradient_accumulation_steps=steps if steps != 1 else None,
        **kwargs,
    )


def _unwrapped(optimizer):
    """The optimizer inside wrappers such as `LossScaleOptimizer`."""
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    return optimizer


def _warmup_linear_decay_of(optimizer):
    """The optimizer's `WarmupLinearDecay`, looking through wrappers such as
    `LossScaleOptimizer`; None when it uses another learning rate."""
    # Keras 3 keeps the schedule object only in this attribute; the public
    # `learning_rate` property evaluates it.
    schedule = getattr(_unwrapped(optimizer), "_learning_rate", None)
    return schedule if isinstance(schedule, WarmupLinearDecay) else None


def needs_num_train_steps(optimizer):
    """True when `optimizer` uses a `WarmupLinearDecay` whose `num_train_steps` is unknown."""
    schedule = _warmup_linear_decay_of(optimizer)
    return schedule is not None and not schedule.is_resolved()


def set_num_train_steps(optimizer, num_train_steps):
    """Sets the total training steps of the optimizer's `WarmupLinearDecay` in place.

    Works before or after the train step was compiled (no retracing on TensorFlow).

    Raises:
        ValueError: the optimizer does not use `WarmupLinearDecay`, or `num_train_steps`
            is not an integer > 0.
    """
    schedule = _warmup_linear_decay_of(optimizer)
    if schedule is None:
        raise ValueError(
            f"set_num_train_steps: optimizer {type(optimizer).__name__} does not use a "
            f"WarmupLinearDecay learning rate, so it has no training steps to set. Build it "
            f"with `keras_bert_suite.training.bert_optimizer()` or check "
            f"`needs_num_train_steps(optimizer)` first."
        )
    schedule.set_num_train_steps(num_train_steps)


def updates_after(optimizer, batches):
    """The optimizer's update count once it has trained on `batches` more batches: one
    update per batch, or per `gradient_accumulation_steps` batches.

    Example:
        >>> updates_after(bert_optimizer(gradient_accumulation_steps=4), 3 * 10)   # 3 epochs of 10 batches
        7
    """
    optimizer = _unwrapped(optimizer)
    # `iterations` counts updates; Keras keeps the batches seen (the count it divides) here.
    batches_seen = int(optimizer._iterations.numpy())
    return (batches_seen + batches) // (optimizer.gradient_accumulation_steps or 1)
