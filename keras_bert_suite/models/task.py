"""`BertTask`: the shared base of every task model (preprocessor + backbone + head).

It gives each task Keras' `fit` / `evaluate` / `predict` on raw text: inputs are
turned into a `tf.data` pipeline that runs the preprocessor (string ops) outside
the compiled train step. It compiles itself with BERT's recipe (AdamW, warmup then
linear decay to 0, resolved from `epochs x steps` when `fit` starts).

Example:
    >>> model = BertClassifier.from_preset("minilm_l6_h384_uncased", num_classes=2)
    >>> model.fit(["good", "bad"], [1, 0], epochs=3)   # warms up, decays to 0
    >>> model.predict(["great"])                        # logits [1, 2]
"""

import inspect
import math
import random
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_bert_suite.checkpoints.keras import read_head_weights, save_preset
from keras_bert_suite.checkpoints.loading import read_checkpoint_weights
from keras_bert_suite.checkpoints.names import assign_weights
from keras_bert_suite.models.backbone import BertBackbone
from keras_bert_suite.preprocessing.base import is_string_input
from keras_bert_suite.preprocessing.feature_cache import FeatureCache
from keras_bert_suite.preprocessing.masked_lm import BertMaskedLMPreprocessor, step_seeds
from keras_bert_suite.presets import resolve_preset
from keras_bert_suite.tokenizers.wordpiece import encode_python_text
from keras_bert_suite.training import bert_optimizer, needs_num_train_steps, set_num_train_steps, updates_after
from keras_bert_suite.training.epoch_order import EpochVariable, epoch_ordered
from keras_bert_suite.training.distribute import (
    check_jit_compile,
    num_workers,
    resolve_jit_compile,
    training_batches,
)

DEFAULT_BATCH_SIZE = 32
# `predict`/`evaluate`, and `fit` where no masks are drawn at random, preprocess up to this
# many in-memory examples before Keras sees them: a `tf.data` map of the string ops costs
# ~0.5-1 s to start on every call and on every epoch of `fit` (most of a small call's time),
# while this many packed rows take only ~6 MB at length 128. Larger inputs stream through
# `tf.data`, where the start-up cost does not matter.
MATERIALIZE_LIMIT = 4096
PADDINGS = ("dynamic", "fixed")
# With dynamic padding a batch is padded to a multiple of this: at most sequence_length / 32
# shapes to trace (and, on GPU/TPU, to compile), and matrix sizes that suit the hardware.
PAD_MULTIPLE = 32
SEQUENCE_INPUTS = ("token_ids", "segment_ids", "padding_mask")

# Post-processing registered per task class by `keras_bert_suite.postprocessing`, which sits
# to the right of models in the pipe and so cannot be imported from here.
_POSTPROCESSORS = {}


def register_postprocessor(task_class):
    """Class decorator: the decorated post-processor serves `task_class` and its subclasses.

    Example:
        >>> @register_postprocessor(BertClassifier)
        ... class ClassifierPostprocessor(TaskPostprocessor): ...
    """
    def register(postprocessor_class):
        _POSTPROCESSORS[task_class] = postprocessor_class
        return postprocessor_class

    return register


# Writers of `model.export` formats, registered by `keras_bert_suite.export` (right of models
# in the pipe) when it is imported; the package root imports it.
_EXPORTERS = {}
# `model.export` formats Keras itself writes from the packed inputs ("keras_packed": Keras'
# own "tf_saved_model").
KERAS_EXPORT_FORMATS = {"keras_packed": "tf_saved_model", "onnx": "onnx", "openvino": "openvino",
                        "litert": "litert", "torch": "torch"}


def register_exporter(format_name):
    """Decorator: the decorated `fn(model, filepath, **kwargs)` writes `model.export(filepath,
    format=format_name)`.

    Example:
        >>> @register_exporter("tf_saved_model")
        ... def export_saved_model(model, path, **serving_options): ...
    """
    def register(exporter):
        _EXPORTERS[format_name] = exporter
        return exporter

    return register


def served_tasks():
    """Names of the task classes with a post-processor (and so a serving function), as registered."""
    return [cls.__name__ for cls in _POSTPROCESSORS]


def has_postprocessor(model):
    """True when `model`'s class (or a base class) has a registered post-processor."""
    return any(cls in _POSTPROCESSORS for cls in type(model).__mro__)


