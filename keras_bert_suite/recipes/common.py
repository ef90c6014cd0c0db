"""What every recipe shares: the common command-line flags, the task model, the training report.

The flags keep the names of the original scripts (`--max-seq-length`, `--do-train`,
...), plus how to train: `--strategy`/`--tpu` (devices), `--precision`, `--remat`,
`--gradient-accumulation-steps`, `--jit-compile` and `--steps-per-execution`; and how batches are
padded, `--padding`.
`build_task_model` and `load_task_model` give the recipe's model from those flags, built
inside the strategy's scope.
`training_callbacks(output_dir)` gives Keras progress plus TensorBoard logs in
`output_dir/logs`, `history.json` (kept up to date while training) and `training_curves.png`.
`train_and_save` trains crash-safely: the training state is kept in
`output_dir/training_state` every `--save-checkpoints-steps`, the same command run again
continues from it, and `finished_training` keeps a finished run from being retrained
(`--overwrite-output-dir` starts afresh).

Example:
    >>> parser = argparse.ArgumentParser()
    >>> add_common_arguments(parser, learning_rate=2e-5)
    >>> args = parser.parse_args(["--output-dir", "out", "--do-train", "--strategy", "mirrored"])
    >>> model = build_task_model(BertClassifier, args, num_classes=2)   # every local GPU
    >>> model.fit(texts, labels, batch_size=args.batch_size, seed=args.seed)
    >>> callbacks = training_callbacks(args.output_dir)   # pass to model.fit(...)
"""

import argparse
import json
import pathlib
import shutil
import time

import keras

from keras_bert_suite.models.task import PADDINGS
from keras_bert_suite.presets import DEFAULT_PRESET
from keras_bert_suite.training import STRATEGIES, bert_optimizer, get_strategy
from keras_bert_suite.training.resume import TrainingState
from keras_bert_suite.training.schedules import SCHEDULES
from keras_bert_suite.utils import atomic_path, atomic_write_text

MODEL_FILE = "model.keras"  # the fine-tuned model every recipe saves in --output-dir
STATE_DIR = "training_state"  # the resumable training state in --output-dir
HISTORY_FILE = "history.json"
# What a resumed run must share with the run it continues (flags of add_common_arguments).
RESUME_SETTINGS = ("preset", "max_seq_length", "batch_size", "learning_rate", "epochs", "warmup_ratio", "schedule",
                   "adam_epsilon", "seed", "gradient_accumulation_steps")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
JIT_COMPILE = {"auto": "auto", "true": True, "false": False}


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found {text!r}")
    return value


def add_common_arguments(parser, max_seq_length=128, batch_size=32, learning_rate=5e-5, epochs=3):
    """Adds the flags shared by the fine-tuning recipes (defaults follow the original scripts)."""
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help="registered preset name, checkpoint folder (Google, HF or saved preset) or URL")
    parser.add_argument("--output-dir", required=True, type=pathlib.Path,
                        help="folder for the fine-tuned model, predictions, metrics and logs")
    parser.add_argument("--max-seq-length", type=int, default=max_seq_length,
                        help="word pieces per sequence after packing ([CLS], [SEP] included)")
    parser.add_argument("--batch-size", type=positive_int, default=batch_size,
                        help="GLOBAL batch: examples per training step over all devices and machines (each of "
                        "R replicas takes batch/R); with --gradient-accumulation-steps N an update averages N of them")
    parser.add_argument("--eval-batch-size", type=int, default=None,
                        help="examples per step when evaluating and predicting (None: --batch-size)")
    parser.add_argument("--learning-rate", type=float, default=learning_rate, help="peak AdamW learning rate")
    parser.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    parser.add_argument("--warmup-ratio", type=float, default=0.1,
                        help="share of the training steps spent warming the learning rate up")
    parser.add_argument("--schedule", choices=SCHEDULES, default="linear",
                        help="learning-rate decay after warmup: 'linear' decays from the peak to 0 (HF, "
                        "keras-hub); 'google' is the original optimization.py line from step 0")
    parser.add_argument("--adam-epsilon", type=float, default=1e-8,
                        help="Adam epsilon (the original scripts used 1e-6)")
    parser.add_argument("--seed", type=int, default=12345, help="seed for weights, dropout and shuffling")
    parser.add_argument("--do-train", action="store_true", help="fine-tune on the training split")
    parser.add_argument("--do-eval", action="store_true", help="score the dev split")
    parser.add_argument("--do-predict", action="store_true", help="write predictions for the test split")
    add_training_arguments(parser)
    parser.add_argument("--padding", choices=PADDINGS, default="dynamic",
                        help="dynamic: pad each batch only to its longest sequence (rounded up to a multiple of 32; "
                        "same results, less work on short texts); fixed: every batch to --max-seq-length, as TPUs "
                        "want (question answering and NER always pad to --max-seq-length)")
    add_checkpoint_arguments(parser)


