"""`TrainingState`: a run's state kept in a folder during `fit`, so a killed run resumes.

Keras' `BackupAndRestore` is not used: it stores the epoch and batch but, on restore,
restarts the interrupted epoch from its first batch with the weights of its middle (the
trainer has no way to start an epoch at a step), and it overwrites its weights file in
place, so a kill during a save can leave only a half-written file. Here every save is a
new file written under a temporary name and renamed, then `state.json` (renamed onto the
old one) names it; the previous state file stays until the next save. `fit(...,
initial_epoch=, initial_step=)` of `BertTask` then trains only the remaining steps, in the
order of `epoch_order` (keyed on seed and epoch).

The state is every variable of the model (weights, dropout seed-generator states) and of
the optimizer (Adam moments, step counter, gradient accumulators, loss scale), the epoch
and the step in it. The learning-rate schedule is a function of the optimizer's step, and
`fit` sizes it from the data again. Running-mean metrics restart at the resumed step.

Example:
    >>> state = TrainingState("out/training_state", save_steps=1000, settings={"batch_size": 32})
    >>> epoch, step = state.restore(model)            # (0, 0) on a fresh run
    >>> model.fit(x, y, epochs=3, seed=1, initial_epoch=epoch, initial_step=step, callbacks=[state])
    >>> state.mark_finished()                          # after the final model is saved
"""

import json
import pathlib
import time

import keras
import numpy as np

from keras_bert_suite.utils import atomic_path, atomic_write_text, read_json_object

STATE_FILE = "state.json"
DEFAULT_SAVE_SECONDS = 300  # without save_steps: a state at most five minutes of training old


class TrainingState(keras.callbacks.Callback):
    """Saves the training state in `folder` every `save_steps` batches (None: every
    `save_seconds` of training) and at every epoch end; `restore` reads it back.

    `settings` (JSON values, e.g. the batch size and seed) must match on resume: a state
    saved with other settings would not continue the same run.
    """

    def __init__(self, folder, save_steps=None, save_seconds=DEFAULT_SAVE_SECONDS, settings=None):
        super().__init__()
        self.folder = pathlib.Path(folder)
        self.save_steps = save_steps
        self.save_seconds = save_seconds
        self.settings = settings or {}
        self.epoch = 0
        self.offset = 0  # batches of the resumed epoch done before the restart
        self.steps_per_epoch = None
        self.last_save = (0, 0)
        self.last_time = time.monotonic()

    # === Reading ===
    def read(self):
        """The saved `state.json` as a dict, or None when the folder holds no state."""
        path = self.folder / STATE_FILE
        if not path.is_file():
            return None
        return read_json_object(path, "Delete the folder or pass --overwrite-output-dir to start afresh.")

    def is_finished(self):
        """True when the folder holds a run that trained to its end."""
        state = self.read()
        return bool(state and state.get("finished"))

    def restore(self, model):
        """Loads the saved state into `model` (compiled, inside its strategy's scope);
        returns `(initial_epoch, initial_step)` for `fit`, `(0, 0)` when there is none."""
        state = self.read()
        if state is None or state.get("finished"):
            return 0, 0
        path = self.folder / STATE_FILE
        if state.get("settings") != self.settings:
            changed = sorted(key for key in {**state.get("settings", {}), **self.settings}
                             if state.get("settings", {}).get(key) != self.settings.get(key))
            raise ValueError(
                f"{path} holds a run with other settings ({', '.join(changed)}: saved "
                f"{[state.get('settings', {}).get(k) for k in changed]}, now {[self.settings.get(k) for k in changed]}); "
                "rerun with the saved settings to resume, or pass --overwrite-output-dir to start afresh."
            )
        variables = _state_variables(model)
        with np.load(self.folder / state["file"], allow_pickle=False) as arrays:
            if len(arrays.files) != len(variables):
                raise ValueError(f"{self.folder / state['file']} holds {len(arrays.files)} variables, the model "
                                 f"and optimizer have {len(variables)}: another model was trained in "
                                 f"{self.folder}. Pass --overwrite-output-dir to start afresh.")
            for index, variable in enumerate(variables):
                value = arrays[f"v{index}"]
                if tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(f"{self.folder / state['file']}: variable {variable.path} is saved with shape "
                                     f"{value.shape}, the model has {tuple(variable.shape)}. Pass "
                                     "--overwrite-output-dir to start afresh.")
                variable.assign(value)
        epoch, step = state["epoch"], state["step"]
        if state.get("steps_per_epoch") and step >= state["steps_per_epoch"]:
            epoch, step = epoch + 1, 0
        self.epoch, self.offset, self.last_save = epoch, step, (epoch, step)
        print(f"Resuming from {self.folder / state['file']}: epoch {epoch + 1}, step {step} "
              f"({state['global_step']} steps done).")
        return epoch, step

    # === Writing ===
    def save(self, epoch, step):
        """Writes the state at `(epoch, step)`: a new file, then `state.json` naming it."""
        if not getattr(self.model.distribute_strategy.extended, "should_checkpoint", True):
            return  # one writer across workers: the chief
        global_step = epoch * (self.steps_per_epoch or 0) + step
        name = f"state-{global_step:09d}.npz"
        arrays = {f"v{index}": keras.ops.convert_to_numpy(variable.value)
                  for index, variable in enumerate(_state_variables(self.model))}
        with atomic_path(self.folder / name) as tmp:
            np.savez(tmp, **arrays)
        previous = (self.read() or {}).get("file")
        self._write_pointer({"file": name, "epoch": epoch, "step": step, "steps_per_epoch": self.steps_per_epoch,
                             "global_step": global_step, "finished": False, "settings": self.settings})
        for old in self.folder.glob("state-*.npz"):
            if old.name not in (name, previous):
                old.unlink()
        self.last_save, self.last_time = (epoch, step), time.monotonic()

    def mark_finished(self):
        """Records that training ended (the final model is saved): the state files go."""
        state = self.read() or {"settings": self.settings}
        self._write_pointer({**state, "file": None, "finished": True})
        for old in self.folder.glob("state-*.npz"):
            old.unlink()

    def _write_pointer(self, state):
        atomic_write_text(self.folder / STATE_FILE, json.dumps(state, indent=2) + "\n")

    # === Callback ===
    def on_train_begin(self, logs=None):
        self.steps_per_epoch = (self.params.get("steps") or 0) + self.offset or None
        self.last_time = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = self.offset + batch + 1
        if self._due(step):
            self.save(self.epoch, step)

    def global_step(self, batch):
        """Batches trained since the run began (not since this process began), after Keras'
        `batch` of the current epoch."""
        return self.epoch * (self.steps_per_epoch or 0) + self.offset + batch + 1

    def on_epoch_end(self, epoch, logs=None):
        self.offset = 0
        self.save(epoch + 1, 0)

    def _due(self, step):
        if self.save_steps is None:
            return time.monotonic() - self.last_time >= self.save_seconds
        per_epoch = self.steps_per_epoch or 0
        done = self.epoch * per_epoch + step
        saved = self.last_save[0] * per_epoch + self.last_save[1]
        return done // self.save_steps > saved // self.save_steps


def _state_variables(model):
    """Every variable a resumed run needs, in a fixed order: the model's, then the optimizer's."""
    if not model.optimizer.built:
        with model.distribute_strategy.scope():
            model.optimizer.build(model.trainable_variables)
    return [*model.variables, *model.optimizer.variables]
