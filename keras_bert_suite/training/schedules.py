"""BERT's learning-rate schedule: linear warmup from 0, then linear decay to exactly 0.

Two shapes of the decay, chosen with `schedule=`:

    warm    = peak * (step / W)                                  # linear warmup (both)
    "linear": decayed = peak * (N - min(step, N)) / (N - W)      # from the peak at W to 0 at N
    "google": decayed = peak * (1 - min(step, N) / N)            # one line from step 0 to N
    lr      = warm if step < W else decayed

"google" is google-research/bert `optimization.py` step for step: its decay line starts at
step 0, so after warmup the rate drops to `peak * (1 - W / N)` and the peak is never used.
"linear" (the default) decays from the peak reached at the end of warmup, as HF
transformers' `get_linear_schedule_with_warmup` and keras-hub's recipes do; fine-tuning
measured better with it (see the README's quality table).

`step` is the optimizer's `iterations` before the update it is used for, so the very first
update runs with a learning rate of 0 and the last one (step N - 1) with `peak / N` ("google",
exactly as the original, where `global_step` is read before it is incremented) or
`peak / (N - W)` ("linear"). By default
`W = int(warmup_ratio * N)` (Python truncation, as `run_classifier.py`/`run_squad.py` compute
`num_warmup_steps`); `W = 0` means no warmup.

`N` is often unknown when the model is compiled (it is epochs x steps per epoch). The schedule
therefore keeps `N` and `W` in non-trainable `keras.Variable`s: `set_num_train_steps(n)` assigns
them, and a train step already compiled by TensorFlow reads the new values without being traced
again. (A JAX-compiled step captures the values it was traced with, so there set the steps
before the first `fit`, which is what the task models do.)

Example:
    >>> schedule = WarmupLinearDecay(1e-4, num_train_steps=100)   # 10 warmup steps
    >>> round(float(schedule(5)), 10)     # half-way through warmup
    5e-05
    >>> later = WarmupLinearDecay(2e-5)                          # steps not known yet
    >>> later.is_resolved()
    False
    >>> later.set_num_train_steps(3 * 115)                       # epochs x steps per epoch
    >>> later.warmup_steps
    34
"""

import math
import numbers

import keras
from keras import ops


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_peak_learning_rate(value):
    if not (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    ):
        raise ValueError(
            f"WarmupLinearDecay: `peak_learning_rate` must be a finite number > 0, "
            f"found {value!r}. BERT fine-tuning uses 2e-5 to 5e-5; pre-training 1e-4."
        )
    return float(value)


def _check_num_train_steps(value, argument="num_train_steps"):
    if not _is_integer(value) or value <= 0:
        raise ValueError(
            f"WarmupLinearDecay: `{argument}` must be an integer > 0 (epochs x steps per "
            f"epoch), found {value!r}. Pass e.g. `int(epochs * steps_per_epoch)`."
        )
    return int(value)


def _check_warmup_ratio(value):
    if not (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and 0.0 <= value <= 1.0
    ):
        raise ValueError(
            f"WarmupLinearDecay: `warmup_ratio` must be a number in [0, 1] (the fraction "
            f"of training spent warming up), found {value!r}. Google's default is 0.1."
        )
    return float(value)


SCHEDULES = ("linear", "google")


def _check_schedule(value):
    if value not in SCHEDULES:
        raise ValueError(
            f"WarmupLinearDecay: `schedule` must be one of {', '.join(map(repr, SCHEDULES))}, found "
            f"{value!r}. 'linear' decays from the peak at the end of warmup; 'google' is the original's "
            "decay line from step 0."
        )
    return value