def add_checkpoint_arguments(parser):
    """Adds `--save-checkpoints-steps` and `--overwrite-output-dir` (README: Resuming a killed run)."""
    group = parser.add_argument_group("resuming a killed run (README: Resuming a killed run)")
    group.add_argument("--save-checkpoints-steps", type=positive_int, default=None,
                       help="keep the training state (model, optimizer, epoch and step) in "
                       "OUTPUT_DIR/training_state every N batches and at every epoch end; unset: every "
                       "five minutes of training. The same command run again continues from it")
    group.add_argument("--overwrite-output-dir", action="store_true",
                       help="train afresh: drop the saved training state and history of OUTPUT_DIR (without "
                       "it a finished run there is not retrained, and a killed one is resumed)")


def add_training_arguments(parser):
    """Adds the flags that choose the devices and trade memory for speed."""
    group = parser.add_argument_group("devices, memory and speed (README: Training on many devices)")
    group.add_argument("--strategy", choices=STRATEGIES, default="auto",
                       help="auto: every local GPU mirrored if more than one, else one device; one_device; "
                       "mirrored: every local GPU; multi_worker: the machines in TF_CONFIG; tpu: the TPU of --tpu")
    group.add_argument("--tpu", default=None,
                       help="with --strategy tpu: the TPU's name, grpc:// address, or 'local' on a TPU VM")
    group.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="mixed_float16 (GPUs, loss-scaled) or mixed_bfloat16 (TPUs, recent GPUs) compute in "
                       "16 bits with float32 weights: about half the activation memory, faster on tensor cores")
    group.add_argument("--gradient-accumulation-steps", type=positive_int, default=1,
                       help="average the gradients of N batches into one update: an update of N x --batch-size "
                       "examples with the memory of one batch, N times the steps")
    group.add_argument("--remat", action="store_true",
                       help="recompute each encoder layer in the backward pass: less activation memory "
                       "(longer sequences, bigger batches), about a third more compute")
    group.add_argument("--jit-compile", choices=tuple(JIT_COMPILE), default="auto",
                       help="XLA-compile the train step; auto: on a single GPU (a TPU always compiles with "
                       "XLA; on a CPU it compiles slowly and runs no faster; several GPUs cannot)")
    group.add_argument("--steps-per-execution", type=positive_int, default=1,
                       help="train steps per call into TensorFlow: fewer host round trips (TPUs, small "
                       "models); logs and callbacks then see every N-th step")


def recipe_optimizer(args):
    """BERT's optimizer at the recipe's `--learning-rate`, `--warmup-ratio`, `--schedule`, `--adam-epsilon`
    and `--gradient-accumulation-steps`."""
    return bert_optimizer(args.learning_rate, warmup_ratio=args.warmup_ratio, schedule=args.schedule,
                          epsilon=args.adam_epsilon, gradient_accumulation_steps=args.gradient_accumulation_steps)