def _serving_options(postprocessor_class):
    """The keyword options a post-processor's `serving_function` takes."""
    return list(inspect.signature(postprocessor_class.serving_function).parameters)[1:]


class BertTask(keras.Model):
    """Base class: subclasses build the functional graph and define the default loss."""

    default_learning_rate = 5e-5
    preprocessor_class = None
    # In-memory inputs up to this many examples are preprocessed once (None: always).
    materialize_limit = MATERIALIZE_LIMIT
    _feature_cache = None
    _padding = "dynamic"
    # Whether cutting padding off a batch leaves the task's outputs and loss as they were
    # (False where the outputs or the loss run over every position).
    dynamic_padding_is_exact = True

    @property
    def padding(self):
        """How raw-text batches are padded: "dynamic" (the default) pads each batch of `fit`,
        `evaluate` and `predict` only to its longest sequence, rounded up to a multiple of
        `PAD_MULTIPLE` (32), so short texts do not pay for `sequence_length`: the same outputs
        (the cut positions are padding, which attention masks out), a few compiled shapes.
        "fixed" pads every batch to the preprocessor's `sequence_length`, as TPUs want (a
        model under a `TPUStrategy` always does). Question answering and token
        classification always pad to `sequence_length`: their outputs and losses cover
        every position. Packed inputs are never changed. Not saved with the model.

        Example:
            >>> model.padding = "fixed"
        """
        return self._padding

    @padding.setter
    def padding(self, padding):
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, found {padding!r}.")
        self._padding = padding

    @property
    def feature_cache(self):
        """A `FeatureCache` (set it to one or to a folder) that keeps what is preprocessed
        once, in memory (question-answering windows for `fit`, `evaluate`, `predict` and
        `answer`; texts `predict`/`evaluate` take in one go), so later calls and runs on the
        same inputs read it back instead of tokenizing again. None (the default): no cache.
        Not saved with the model.

        Example:
            >>> model.feature_cache = "out/feature_cache"
        """
        return self._feature_cache

    @feature_cache.setter
    def feature_cache(self, cache):
        if cache is not None and not isinstance(cache, FeatureCache):
            cache = FeatureCache(cache)
        self._feature_cache = cache

    def _init_task(self, backbone, preprocessor, compile):
        """Call at the end of a subclass `__init__` (after the functional graph is built)."""
        self.backbone = backbone
        self.preprocessor = preprocessor
        self._schedule_owned_by_fit = False
        self._jit_compile_choice = "auto"
        self._jit_compile_decided = None
        if compile:
            self.compile()

    # === Post-processing and serving ===
    @property
    def postprocessor(self):
        """This task's post-processing (answers, word tags, top-k tokens, probabilities)."""
        for cls in type(self).__mro__:
            if cls in _POSTPROCESSORS:
                return _POSTPROCESSORS[cls](self)
        served = ", ".join(served_tasks())
        raise TypeError(
            f"{type(self).__name__} has no post-processing or serving function; these tasks have "
            f"one: {served}. Save it with model.save('model.keras')."
        )

    def serving_function(self, **options):
        """`(input_signature, fn)`: `fn` takes raw string tensors (keyword arguments named by
        `input_signature`) and returns this task's post-processed outputs as a dict of
        tensors; `export_saved_model` serves it. `options` are the task's serving options
        (e.g. `top_k` for `BertMaskedLM`)."""
        postprocessor = self.postprocessor
        accepted = _serving_options(type(postprocessor))
        for name, value in options.items():
            if name not in accepted:
                owners = [task.__name__ for task, other in _POSTPROCESSORS.items() if name in _serving_options(other)]
                raise ValueError(
                    f"{name}={value!r} is for {', '.join(sorted(owners)) or 'no task'} only; "
                    f"{type(self).__name__} takes {', '.join(accepted) or 'no serving option'}."
                )
        if self.preprocessor is None:
            raise ValueError(
                f"This {type(self).__name__} has no preprocessor, so it cannot take raw strings. Build it "
                "with from_preset(...) or pass preprocessor=... to its constructor."
            )
        return postprocessor.serving_function(**options)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Writes this task model for serving; `format` says how.

        - `"tf_saved_model"` (default): the SavedModel of `keras_bert_suite.export.export_saved_model`,
          with `serving_default` on raw strings and `serving_packed` on the packed int tensors;
          `kwargs` are its `overwrite` and the task's serving options (e.g. `top_k=3`).
        - `"keras_packed"`: Keras' own `tf_saved_model` export of the packed inputs (no tokenizer);
          `"onnx"`, `"openvino"`, `"litert"`, `"torch"`: Keras' own export in that format.
          `verbose`, `input_signature` and `kwargs` go to Keras.

        Example:
            >>> model.export("exported/sentiment")   # then tf.saved_model.load(...).signatures
        """
        if format in _EXPORTERS:
            if input_signature is not None:
                raise ValueError(
                    f'input_signature is for Keras\' own formats; format="{format}" takes the signature '
                    'of the task. Use format="keras_packed" to choose the packed inputs\' shapes.'
                )
            return _EXPORTERS[format](self, filepath, verbose=bool(verbose), **kwargs)
        if format in KERAS_EXPORT_FORMATS:
            return super().export(filepath, format=KERAS_EXPORT_FORMATS[format], verbose=verbose,
                                  input_signature=input_signature, **kwargs)
        known = ", ".join(repr(name) for name in [*_EXPORTERS, *KERAS_EXPORT_FORMATS])
        raise ValueError(f"Unknown export format {format!r}; {type(self).__name__}.export takes {known}.")

    # === Compilation ===
    def default_metrics(self):
        return None

    def default_weighted_metrics(self):
        """Metrics that honour sample weights (e.g. counting only real masked positions)."""
        return None

    def compile(self, optimizer="auto", loss="auto", metrics="auto", learning_rate=None,
                weighted_metrics="auto", jit_compile="auto", **kwargs):
        """Keras `compile` with BERT defaults for every argument left as "auto".

        `optimizer="auto"` is `bert_optimizer(learning_rate)`: AdamW (decay 0.01, not on
        LayerNorm/bias), linear warmup over 10% of the steps, linear decay to 0.
        `jit_compile="auto"` is XLA on one GPU (a TPU compiles with XLA anyway), decided when
        `fit`, `evaluate` or `predict` starts, on the devices of the model's strategy (see
        `resolve_jit_compile`). Compile inside the strategy's scope, as the model was built.
        Other keywords (`steps_per_execution`, ...) go to Keras.

        Example:
            >>> model.compile(learning_rate=2e-5, steps_per_execution=50, jit_compile=True)
        """
        check_jit_compile(jit_compile)
        if optimizer == "auto":
            optimizer = bert_optimizer(learning_rate or self.default_learning_rate)
        super().compile(
            optimizer=optimizer,
            loss=self.default_loss() if loss == "auto" else loss,
            metrics=self.default_metrics() if metrics == "auto" else metrics,
            weighted_metrics=self.default_weighted_metrics() if weighted_metrics == "auto" else weighted_metrics,
            jit_compile=False,
            **kwargs,
        )
        self._jit_compile_choice = jit_compile
        self._jit_compile_decided = None

    def _decide_jit_compile(self):
        """Sets Keras' `jit_compile` from the compile-time choice, on the devices there are now."""
        decided = resolve_jit_compile(self._jit_compile_choice, self.distribute_strategy)
        if decided != self._jit_compile_decided:
            self.jit_compile = decided
            self.train_function = self.test_function = self.predict_function = None
            self._jit_compile_decided = decided

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras builds the optimizer and metrics before tracing only under a strategy set at
        # construction; otherwise inside the first traced step, and a `tf.function` that
        # creates variables is traced twice: the first `fit` paid a second trace of the whole
        # train step (~20 s for MiniLM on 2 CPU cores). Build them first here, always.
        # Keras also averages the first batch over the replicas for the build, a collective
        # that fails across workers for dict inputs; one replica's part has the shapes needed.
        # It is read lazily: only an unbuilt model, loss or metric needs it, and starting the
        # dataset for nothing costs ~1 s on every later fit/evaluate of streamed text.
        strategy = self.distribute_strategy

        def first_local_batch():
            for _, _, batches in iterator:
                yield None, None, [keras.tree.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0], next(batches))]
                return

        with strategy.scope():
            self._symbolic_build(iterator=first_local_batch() if iterator is not None else None,
                                 data_batch=data_batch)

    def train_step(self, data):
        return self._per_worker_logs(super().train_step(data))

    def test_step(self, data):
        return self._per_worker_logs(super().test_step(data))

    def _per_worker_logs(self, logs):
        # Across workers Keras averages each log along axis 0 of the replicas' values, which a
        # scalar lacks; as one-element vectors the average is the scalar again.
        if num_workers(self.distribute_strategy) == 1:
            return logs
        return keras.tree.map_structure(lambda value: ops.reshape(value, [1]) if len(value.shape) == 0 else value, logs)

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None:
            config.update(optimizer_built=bool(self.optimizer.built), jit_compile=self._jit_compile_choice,
                          schedule_owned_by_fit=self._schedule_owned_by_fit)
        return config

    def compile_from_config(self, config):
        """Recompiles a loaded model as it was saved; Keras then restores the optimizer state."""
        config = dict(config)
        optimizer_built = config.pop("optimizer_built", False)
        schedule_owned_by_fit = config.pop("schedule_owned_by_fit", False)
        self.compile(**keras.saving.deserialize_keras_object(config))
        # A schedule that fit sized is sized again by the next fit, also after a reload.
        self._schedule_owned_by_fit = schedule_owned_by_fit
        if optimizer_built and self.built:
            self.optimizer.build(self.trainable_variables)

    # === Data ===
    def _check_compiled(self, method):
        if not self.compiled:
            raise RuntimeError(
                f"{type(self).__name__}.{method}() needs a compiled model: it was built with "
                "compile=False. Call model.compile() (BERT defaults) or model.compile(optimizer=..., "
                "loss=...) first."
            )

    def _check_packed(self, x):
        if self.preprocessor is None and is_string_input(x):
            raise ValueError(
                f"{type(self).__name__} was built with preprocessor=None, so it takes packed tensors "
                "(token_ids, segment_ids, padding_mask), not raw strings. Build it with a "
                f"preprocessor (e.g. {type(self).__name__}.from_preset(...)) or preprocess first."
            )

    def check_labels(self, y):
        """Subclasses validate in-memory labels here (raise ValueError naming the problem)."""

    def make_dataset(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False, materialize=False):
        """A batched, preprocessed `tf.data.Dataset` of `(x, y, sample_weight)`.

        `x` may be raw text (list/array/tensor, a pair tuple; a single text or pair is a
        batch of one) or a `tf.data.Dataset` of batches of raw text (and labels). Returns None when there is nothing to
        preprocess: no preprocessor, or `x` already packed (token ids, not strings).
        `materialize=True` preprocesses in-memory text now, once (see `MATERIALIZE_LIMIT`):
        right for one pass (`predict`, `evaluate`) and for a `fit` whose preprocessor gives
        the same rows every epoch, not where masks must change every epoch. Inside `fit`,
        in-memory examples (or windows) come in `training_batches`: global batches for the
        model's strategy, reshuffled every epoch with fit's `seed`.
        """
        if self.preprocessor is None:
            self._check_packed(x)
            return None
        if holds_no_examples(x):
            raise ValueError(f"Got no examples: x is empty ({x!r}). Pass at least one text.")
        x, y, sample_weight = batch_of_one(x, y, sample_weight)
        if isinstance(x, tf.data.Dataset):
            if not any(spec.dtype == tf.string for spec in tf.nest.flatten(x.element_spec)):
                return None
            dataset = x
        else:
            if not is_string_input(x):
                return None
            check_same_length(x, y, sample_weight)
            if y is not None:
                self.check_labels(y)
            parts = tuple(part for part in (x, y, sample_weight) if part is not None)
            # Python str as the tokenizer reads them (tf.data refuses a lone surrogate).
            examples = tf.data.Dataset.from_tensor_slices(encode_python_text(parts))
            limit = self.materialize_limit
            materialize = materialize and (limit is None or int(examples.cardinality()) <= limit)
            batch_size = batch_size or DEFAULT_BATCH_SIZE
            dataset = examples.batch(batch_size) if materialize else self._batches(examples, batch_size, shuffle)
        preprocess = self._traced_preprocessor()
        dataset = self._with_mask_seeds(dataset)
        if materialize and not isinstance(x, tf.data.Dataset):
            rows = self.cached_features(parts, lambda: _preprocessed_now(dataset, preprocess))
            return self._trimmed(self._batches(tf.data.Dataset.from_tensor_slices(rows), batch_size, shuffle))
        return self._trimmed(dataset.map(lambda *parts: preprocess(*parts), num_parallel_calls=tf.data.AUTOTUNE)
                             ).prefetch(tf.data.AUTOTUNE)

    def _trimmed(self, batches):
        """With `padding="dynamic"`, each batch of packed inputs cut to its longest sequence,
        rounded up to a multiple of `PAD_MULTIPLE`: the cut positions are padding, which no
        real position attends to, so the outputs stay the same (see `padding`)."""
        if self.padding == "fixed" or not self.dynamic_padding_is_exact or isinstance(
                self.distribute_strategy, tf.distribute.TPUStrategy):
            return batches
        return batches.map(_trim_padding)

    def cached_features(self, inputs, make):
        """`make()`, or what it gave for the same `inputs` and preprocessor in an earlier
        call or run, when `feature_cache` is set. Masks drawn at random are never cached.
        The one rule for every cached preprocessing (fit's windows, the answer windows).

        Example:
            >>> windows = model.cached_features(("windows", q, c), lambda: model.preprocessor.windows(q, c))
        """
        cache = self.feature_cache
        if cache is None or self._draws_random_masks():
            return make()
        return cache.load_or_make(self.preprocessor, inputs, make)

    def _draws_random_masks(self):
        """Whether the preprocessor masks at random: new masks every epoch, none cached."""
        return isinstance(self.preprocessor, BertMaskedLMPreprocessor)

    def _with_mask_seeds(self, batches):
        """For a masking preprocessor, each batch as `(key, *parts)`, `key` = `mask_seed(seed, epoch,
        step)`: the preprocessor's `seed` (else fit's, else a random one), fit's epoch (0 outside
        fit) and the batch's step in it. Stateless keys: parallel maps, replicas and a resumed
        epoch draw the same masks. Other batches come back as they are."""
        if not self._draws_random_masks():
            return batches
        fit_input = getattr(self, "_fit_input", None)
        seed = self.preprocessor.seed
        if seed is None:
            seed = fit_input["seed"] if fit_input is not None and fit_input["seed"] is not None else (
                random.randrange(2**31))
        epoch = fit_input["epoch"].variable if fit_input is not None else 0
        keyed = tf.data.Dataset.zip(batches, step_seeds(seed, epoch)).map(
            lambda parts, key: (key, *(parts if isinstance(parts, tuple) else (parts,))))
        length = int(batches.cardinality())
        # The zip keeps the batches' length, which the schedule and Keras' progress read.
        return keyed if length == tf.data.UNKNOWN_CARDINALITY else keyed.apply(
            tf.data.experimental.assert_cardinality(length))

    def _batches(self, examples, batch_size, shuffle):
        """`examples` (unbatched) in batches: inside `fit`, `training_batches` with fit's seed
        (the last batch dropped on a TPU), each epoch in the order of `epoch_ordered(seed, epoch)`;
        otherwise all of them, reshuffled each pass with `shuffle`."""
        fit_input = getattr(self, "_fit_input", None)
        if fit_input is None:
            return training_batches(examples, batch_size, self.distribute_strategy, shuffle, drop_remainder=False)
        if shuffle and fit_input["seed"] is not None:
            # Each epoch's order a function of (seed, epoch) only, so a resumed epoch repeats it.
            examples = epoch_ordered(examples, fit_input["seed"], fit_input["epoch"].variable)
            shuffle = False
        return training_batches(examples, batch_size, self.distribute_strategy, shuffle, fit_input["seed"])

    def _traced_preprocessor(self):
        """The preprocessor as one `tf.function`, kept across calls: each `fit`/`predict`
        builds a new `tf.data` map, and re-tracing the string ops cost ~1 s every time.
        A new preprocessor or changed settings (e.g. `sequence_length`) trace it anew."""
        cache = getattr(self, "_preprocess_cache", None)
        if cache is None or not cache.serves(self.preprocessor):
            # A plain holder, so neither Keras nor SavedModel tracking sees the function.
            self._preprocess_cache = cache = _TracedPreprocessor(self.preprocessor)
        return cache.function

    def _resolve_schedule(self, dataset, x, epochs, steps_per_epoch, batch_size, skipped=0):
        """Sets the auto schedule's `num_train_steps` from the optimizer's updates so far plus
        the updates of `epochs` x steps per epoch, less `skipped` batches (a resumed epoch's)."""
        if not (needs_num_train_steps(self.optimizer) or self._schedule_owned_by_fit):
            return
        steps = steps_per_epoch
        source = dataset if dataset is not None else (x if isinstance(x, tf.data.Dataset) else None)
        if steps is None and source is not None:
            cardinality = int(source.cardinality())
            steps = cardinality if cardinality > 0 else None
        if steps is None and source is None:
            first = x["token_ids"] if isinstance(x, dict) else x
            if hasattr(first, "shape") and first.shape[0] is not None:
                steps = math.ceil(int(first.shape[0]) / (batch_size or DEFAULT_BATCH_SIZE))
        if steps is None:
            raise ValueError(
                "The learning-rate schedule needs the number of training steps, but the dataset's "
                "length is unknown. Pass steps_per_epoch= to fit(), or compile with "
                "bert_optimizer(learning_rate, num_train_steps=...)."
            )
        updates = updates_after(self.optimizer, epochs * steps - skipped)
        if updates == 0:
            raise ValueError(
                f"This fit makes no optimizer update: {epochs} x {steps} batches, fewer than the optimizer's "
                "gradient_accumulation_steps. Train on more batches, or accumulate fewer."
            )
        set_num_train_steps(self.optimizer, updates)
        self._schedule_owned_by_fit = True

    # === Keras entry points on raw text ===
    def fit(self, x=None, y=None, batch_size=None, epochs=1, sample_weight=None,
            validation_data=None, shuffle=True, steps_per_epoch=None, seed=None, initial_epoch=0,
            initial_step=0, **kwargs):
        """Keras `fit` that also takes raw text (see `make_dataset`).

        `batch_size` is the global batch, split among the replicas of the model's strategy.
        `seed` seeds the shuffle of in-memory text (needed, and the same on every worker, for
        multi-worker training); with it each epoch's order depends on (seed, epoch) only.
        `initial_epoch` and `initial_step` resume a run (see `training.resume.TrainingState`):
        epoch `initial_epoch` starts at its batch `initial_step`, in the order it had.

        Example:
            >>> model.fit(texts, labels, batch_size=32, epochs=3, seed=1)
            >>> model.fit(texts, labels, batch_size=32, epochs=3, seed=1, initial_epoch=1, initial_step=7)
        """
        self._check_compiled("fit")
        self._decide_jit_compile()
        # What only fit's batches need, seen by `_batches` (task subclasses forward make_dataset's
        # arguments, not these).
        epoch = EpochVariable(initial_epoch)
        self._fit_input = {"seed": seed, "epoch": epoch}
        try:
            # Rows that are the same every epoch are made once (fast epochs, see MATERIALIZE_LIMIT).
            dataset = self.make_dataset(x, y, sample_weight, batch_size, shuffle=shuffle,
                                        materialize=not self._draws_random_masks())
        finally:
            self._fit_input = None
        if validation_data is not None and self.preprocessor is not None:
            if isinstance(validation_data, tf.data.Dataset):
                validation_data = self.make_dataset(validation_data)
            else:
                validation_x, validation_y, validation_weight = keras.utils.unpack_x_y_sample_weight(
                    tuple(validation_data))
                # Preprocessed once: every epoch scores the same masks, so its figures compare.
                validation_data = self.make_dataset(validation_x, validation_y, validation_weight, batch_size,
                                                    materialize=True)
        # A resumed run's optimizer holds the updates already made: size the schedule by the rest.
        self._resolve_schedule(dataset, x, epochs - initial_epoch, steps_per_epoch, batch_size, initial_step)
        if initial_step and (dataset is None or steps_per_epoch is not None):
            raise ValueError("initial_step resumes the batches fit makes from in-memory text; this fit takes "
                             "packed inputs or steps_per_epoch, so resume it at an epoch (initial_epoch) only.")
        with warnings.catch_warnings():
            # Span, token and masked-LM heads read `sequence_output` only, so the pooler (kept:
            # checkpoints hold it) gets no gradient; Keras would warn about it on every fit.
            warnings.filterwarnings("ignore", message=r"Gradients do not exist for variables \['pooler/")
            if dataset is None:
                return super().fit(x, y, batch_size=batch_size, epochs=epochs, sample_weight=sample_weight,
                                   validation_data=validation_data,
                                   shuffle=shuffle and not isinstance(x, tf.data.Dataset),
                                   steps_per_epoch=steps_per_epoch, initial_epoch=initial_epoch, **kwargs)
            callbacks = [epoch, *(kwargs.pop("callbacks", None) or [])]
            options = dict(validation_data=validation_data, shuffle=False, steps_per_epoch=steps_per_epoch,
                           callbacks=callbacks, **kwargs)
            if not initial_step:
                return super().fit(dataset, epochs=epochs, initial_epoch=initial_epoch, **options)
            # Keras starts every epoch at its first batch: the rest of the resumed epoch is a fit
            # of its own, then the later epochs (the same callbacks see both).
            history = super().fit(dataset.skip(initial_step), epochs=initial_epoch + 1,
                                  initial_epoch=initial_epoch, **options)
            if epochs > initial_epoch + 1:
                first = history.history
                history = super().fit(dataset, epochs=epochs, initial_epoch=initial_epoch + 1, **options)
                history.history = {key: first.get(key, []) + values for key, values in history.history.items()}
            return history

    def evaluate(self, x=None, y=None, batch_size=None, sample_weight=None, **kwargs):
        """Keras `evaluate` that also takes raw text."""
        self._check_compiled("evaluate")
        self._decide_jit_compile()
        if kwargs.get("_use_cached_eval_dataset"):
            # Called by Keras' fit on `validation_data`, which fit already preprocessed.
            return super().evaluate(x, y, batch_size=batch_size, sample_weight=sample_weight, **kwargs)
        dataset = self.make_dataset(x, y, sample_weight, batch_size, materialize=True)
        if dataset is None:
            return super().evaluate(x, y, batch_size=batch_size, sample_weight=sample_weight, **kwargs)
        return super().evaluate(dataset, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        """Keras `predict` that also takes raw text; returns the head's outputs."""
        if self.compiled:
            self._decide_jit_compile()
        dataset = self.make_dataset(x, batch_size=batch_size, materialize=True)
        if dataset is None:
            return super().predict(x, batch_size=batch_size, **kwargs)
        return super().predict(dataset, **kwargs)

    # === Config ===
    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor)
            if self.preprocessor is not None else None,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "preprocessor"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config, compile=False)

    @classmethod
    def from_preset(cls, preset, load_weights=True, sequence_length=128, preprocessor="auto", **kwargs):
        """The task model on the backbone (and head weights, when the checkpoint has them) of `preset`."""
        backbone_kwargs = {k: kwargs.pop(k) for k in ("dropout", "attention_dropout", "dtype", "remat") if k in kwargs}
        backbone = BertBackbone.from_preset(preset, load_weights=load_weights, **backbone_kwargs)
        if preprocessor == "auto":
            preprocessor = cls.preprocessor_class.from_preset(preset, sequence_length=sequence_length)
        model = cls(backbone=backbone, preprocessor=preprocessor, **kwargs)
        if load_weights:
            model.load_head_weights(preset)
        return model

    def head_checkpoint_variables(self):
        """`{google_name: variable}` of head weights a Google/HF checkpoint may hold."""
        return {}

    def save_to_preset(self, path):
        """Writes a preset folder of the backbone, the tokenizer and this task's heads (under
        their Google names), so `from_preset(path)` of this task, or of another that shares a
        head (a `BertPreTraining`'s masked-LM head serves `BertMaskedLM`), starts trained.

        Example:
            >>> pretrained.save_to_preset("my_bert"); BertMaskedLM.from_preset("my_bert").fill_mask(["a [MASK]."])
        """
        if self.preprocessor is None:
            raise ValueError(f"This {type(self).__name__} has no preprocessor, so no tokenizer to save with the "
                             "weights; build it with from_preset(...) or pass preprocessor=... .")
        # Stored as Google's checkpoints hold them: `output_weights` [out, in].
        heads = {name: np.asarray(variable).T if name.endswith("output_weights") else np.asarray(variable)
                 for name, variable in self.head_checkpoint_variables().items()}
        save_preset(path, self.backbone, self.preprocessor.tokenizer, head_weights=heads)

    def load_head_weights(self, preset):
        """Loads this task's head from the preset's checkpoint; warns where it has none."""
        variables = self.head_checkpoint_variables()
        if not variables:
            return
        resolved = resolve_preset(preset)
        if resolved.format == "keras":
            weights = read_head_weights(resolved.folder)
            if not weights:
                warnings.warn(
                    f"{resolved.folder} holds backbone weights only: the {type(self).__name__} head "
                    "starts untrained.", stacklevel=3,
                )
                return
        else:
            weights = read_checkpoint_weights(resolved)
        # Google's `output_weights` are [out, in]; Keras kernels are [in, out].
        weights = {name: (w.T if name.endswith("output_weights") else w) for name, w in weights.items()}
        assign_weights(variables, weights, str(resolved.folder), optional_prefixes=tuple(variables))


