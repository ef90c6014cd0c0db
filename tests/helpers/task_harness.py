"""One set of checks for every task model, in the spirit of keras-hub's `run_task_test`.

A test file describes its task once as a `TaskCase` (how to build the model, a batch
of raw inputs and labels, the shape of the outputs, the task's own bad inputs) and
calls `run_task_test(case, tmp_path)`, which runs these checks on ONE model (so the
traced predict/train functions are shared), and `run_preset_test`:

- `run_predict_paths_test`: raw inputs, a `tf.data.Dataset` of them, packed inputs (also
  with `preprocessor=None`) and inputs streamed rather than preprocessed up front give the
  same outputs; one example predicts (and evaluates) as a batch of one.
- `run_sequence_length_test`: a new `preprocessor.sequence_length` applies to the next predict.
- `run_bad_input_test`: the task's bad inputs, raw text without a preprocessor and empty
  inputs raise errors naming the problem.
- `run_compile_false_test`: `compile=False`, then `fit`/`evaluate` fail saying why.
- `run_fit_test`: fit on raw and on `tf.data` inputs; evaluate agrees on raw and packed
  inputs; then `run_round_trip_test`: the trained model reloads from `.keras` with its
  config, predictions and optimizer state.
- `run_preset_test`: `from_preset` on a saved backbone preset (its own model).

Each `run_*_test` also runs alone, on `model` or on a new `case.build()`.

Outputs are compared exactly unless a check says otherwise. A preprocessor that draws
random masks (masked LM, pretraining) needs a `seed`: its masks are keyed on (seed, epoch,
step), so every path sees the same masks. Such a case must fit its inputs in one batch
(`batch_size` >= the number of examples): another step draws other masks.

Adding a task, e.g. question answering: `x = (questions, contexts)`, `y = (answer_starts,
answer_texts)`, `output_shape` returning `{"start_logits": (windows, length), "end_logits":
(windows, length)}` (it gets the model and `x`, so it can count windows at each length),
and `pack` if calling the preprocessor is not how packed inputs are made. A task whose
`materialize_limit` is None (always preprocessed up front) skips the streaming check.
"""

import contextlib
import dataclasses
import math
import warnings
from typing import Any, Callable, NamedTuple
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.models import task as task_module
from keras_bert_suite.preprocessing import BertMaskedLMPreprocessor
from tests.helpers.tasks import keras_round_trip, minilm_tokenizer, tiny_backbone


class Single(NamedTuple):
    """One example (`x`) and the same example as a batch of one (`x_batch`), with labels."""

    x: Any
    x_batch: Any
    y: Any = None
    y_batch: Any = None


class BadInput(NamedTuple):
    """`call(model)` raises `error` with a message matching the regex `match`."""

    call: Callable
    error: type
    match: str


@dataclasses.dataclass(frozen=True)
class TaskCase:
    """What the harness needs to know about one task.

    Args:
        task: the task class, e.g. `BertClassifier`.
        build: `build(compile=True)` -> a task model with its preprocessor.
        x: a batch of raw inputs; `y` its labels (None for a task that makes its own).
        output_shape: `(model, x)` -> the shape `predict` returns on raw inputs `x` (a dict
            of shapes for dict outputs); `num_examples(x)` counts them.
        long_x: raw inputs longer than `min(sequence_lengths)` tokens (default `x`).
        sequence_lengths: the lengths `run_sequence_length_test` predicts at.
        min_change: outputs at the longest and the shortest of them differ by more than
            this (where their shapes agree); a tiny random head may need 0.
        singles: `Single`s, each one example given alone and as a batch of one.
        bad_inputs: the task's own `BadInput`s.
        preset_kwargs: arguments `from_preset` needs (e.g. `num_classes=2`).
        batch_size: the batch size of every path (but fit's).
        fit_epochs: epochs of `run_fit_test`'s fits on raw inputs and on a tf.data.Dataset;
            over more than one, the loss must fall.
        fit_batch_size: the batch size of those fits (default `batch_size`).
        dataset: `(x, y=None)` -> an unbatched `tf.data.Dataset` of raw examples
            (default `from_tensor_slices((x,))` / `((x, y))`).
        pack: `(preprocessor, x, y=None)` -> packed `(x, y, sample_weight)` (default:
            calling the preprocessor).
    """

    task: type
    build: Callable
    x: Any
    output_shape: Callable
    y: Any = None
    long_x: Any = None
    sequence_lengths: tuple = (16, 6)
    min_change: float = 0.0
    singles: tuple = ()
    bad_inputs: tuple = ()
    preset_kwargs: dict = dataclasses.field(default_factory=dict)
    batch_size: int = 4
    fit_epochs: tuple = (1, 1)
    fit_batch_size: int = None
    dataset: Callable = None
    pack: Callable = None