def _check_warmup_steps(value):
    if value is None:
        return None
    if not _is_integer(value) or value < 0:
        raise ValueError(
            f"WarmupLinearDecay: `warmup_steps` must be None or an integer >= 0, found "
            f"{value!r}. Leave it None to use `warmup_ratio` of the training steps."
        )
    return int(value)


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `peak_learning_rate`, then linear decay to 0 at `num_train_steps`.

    Args:
        peak_learning_rate: the learning rate reached at the end of warmup (> 0).
        num_train_steps: total optimizer steps `N`; the rate is 0 from step `N` on. May be
            None and set later with `set_num_train_steps`.
        warmup_steps: explicit warmup length `W` (<= N). None derives it from
            `warmup_ratio` every time `N` is set.
        warmup_ratio: fraction of `N` spent warming up, in [0, 1]; used when
            `warmup_steps` is None.
        schedule: "linear" (decay from the peak at the end of warmup) or "google" (the
            original's decay line from step 0).

    Example:
        >>> schedule = WarmupLinearDecay(1e-4, num_train_steps=100, warmup_steps=10)
        >>> [round(float(schedule(s)), 8) for s in (0, 10, 55, 100)]
        [0.0, 0.0001, 5e-05, 0.0]
        >>> google = WarmupLinearDecay(1e-4, num_train_steps=100, warmup_steps=10, schedule="google")
        >>> [round(float(google(s)), 8) for s in (0, 10, 55, 100)]
        [0.0, 9e-05, 4.5e-05, 0.0]
    """

    def __init__(
        self,
        peak_learning_rate,
        num_train_steps=None,
        warmup_steps=None,
        warmup_ratio=0.1,
        schedule="linear",
    ):
        self.peak_learning_rate = _check_peak_learning_rate(peak_learning_rate)
        self.schedule = _check_schedule(schedule)
        self.warmup_ratio = _check_warmup_ratio(warmup_ratio)
        self._explicit_warmup_steps = _check_warmup_steps(warmup_steps)
        self._num_train_steps = None
        self._warmup_steps = None
        self._num_train_steps_variable = keras.Variable(
            0, dtype="int32", trainable=False, name="num_train_steps"
        )
        self._warmup_steps_variable = keras.Variable(
            0, dtype="int32", trainable=False, name="warmup_steps"
        )
        if num_train_steps is not None:
            self.set_num_train_steps(num_train_steps)

    @property
    def num_train_steps(self):
        """Total optimizer steps `N` (a Python int), or None while unknown."""
        return self._num_train_steps

    @property
    def warmup_steps(self):
        """Warmup length `W` in steps (a Python int), or None while `N` is unknown."""
        return self._warmup_steps

    def is_resolved(self):
        """True once `num_train_steps` is known, i.e. the schedule can be called."""
        return self._num_train_steps is not None

    def set_num_train_steps(self, num_train_steps):
        """Sets `N` (and `W`, when it comes from `warmup_ratio`) in place.

        Assigns the schedule's variables, so train steps that were already compiled keep
        working and use the new values.
        """
        num_train_steps = _check_num_train_steps(num_train_steps)
        if self._explicit_warmup_steps is None:
            warmup_steps = int(self.warmup_ratio * num_train_steps)
        else:
            warmup_steps = self._explicit_warmup_steps
        if warmup_steps > num_train_steps:
            raise ValueError(
                f"WarmupLinearDecay: `warmup_steps` ({warmup_steps}) is larger than "
                f"`num_train_steps` ({num_train_steps}). Use fewer warmup steps, or leave "
                f"`warmup_steps=None` and set `warmup_ratio` instead."
            )
        self._num_train_steps_variable.assign(num_train_steps)
        self._warmup_steps_variable.assign(warmup_steps)
        self._num_train_steps = num_train_steps
        self._warmup_steps = warmup_steps

    def __call__(self, step):
        if not self.is_resolved():
            raise ValueError(
                "WarmupLinearDecay: `num_train_steps` is not known yet, so the learning "
                "rate cannot be computed. Call `schedule.set_num_train_steps(epochs * "
                "steps_per_epoch)` (or `keras_bert_suite.training.set_num_train_steps("
                "optimizer, n)`) before training; the task models do this when `fit` starts."
            )
        step = ops.cast(step, "float32")
        total = ops.cast(self._num_train_steps_variable, "float32")
        warmup = ops.cast(self._warmup_steps_variable, "float32")
        remaining = total - ops.minimum(step, total)
        if self.schedule == "google":
            decayed = self.peak_learning_rate * remaining / total
        else:
            # max(N - W, 1) keeps the division finite when all steps are warmup (W = N).
            decayed = self.peak_learning_rate * remaining / ops.maximum(total - warmup, 1.0)
        # max(W, 1) only keeps the unused branch finite when there is no warmup (W = 0).
        warm = self.peak_learning_rate * (step / ops.maximum(warmup, 1.0))
        return ops.where(step < warmup, warm, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "num_train_steps": self._num_train_steps,
            "warmup_steps": self._explicit_warmup_steps,
            "warmup_ratio": self.warmup_ratio,
            "schedule": self.schedule,
        }
