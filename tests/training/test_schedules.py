"""WarmupLinearDecay: the "linear" (HF/keras-hub) and "google" shapes, late-set steps, serialization."""

import json

import keras
import pytest
import tensorflow as tf

from keras_bert_suite.training.schedules import WarmupLinearDecay


def google_learning_rate(step, peak, num_train_steps, num_warmup_steps):
    """A direct transcription of google-research/bert optimization.py (polynomial decay with
    power 1 and end 0, overridden by linear warmup while step < num_warmup_steps)."""
    decayed = peak * (1.0 - min(step, num_train_steps) / num_train_steps)
    if num_warmup_steps and step < num_warmup_steps:
        return peak * (step / num_warmup_steps)
    return decayed


def hf_learning_rate(step, peak, num_train_steps, num_warmup_steps):
    """A direct transcription of HF transformers' get_linear_schedule_with_warmup."""
    if step < num_warmup_steps:
        return peak * step / max(1, num_warmup_steps)
    return peak * max(0.0, (num_train_steps - step) / max(1, num_train_steps - num_warmup_steps))


def lr(schedule, step):
    """The rate as a Python float. It is computed in float32 like the original, where
    1 - step/N loses ~1e-6 relative precision near the last step: tests use rel=1e-5."""
    return float(schedule(step))


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, 0.0),  # first update: warmup starts from 0, as in the original
        (5, 5e-5),  # warmup midpoint
        (9, 9e-5),  # last warmup step
        (10, 9e-5),  # warmup end: decay formula takes over, peak * (1 - 10/100)
        (55, 4.5e-5),  # mid-decay
        (99, 1e-6),  # last training step
        (100, 0.0),  # num_train_steps: exactly zero
        (150, 0.0),  # beyond: stays zero
    ],
)
def test_google_values_at_chosen_steps(step, expected):
    schedule = WarmupLinearDecay(1e-4, num_train_steps=100, warmup_ratio=0.1, schedule="google")
    assert schedule.warmup_steps == 10
    assert lr(schedule, step) == pytest.approx(expected, rel=1e-5, abs=1e-12)


@pytest.mark.parametrize(
    "num_train_steps, warmup_steps, warmup_ratio, expected_warmup",
    [(37, None, 0.1, 3), (29, None, 0.1, 2), (20, 0, 0.1, 0), (12, 12, 0.1, 12), (50, None, 0.0, 0)],
)
def test_matches_google_formula_at_every_step(
    num_train_steps, warmup_steps, warmup_ratio, expected_warmup
):
    schedule = WarmupLinearDecay(
        3e-5, num_train_steps=num_train_steps, warmup_steps=warmup_steps, warmup_ratio=warmup_ratio,
        schedule="google",
    )
    # Google computes num_warmup_steps = int(num_train_steps * warmup_proportion): 2.9 -> 2.
    assert schedule.warmup_steps == expected_warmup
    for step in range(num_train_steps + 5):
        expected = google_learning_rate(step, 3e-5, num_train_steps, expected_warmup)
        assert lr(schedule, step) == pytest.approx(expected, rel=1e-5, abs=1e-12), step


@pytest.mark.parametrize(
    "step, expected",
    [(0, 0.0), (5, 5e-5), (10, 1e-4), (55, 5e-5), (99, 1e-4 / 90), (100, 0.0), (150, 0.0)],
)
def test_linear_is_the_default_and_decays_from_the_peak(step, expected):
    schedule = WarmupLinearDecay(1e-4, num_train_steps=100, warmup_ratio=0.1)
    assert schedule.schedule == "linear"
    assert lr(schedule, step) == pytest.approx(expected, rel=1e-5, abs=1e-12)


@pytest.mark.parametrize("num_train_steps, warmup_steps", [(37, 3), (29, 2), (20, 0), (12, 12), (1, 0)])
def test_linear_matches_hf_formula_at_every_step(num_train_steps, warmup_steps):
    schedule = WarmupLinearDecay(3e-5, num_train_steps=num_train_steps, warmup_steps=warmup_steps)
    for step in range(num_train_steps + 5):
        expected = hf_learning_rate(step, 3e-5, num_train_steps, warmup_steps)
        assert lr(schedule, step) == pytest.approx(expected, rel=1e-5, abs=1e-12), step


def test_unknown_schedule_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="`schedule` must be one of 'linear', 'google', found 'cosine'"):
        WarmupLinearDecay(1e-4, schedule="cosine")


def test_accepts_the_optimizers_int64_iterations():
    schedule = WarmupLinearDecay(1e-4, num_train_steps=100)
    assert float(schedule(keras.ops.convert_to_tensor(55, dtype="int64"))) == pytest.approx(5e-5)