# === Helpers ===
def num_examples(x):
    """The number of examples in a raw batch (a list, an array or a tuple of them)."""
    return len(x[0]) if isinstance(x, tuple) else len(x)


def _numpy(outputs):
    return {k: np.asarray(v) for k, v in outputs.items()} if isinstance(outputs, dict) else np.asarray(outputs)


def _shapes(outputs):
    return {k: tuple(v.shape) for k, v in outputs.items()} if isinstance(outputs, dict) else tuple(outputs.shape)


def assert_same_outputs(expected, found, atol=0.0):
    """Same structure and values: exactly equal, or within `atol` (rtol 1e-7)."""
    assert _shapes(expected) == _shapes(found)
    if atol:
        keras.tree.map_structure(lambda a, b: np.testing.assert_allclose(b, a, atol=atol), expected, found)
    else:
        keras.tree.map_structure(np.testing.assert_array_equal, expected, found)


def predict(model, x, batch_size=None):
    """`model.predict` as NumPy; `batch_size` is dropped for a dataset."""
    batch_size = None if isinstance(x, tf.data.Dataset) else batch_size
    return _numpy(model.predict(x, batch_size=batch_size, verbose=0))


def raw_dataset(case, x, y=None):
    """An unbatched `tf.data.Dataset` of raw examples (and labels)."""
    if case.dataset is not None:
        return case.dataset(x, y)
    return tf.data.Dataset.from_tensor_slices((x,) if y is None else (x, y))


def packed(case, preprocessor, x, y=None):
    """`(x, y, sample_weight)` as `preprocessor` packs them, as NumPy."""
    if case.pack is not None:
        return case.pack(preprocessor, x, y)
    out = preprocessor(x) if y is None else preprocessor(x, y)
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(out)
    return tuple(None if part is None else keras.tree.map_structure(np.asarray, part) for part in (x, y, sample_weight))


@contextlib.contextmanager
def preprocessor_set_to(model, preprocessor):
    """A context in which `model.preprocessor` is `preprocessor` (None: packed inputs only).

    The same model, so its traced predict/train functions serve (a copy would trace anew)."""
    original = model.preprocessor
    model.preprocessor = preprocessor
    try:
        yield model
    finally:
        model.preprocessor = original


def preprocessor_at(preprocessor, sequence_length):
    """A new preprocessor like `preprocessor`, at another sequence length."""
    return type(preprocessor).from_config(dict(preprocessor.get_config(), sequence_length=sequence_length))


def _assert_float32_of_shape(case, model, outputs, x):
    assert _shapes(outputs) == case.output_shape(model, x)
    for leaf in keras.tree.flatten(outputs):
        assert leaf.dtype == np.float32


def _preprocesses_up_front(model, x, batch_size):
    """True when `predict` preprocesses `x` once, up front (not in a tf.data map), and a
    smaller limit would stream it (a task with `materialize_limit = None` never streams)."""
    if getattr(type(model), "materialize_limit", 0) is None:
        return False
    with mock.patch.object(task_module, "_preprocessed_now", wraps=task_module._preprocessed_now) as up_front:
        model.make_dataset(x, batch_size=batch_size, materialize=True)
    return up_front.called


def _streaming(model):
    """A context in which in-memory inputs of more than one example stream through tf.data."""
    if hasattr(type(model), "materialize_limit"):
        return mock.patch.object(type(model), "materialize_limit", 1)
    return mock.patch.object(task_module, "MATERIALIZE_LIMIT", 1)


def _random_masks(model):
    if isinstance(model.preprocessor, BertMaskedLMPreprocessor):
        assert model.preprocessor.seed is not None, "a random preprocessor needs a seed in a TaskCase"
        return True
    return False