def recipe_strategy(args):
    """The `tf.distribute` strategy of `--strategy` and `--tpu` (made once per process)."""
    return get_strategy(args.strategy, args.tpu)


def formatter():
    """The help formatter every `kbs` subcommand uses: defaults shown."""
    return argparse.ArgumentDefaultsHelpFormatter


def training_state(args):
    """The `TrainingState` of `--output-dir`, saving every `--save-checkpoints-steps`."""
    settings = {name: str(value) if isinstance(value, pathlib.Path) else value
                for name, value in vars(args).items() if name in RESUME_SETTINGS}
    return TrainingState(args.output_dir / STATE_DIR, save_steps=args.save_checkpoints_steps, settings=settings)


def finished_training(args):
    """True when `--output-dir` holds a run that trained to its end (and its `model.keras`),
    so `--do-train` does not train it again; with `--overwrite-output-dir` the saved state
    and history go first and the answer is False.

    Example:
        >>> model = load_model(args) if finished_training(args) else train_and_save(build_model(args), args, x, y)
    """
    output_dir = args.output_dir
    if args.overwrite_output_dir:
        shutil.rmtree(output_dir / STATE_DIR, ignore_errors=True)
        shutil.rmtree(output_dir / "logs", ignore_errors=True)
        for name in (HISTORY_FILE, TrainingReport.PLOT_FILE):
            (output_dir / name).unlink(missing_ok=True)
        return False
    if training_state(args).is_finished() and (output_dir / MODEL_FILE).is_file():
        print(f"{output_dir} holds a finished training run: using its {MODEL_FILE} without training again "
              "(pass --overwrite-output-dir to train afresh).")
        return True
    return False


def train_and_save(model, args, x, y=None, **fit_kwargs):
    """Fits `model` on `(x, y)` for `--epochs` of `--batch-size` with `--seed`, resuming the state
    in `--output-dir` if a killed run left one, then saves `model.keras`; returns the model.

    The state is saved every `--save-checkpoints-steps` and at every epoch end; `fit_kwargs`
    go to `fit` (e.g. `validation_data`). Used by every `kbs` training subcommand.

    Example:
        >>> model = train_and_save(build_model(args), args, texts, labels)   # kill it, run it again
    """
    state = training_state(args)
    initial_epoch, initial_step = state.restore(model)
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, seed=args.seed, initial_epoch=initial_epoch,
              initial_step=initial_step, callbacks=training_callbacks(args.output_dir, state), **fit_kwargs)
    save_model(model, args.output_dir / MODEL_FILE)
    state.mark_finished()
    return model


def save_model(model, path):
    """`model.save` into a temporary `.keras` file beside `path`, then renamed onto it."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def load_trained_model(path, model_class, wanted="", suits=lambda model: True):
    """The `model_class` with a preprocessor saved at `path`, or a ValueError saying what is wrong.

    `suits(model)` checks what else the recipe needs; `wanted` describes it for the error,
    e.g. `load_trained_model(path, BertClassifier, "with 2 outputs", lambda m: m.num_classes == 2)`.
    The file loads with `safe_mode=True`: a `Lambda` (Python code) or a class this package and
    Keras do not register is refused with a ValueError naming it.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass the model.keras a recipe saved (--output-dir).")
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except (TypeError, ValueError) as error:
        while (error.__cause__ or error.__context__) is not None:  # Keras wraps the error naming the class
            error = error.__cause__ or error.__context__
        reason = str(error).strip().splitlines()[0]
        raise ValueError(f"{path} is refused: {reason} Only .keras files of keras_bert_suite and Keras "
                         "classes load, without Python code (safe_mode=True).") from None
    if not isinstance(model, model_class) or model.preprocessor is None or not suits(model):
        kind = f"a {model_class.__name__} with a tokenizer {wanted}".rstrip()
        raise ValueError(f"{path} is not {kind}; pass another --output-dir or retrain with --do-train.")
    return model