def test_steps_set_later_change_the_same_schedule_object():
    schedule = WarmupLinearDecay(1e-4, warmup_ratio=0.1, schedule="google")
    assert not schedule.is_resolved()
    assert schedule.num_train_steps is None and schedule.warmup_steps is None
    with pytest.raises(ValueError, match="num_train_steps` is not known yet.*set_num_train_steps"):
        schedule(0)

    schedule.set_num_train_steps(100)
    assert schedule.is_resolved()
    assert lr(schedule, 55) == pytest.approx(4.5e-5)

    schedule.set_num_train_steps(200)  # warmup re-derived from the ratio: 20 steps
    assert (schedule.num_train_steps, schedule.warmup_steps) == (200, 20)
    assert lr(schedule, 10) == pytest.approx(5e-5)
    assert lr(schedule, 55) == pytest.approx(1e-4 * (1 - 55 / 200))


def test_explicit_warmup_steps_survive_set_num_train_steps():
    schedule = WarmupLinearDecay(1e-4, num_train_steps=100, warmup_steps=7)
    schedule.set_num_train_steps(300)
    assert schedule.warmup_steps == 7
    assert lr(schedule, 6) == pytest.approx(1e-4 * 6 / 7)


def test_compiled_function_sees_new_steps_without_retracing():
    schedule = WarmupLinearDecay(1e-4, num_train_steps=100, schedule="google")
    learning_rate_at = tf.function(lambda step: schedule(step))

    assert float(learning_rate_at(tf.constant(50, tf.int64))) == pytest.approx(5e-5)
    schedule.set_num_train_steps(200)
    assert float(learning_rate_at(tf.constant(50, tf.int64))) == pytest.approx(7.5e-5)
    assert float(learning_rate_at(tf.constant(10, tf.int64))) == pytest.approx(5e-5)  # warmup 20
    assert learning_rate_at.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("num_train_steps", [None, 100])
def test_config_round_trip(num_train_steps):
    schedule = WarmupLinearDecay(
        2e-5, num_train_steps=num_train_steps, warmup_steps=None, warmup_ratio=0.25, schedule="google"
    )
    config = schedule.get_config()
    assert config == {
        "peak_learning_rate": 2e-5,
        "num_train_steps": num_train_steps,
        "warmup_steps": None,
        "warmup_ratio": 0.25,
        "schedule": "google",
    }
    assert WarmupLinearDecay.from_config(config).get_config() == config

    serialized = json.loads(json.dumps(keras.optimizers.schedules.serialize(schedule)))
    assert serialized["registered_name"] == "keras_bert_suite>WarmupLinearDecay"
    restored = keras.optimizers.schedules.deserialize(serialized)
    assert isinstance(restored, WarmupLinearDecay)
    assert restored.get_config() == config
    assert restored.is_resolved() == (num_train_steps is not None)


def test_config_keeps_explicit_warmup_and_steps_set_later():
    schedule = WarmupLinearDecay(1e-4, warmup_steps=4)
    schedule.set_num_train_steps(40)
    restored = WarmupLinearDecay.from_config(schedule.get_config())
    assert (restored.num_train_steps, restored.warmup_steps) == (40, 4)
    assert lr(restored, 2) == pytest.approx(5e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"peak_learning_rate": -1e-4}, "peak_learning_rate` must be a finite number > 0"),
        ({"peak_learning_rate": 0.0}, "peak_learning_rate` must be a finite number > 0"),
        ({"peak_learning_rate": float("nan")}, "peak_learning_rate` must be a finite number > 0"),
        ({"peak_learning_rate": 1e-4, "warmup_ratio": 1.5}, r"warmup_ratio` must be a number in \[0, 1\]"),
        ({"peak_learning_rate": 1e-4, "warmup_ratio": -0.1}, r"warmup_ratio` must be a number in \[0, 1\]"),
        ({"peak_learning_rate": 1e-4, "num_train_steps": 0}, "num_train_steps` must be an integer > 0"),
        ({"peak_learning_rate": 1e-4, "num_train_steps": -5}, "num_train_steps` must be an integer > 0"),
        ({"peak_learning_rate": 1e-4, "num_train_steps": 10.5}, "num_train_steps` must be an integer > 0"),
        ({"peak_learning_rate": 1e-4, "warmup_steps": -1}, "warmup_steps` must be None or an integer >= 0"),
        (
            {"peak_learning_rate": 1e-4, "num_train_steps": 10, "warmup_steps": 11},
            r"warmup_steps` \(11\) is larger than `num_train_steps` \(10\)",
        ),
    ],
)
def test_invalid_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WarmupLinearDecay(**kwargs)


@pytest.mark.parametrize("bad", [0, -3, True, 2.0])
def test_set_num_train_steps_rejects_non_positive_or_non_integer(bad):
    schedule = WarmupLinearDecay(1e-4, num_train_steps=10)
    with pytest.raises(ValueError, match="num_train_steps` must be an integer > 0"):
        schedule.set_num_train_steps(bad)
    assert schedule.num_train_steps == 10  # unchanged after the failed call