# === Checks ===
def run_predict_paths_test(case, model=None):
    """Raw inputs, a tf.data.Dataset of them, packed inputs (in memory, as a dataset, and
    with `preprocessor=None`), and inputs too many to preprocess up front all
    predict the same float32 outputs of `case.output_shape`; another batch size changes
    only float rounding (atol 1e-6; skipped for random masks); each of `case.singles`
    predicts (and evaluates) as its batch of one."""
    model = model or case.build()
    batch = case.batch_size
    expected = predict(model, case.x, batch)
    _assert_float32_of_shape(case, model, expected, case.x)
    assert_same_outputs(expected, predict(model, raw_dataset(case, case.x).batch(batch)))
    x, _, _ = packed(case, model.preprocessor, case.x)
    assert_same_outputs(expected, predict(model, x, batch))
    assert_same_outputs(expected, predict(model, tf.data.Dataset.from_tensor_slices(x).batch(batch)))
    with preprocessor_set_to(model, None):
        assert_same_outputs(expected, predict(model, x, batch))
    if _preprocesses_up_front(model, case.x, batch):  # then also streamed through tf.data
        with _streaming(model), mock.patch.object(task_module, "_preprocessed_now") as up_front:
            up_front.side_effect = AssertionError("preprocessed up front despite the limit")
            assert_same_outputs(expected, predict(model, case.x, batch))
    if not _random_masks(model):
        assert_same_outputs(expected, predict(model, case.x, batch // 2 or 1), atol=1e-6)
    for single in case.singles:
        assert_same_outputs(predict(model, single.x_batch), predict(model, single.x))
        if single.y is not None:
            alone = model.evaluate(single.x, single.y, verbose=0)
            assert alone == model.evaluate(single.x_batch, single.y_batch, verbose=0)


def run_sequence_length_test(case, model=None):
    """At each of `case.sequence_lengths`, setting `preprocessor.sequence_length` applies to
    the next predict: outputs of that length's shape, equal to the model's on inputs packed
    by a preprocessor built with that length; and outputs at the shortest differ (by more
    than `case.min_change`) from those at the longest where the shapes agree. The model's
    own sequence length is restored at the end."""
    model = model or case.build()
    x = case.x if case.long_x is None else case.long_x
    longest, shortest = max(case.sequence_lengths), min(case.sequence_lengths)
    found, original = {}, model.preprocessor.sequence_length
    for length in case.sequence_lengths:
        model.preprocessor.sequence_length = length
        found[length] = predict(model, x, case.batch_size)
        _assert_float32_of_shape(case, model, found[length], x)
        inputs = packed(case, preprocessor_at(model.preprocessor, length), x)[0]
        assert inputs["token_ids"].shape[-1] == length
        assert_same_outputs(found[length], predict(model, inputs, case.batch_size))
        if length == longest:
            assert inputs["padding_mask"].sum(-1).max() > shortest, "long_x must not fit the shortest length"
    model.preprocessor.sequence_length = original
    for at_longest, at_shortest in zip(keras.tree.flatten(found[longest]), keras.tree.flatten(found[shortest])):
        if at_longest.shape == at_shortest.shape:
            assert np.abs(at_longest - at_shortest).max() > case.min_change


def run_fit_test(case, tmp_path, model=None):
    """fit on raw inputs, then on a tf.data.Dataset of them (`case.fit_epochs` epochs each,
    batches of `case.fit_batch_size`): finite losses that fall over a fit of more than one
    epoch, and the step count they add up to; evaluate on raw and on packed inputs agrees;
    then `run_round_trip_test` on the trained model. Returns the reload."""
    model = model or case.build()
    batch = case.fit_batch_size or case.batch_size
    steps = math.ceil(num_examples(case.x) / batch)
    dataset = raw_dataset(case, case.x, case.y).batch(batch)
    raw_epochs, dataset_epochs = case.fit_epochs
    fits = (
        (raw_epochs, lambda: model.fit(case.x, case.y, batch_size=batch, epochs=raw_epochs, verbose=0)),
        (dataset_epochs, lambda: model.fit(dataset, epochs=dataset_epochs, verbose=0)),
    )
    for epochs, fit in fits:
        losses = fit().history["loss"]
        assert len(losses) == epochs and np.isfinite(losses).all()
        assert epochs == 1 or losses[-1] < losses[0], losses
    assert int(model.optimizer.iterations) == sum(epochs for epochs, _ in fits) * steps
    batch = case.batch_size
    x, y, sample_weight = packed(case, model.preprocessor, case.x, case.y)
    packed_result = model.evaluate(x, y, sample_weight=sample_weight, batch_size=batch, verbose=0)
    assert model.evaluate(case.x, case.y, batch_size=batch, verbose=0) == packed_result
    return run_round_trip_test(case, tmp_path, model)


def run_round_trip_test(case, tmp_path, model=None):
    """A .keras round trip (no custom_objects) gives the same class, model and preprocessor
    config (a random preprocessor's seed, so the same masks), and the same predictions on
    raw and on packed inputs; a trained model comes back compiled with its optimizer state
    (step count, learning rate, variables). Returns the reload."""
    model = model or case.build()
    restored = keras_round_trip(model, tmp_path)
    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()
    assert restored.preprocessor.get_config() == model.preprocessor.get_config()
    if _random_masks(model):  # so a fresh reload draws the masks a fresh model would
        assert restored.preprocessor.seed == model.preprocessor.seed
    if model.optimizer is not None and model.optimizer.built:
        assert restored.compiled and int(restored.optimizer.iterations) == int(model.optimizer.iterations)
        assert float(restored.optimizer.learning_rate) == float(model.optimizer.learning_rate)
        assert len(restored.optimizer.variables) == len(model.optimizer.variables)
        for saved, loaded in zip(model.optimizer.variables, restored.optimizer.variables):
            np.testing.assert_array_equal(np.asarray(saved), np.asarray(loaded))
    batch = case.batch_size
    assert_same_outputs(predict(model, case.x, batch), predict(restored, case.x, batch))
    x, _, _ = packed(case, model.preprocessor, case.x)
    assert_same_outputs(predict(model, x, batch), predict(restored, x, batch))
    return restored


def run_compile_false_test(case):
    """A model built with compile=False is not compiled, and fit (on raw inputs and on a
    tf.data.Dataset) and evaluate raise a RuntimeError saying it was built so."""
    model = case.build(compile=False)
    assert not model.compiled
    name = case.task.__name__
    calls = (
        ("fit", lambda: model.fit(case.x, case.y, verbose=0)),
        ("fit", lambda: model.fit(raw_dataset(case, case.x, case.y).batch(case.batch_size), verbose=0)),
        ("evaluate", lambda: model.evaluate(case.x, case.y, verbose=0)),
    )
    for method, call in calls:
        with pytest.raises(RuntimeError, match=rf"{name}\.{method}\(\) needs a compiled model: it was built "
                                               r"with compile=False\. Call model\.compile\(\)"):
            call()


def run_bad_input_test(case, model=None):
    """Each of `case.bad_inputs` raises its error; raw inputs with preprocessor=None and
    empty inputs raise ValueErrors naming the problem."""
    model = model or case.build()
    for bad in case.bad_inputs:
        with pytest.raises(bad.error, match=bad.match):
            bad.call(model)
    with preprocessor_set_to(model, None), pytest.raises(ValueError, match="preprocessor=None.*not raw strings"):
        model.predict(case.x)
    for empty in ([], (), ([], []), np.array([], dtype=str)):
        with pytest.raises(ValueError, match=r"Got no examples: x is empty \("):
            model.predict(empty)


def run_preset_test(case, tmp_path, sequence_length=16):
    """`from_preset` on a saved tiny backbone preset (Keras format), with and without
    load_weights: the task's class with `case.preset_kwargs` in its config and its
    preprocessor class at `sequence_length`; loaded, the saved backbone weights, and a
    warning that the head starts untrained where a checkpoint could hold one (the Keras
    format holds the backbone only); not loaded, no warning."""
    backbone = tiny_backbone(seed=1)
    folder = tmp_path / "tiny_preset"
    backbone.save_to_preset(folder, tokenizer=minilm_tokenizer())
    for load_weights in (True, False):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = case.task.from_preset(str(folder), load_weights=load_weights,
                                          sequence_length=sequence_length, **case.preset_kwargs)
        untrained = [w for w in caught if f"the {case.task.__name__} head starts untrained" in str(w.message)]
        assert len(untrained) == (1 if load_weights and model.head_checkpoint_variables() else 0)
        assert type(model) is case.task and type(model.preprocessor) is case.task.preprocessor_class
        assert model.preprocessor.sequence_length == sequence_length
        assert case.preset_kwargs.items() <= model.get_config().items()
        if load_weights:
            for saved, loaded in zip(backbone.get_weights(), model.backbone.get_weights(), strict=True):
                np.testing.assert_array_equal(saved, loaded)


def run_task_test(case, tmp_path, model=None):
    """Every check but `run_preset_test` on one model (`model` or `case.build()`):
    predict paths, sequence lengths, bad inputs, then compile=False (its own model),
    then fit and the trained round trip. Returns `(trained model, its reload)`."""
    model = model or case.build()
    run_predict_paths_test(case, model)
    run_sequence_length_test(case, model)
    run_bad_input_test(case, model)
    run_compile_false_test(case)
    return model, run_fit_test(case, tmp_path, model)