def build_task_model(task_class, args, **from_preset_kwargs):
    """A fresh `task_class` on `--preset`, seeded with `--seed`, compiled with `recipe_optimizer`,
    inside the scope of `recipe_strategy`; in `--precision`, with `--remat`, `--jit-compile` and
    `--steps-per-execution`.

    Sequences are cut at `--max-seq-length` unless `from_preset_kwargs` sets `sequence_length`;
    the other kwargs go to `from_preset` as they are (e.g. `num_classes`, a `preprocessor`).

    Example:
        >>> model = build_task_model(BertMultipleChoice, args, num_choices=4)
    """
    strategy = recipe_strategy(args)  # first: a cluster or TPU is joined before TensorFlow starts
    keras.utils.set_random_seed(args.seed)
    options = {"sequence_length": args.max_seq_length, "dtype": args.precision, "remat": args.remat}
    with strategy.scope():
        model = task_class.from_preset(args.preset, **{**options, **from_preset_kwargs})
        model.compile(optimizer=recipe_optimizer(args), jit_compile=JIT_COMPILE[args.jit_compile],
                      steps_per_execution=args.steps_per_execution)
    model.padding = args.padding
    return model


def load_task_model(task_class, args, build=None, wanted="", suits=lambda model: True, doing="scoring"):
    """The trained `task_class` in `--output-dir`'s `model.keras`, cutting at `--max-seq-length`.

    Without that file, `build()` gives the model, announced as "No out/model.keras: scoring
    the preset ... as it is." (`doing` names what the recipe does with it); with `build`
    None, `load_trained_model` raises for the missing file. `wanted` and `suits` are
    `load_trained_model`'s. The model loads inside the scope of `recipe_strategy`, with the
    precision and compile settings it was trained with.

    Example:
        >>> model = load_task_model(BertMultipleChoice, args, lambda: build_task_model(
        ...     BertMultipleChoice, args, num_choices=4), "and 4 choices", lambda m: m.num_choices == 4)
    """
    path = args.output_dir / MODEL_FILE
    if build is not None and not path.is_file():
        print(f"No {path}: {doing} the preset {args.preset} as it is.")
        return build()
    with recipe_strategy(args).scope():
        model = load_trained_model(path, task_class, wanted, suits)
    model.preprocessor.sequence_length = args.max_seq_length
    model.padding = args.padding
    return model


def check_sequence_length(model, args):
    """`--max-seq-length` must fit the backbone's position embeddings."""
    limit = model.backbone.max_sequence_length
    if args.max_seq_length > limit:
        raise ValueError(f"--max-seq-length {args.max_seq_length} exceeds the {limit} positions of the model; "
                         f"pass --max-seq-length {limit} or less.")