def _trim_padding(*parts):
    """A batch `x` or `(x, y[, sample_weight])` with the sequence inputs of `x` cut to the
    longest sequence of the batch, rounded up to a multiple of `PAD_MULTIPLE`."""
    x = parts[0]
    longest = tf.reduce_max(tf.reduce_sum(tf.cast(x["padding_mask"], tf.int32), axis=-1))
    length = tf.minimum(tf.shape(x["token_ids"])[-1], -(-longest // PAD_MULTIPLE) * PAD_MULTIPLE)
    x = {name: value[..., :length] if name in SEQUENCE_INPUTS else value for name, value in x.items()}
    return x if len(parts) == 1 else (x, *parts[1:])


def _preprocessed_now(batches, preprocess):
    """Runs `preprocess` eagerly on each batch of raw text; the output rows as numpy arrays
    (as an in-memory dataset, its iterator starts in milliseconds). A batch may give more
    rows than texts (question-answering windows)."""
    # One concrete function for every batch size, the trace tf.data would use.
    concrete = preprocess.get_concrete_function(*batches.element_spec)
    outputs = [keras.tree.map_structure(np.asarray, concrete(*batch)) for batch in batches]
    return keras.tree.map_structure(lambda *parts: np.concatenate(parts), *outputs)


class _TracedPreprocessor:
    """A preprocessor's `tf.function`, valid while the preprocessor and its settings stay.
    A masking preprocessor's takes the batch's mask key first (see `BertTask._with_mask_seeds`)."""

    def __init__(self, preprocessor):
        self.preprocessor = preprocessor
        self.settings = preprocessor.get_config()
        if isinstance(preprocessor, BertMaskedLMPreprocessor):
            self.function = tf.function(lambda key, *parts: preprocessor(*parts, seed=key), autograph=False)
        else:
            self.function = tf.function(lambda *parts: preprocessor(*parts), autograph=False)

    def serves(self, preprocessor):
        # Settings are Python values baked into the trace, so a change needs a new one.
        return preprocessor is self.preprocessor and preprocessor.get_config() == self.settings


def check_same_length(x, y=None, sample_weight=None):
    """Raises a clear error when the parts of a tuple input (or the labels) differ in length."""
    parts = list(x) if isinstance(x, tuple) else [x]
    names = [f"x[{i}]" for i in range(len(parts))] if isinstance(x, tuple) else ["x"]
    for name, part in (("y", y), ("sample_weight", sample_weight)):
        if part is not None and not isinstance(part, dict):
            parts.append(part)
            names.append(name)
    lengths = [len(part) if not hasattr(part, "shape") else part.shape[0] for part in parts]
    if len(set(lengths)) > 1:
        found = ", ".join(f"{name}: {length}" for name, length in zip(names, lengths))
        raise ValueError(f"Inputs and labels must have one entry per example; found lengths {found}.")


def batch_of_one(x, y=None, sample_weight=None):
    """One text, or one pair / (context, choices) tuple led by a text, as a batch of one
    (its label and weight too); anything else as it is."""
    if not (isinstance(x, str) or (isinstance(x, tuple) and x and isinstance(x[0], str))):
        return x, y, sample_weight
    x = tuple([part] for part in x) if isinstance(x, tuple) else [x]
    return (x, *(None if part is None else [part] for part in (y, sample_weight)))


def holds_no_examples(x):
    """True for an empty in-memory input: `[]`, `()`, `([], [])`, an array of length 0."""
    if isinstance(x, (str, bytes, dict, tf.data.Dataset)):
        return False
    parts = list(x) if isinstance(x, tuple) else [x]
    return not parts or any((part.shape[0] if hasattr(part, "shape") else len(part)) == 0 for part in parts)


def as_numpy_labels(y, what="labels"):
    """`y` as a numpy array, with a clear error for ragged or non-numeric labels."""
    try:
        array = np.asarray(y)
    except ValueError as error:
        raise ValueError(f"Could not read {what} as an array: {error}") from None
    if array.dtype.kind not in "iufb":
        raise ValueError(f"Expected numeric {what}, found dtype {array.dtype}.")
    return array
