"""`TaskPostprocessor`: the post-processing and serving function bound to one task model.

Each task's post-processor lives in this package and registers itself for its task class
(`models.task.register_postprocessor`); `model.postprocessor` finds it, and
`model.serving_function()` (which `export_saved_model` serves) asks it. A new task adds its
model and its post-processor; export needs no edit.

Example:
    >>> model.postprocessor.serving_function()   # (input_signature, fn of string tensors)
"""

import tensorflow as tf


def string_spec(name, shape=(None,)):
    """A `tf.string` input of a serving signature."""
    return tf.TensorSpec(shape, tf.string, name=name)


class TaskPostprocessor:
    """Holds the task model. Subclasses define `serving_function(**options)` returning
    `(input_signature, fn)`; its keyword arguments are the task's serving options."""

    def __init__(self, model):
        self.model = model

    def require_preprocessor(self, method):
        """The model's preprocessor; a ValueError naming `method` when it has none."""
        if self.model.preprocessor is None:
            raise ValueError(
                f"{method}() needs a preprocessor to read raw text: this {type(self.model).__name__} was "
                "built without one. Build it with from_preset(...) or pass preprocessor=... to its constructor."
            )
        return self.model.preprocessor