class TrainingReport(keras.callbacks.Callback):
    """Records loss and metrics per step and per epoch in `history.json` (rewritten with every
    saved training state, every epoch end, every `write_seconds` and at the end) and plots
    them in `training_curves.png`.

    With the `TrainingState` of a resumed run, the history saved before the kill is kept up
    to the resumed step and continued; steps are counted from the start of the run.

    Example:
        >>> model.fit(x, y, callbacks=[TrainingReport("out")])   # out/training_curves.png
    """

    PLOT_FILE = "training_curves.png"

    def __init__(self, output_dir, state=None, write_seconds=30):
        super().__init__()
        self.output_dir = pathlib.Path(output_dir)
        self.state = state
        self.write_seconds = write_seconds
        self.global_steps = []
        self.steps = {}
        self.epochs = {}
        self.last_write = time.monotonic()
        self.batches_seen = 0

    def on_train_begin(self, logs=None):
        saved = (self.state.read() or {}) if self.state is not None else {}
        path = self.output_dir / HISTORY_FILE
        if self.global_steps or not saved.get("global_step") or not path.is_file():
            return  # this fit continues the history already held, or starts one
        history = json.loads(path.read_text(encoding="utf-8"))
        keep = sum(step <= saved["global_step"] for step in history.get("global_step", []))
        epochs = saved["epoch"] + (saved["step"] >= (saved.get("steps_per_epoch") or float("inf")))
        self.global_steps = history.get("global_step", [])[:keep]
        self.steps = {name: values[:keep] for name, values in history.get("steps", {}).items()}
        self.epochs = {name: values[:epochs] for name, values in history.get("epochs", {}).items()}

    def on_train_batch_end(self, batch, logs=None):
        self.batches_seen += 1
        step = self.state.global_step(batch) if self.state is not None else self.batches_seen
        self.global_steps.append(step)
        for name, value in (logs or {}).items():
            self.steps.setdefault(name, []).append(float(value))
        saved_now = self.state is not None and self.state.last_save == (self.state.epoch, self.state.offset + batch + 1)
        if saved_now or time.monotonic() - self.last_write >= self.write_seconds:
            self.write()  # with every saved state, so a resumed run finds the history up to it

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.epochs.setdefault(name, []).append(float(value))
        self.write()

    def on_train_end(self, logs=None):
        self.write()
        self.plot(self.output_dir / self.PLOT_FILE)

    def write(self):
        """Writes `history.json` (atomically) as it stands."""
        atomic_write_text(self.output_dir / HISTORY_FILE, json.dumps(
            {"global_step": self.global_steps, "steps": self.steps, "epochs": self.epochs}, indent=2))
        self.last_write = time.monotonic()

    def plot(self, path):
        """One panel per quantity: per-step curve, with per-epoch values (train and val) marked."""
        import matplotlib  # heavy; only this end-of-training plot needs it, with Agg set before pyplot

        matplotlib.use("Agg")
        from matplotlib import pyplot

        names = [name for name in self.steps if name != "learning_rate"]
        if not names:
            return
        figure, axes = pyplot.subplots(len(names), 1, figsize=(7, 2.6 * len(names)), squeeze=False)
        steps_per_epoch = max(1, max(self.global_steps) // max(1, len(self.epochs.get(names[0], [1]))))
        for axis, name in zip(axes[:, 0], names):
            axis.plot(self.global_steps[-len(self.steps[name]):], self.steps[name], label=f"{name} (step)", lw=1)
            for key, style in ((name, "o"), (f"val_{name}", "s")):
                if key in self.epochs:
                    ends = [steps_per_epoch * (epoch + 1) for epoch in range(len(self.epochs[key]))]
                    axis.plot(ends, self.epochs[key], style + "-", label=f"{key} (epoch)")
            axis.set_xlabel("step")
            axis.set_ylabel(name)
            axis.legend(loc="best", fontsize=8)
        figure.tight_layout()
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=100)
        pyplot.close(figure)


class ResumedTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard whose per-batch summaries continue at the step a resumed run reached
    (Keras counts from 0 at every `fit`); epoch summaries are numbered by epoch already."""

    def __init__(self, log_dir, state=None, **kwargs):
        super().__init__(log_dir=log_dir, **kwargs)
        self.state = state
        self.calls = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.calls is None:  # the first fit of this run: start where the saved state is
            saved = (self.state.read() or {}) if self.state is not None else {}
            self.calls = 0 if saved.get("finished") else saved.get("global_step", 0)
        self._global_train_batch = self.calls

    def on_train_end(self, logs=None):
        self.calls = self._global_train_batch
        super().on_train_end(logs)


def training_callbacks(output_dir, state=None):
    """Keras callbacks for a recipe's `fit`: TensorBoard logs and the training report, both
    continuing the history of a resumed run; with `state` (a `TrainingState`) it comes first."""
    output_dir = pathlib.Path(output_dir)
    return [
        *([state] if state is not None else []),
        ResumedTensorBoard(str(output_dir / "logs"), state, update_freq="batch"),
        TrainingReport(output_dir, state),
    ]
