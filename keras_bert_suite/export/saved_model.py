"""`export_saved_model`: a task model as a TensorFlow SavedModel that serves raw strings.

The serving signature runs the model's own preprocessor (WordPiece tokenizer and
packing, as TensorFlow ops) and then the model, so a server needs neither Python code
from this package nor the `vocab.txt`: the vocabulary is stored inside the SavedModel.

Signatures (inputs are `tf.string` tensors; outputs float32 unless noted; b = batch):
- `BertClassifier`: `text` [b], and `text_b` [b] when exported with `pairs=True` ->
  `logits` [b, classes] and `probabilities` (softmax; sigmoid for multi_label; none for
  regression).
- `BertTokenClassifier`: `text` [b], split on whitespace -> `logits` [b, sequence, classes];
  per word, padded to the longest text: `words` [b, w] string, `predictions` [b, w] int32
  (-1 past the last word), and `tags` [b, w] string when the model has `labels`.
- `BertMultipleChoice`: `context` [b], `choices` [b, num_choices] -> `logits` and
  `probabilities` [b, num_choices].
- `BertQuestionAnswerer`: `question` [b], `context` [b] -> `start_logits`, `end_logits`
  [b, sequence]; `answer_text` [b] string, `answer_start`, `answer_end` [b] int32.

Question answering serves the FIRST window of each context only (`[CLS] question [SEP]
context [SEP]`, the context cut to fit `sequence_length`); an answer further into a long
context is not found. `answer_text` is the best span of that window: the highest start +
end logit over context pieces, start <= end, at most `max_answer_length` pieces, as
`context[answer_start:answer_end]` (offsets in characters of the original text, casing
kept). For long documents, use `BertQuestionAnswerer.answer` in Python, which windows.

The tokenizer runs TensorFlow Text ops, so the serving process must `import tensorflow_text`
before loading (TF Serving: a build with the TF Text ops); nothing else from this package
is needed.

Example:
    >>> model = BertClassifier.from_preset("minilm_l6_h384_uncased", num_classes=2)
    >>> export_saved_model(model, "exported/sentiment")
    >>> serve = tf.saved_model.load("exported/sentiment").signatures["serving_default"]
    >>> serve(text=tf.constant(["A fine film."]))["probabilities"]   # [1, 2]
"""

import contextlib
import os
import pathlib
import shutil
import tempfile

import keras
import tensorflow as tf

from keras_bert_suite.models import (
    BertClassifier,
    BertMultipleChoice,
    BertQuestionAnswerer,
    BertTokenClassifier,
)
from keras_bert_suite.models.token_classifier import OUTSIDE

SERVING_ENDPOINT = "serve"
SUPPORTED_MODELS = (BertClassifier, BertTokenClassifier, BertMultipleChoice, BertQuestionAnswerer)


def export_saved_model(model, path, pairs=False, max_answer_length=30, overwrite=False):
    """Writes `model` (with its preprocessor) to `path` as a SavedModel serving raw strings.

    Args:
        model: a `BertClassifier`, `BertTokenClassifier`, `BertMultipleChoice` or
            `BertQuestionAnswerer` built with a preprocessor (e.g. by `from_preset`).
        path: the SavedModel folder to write. It is written beside `path` first and
            renamed into place only when complete.
        pairs: `BertClassifier` only: serve sentence pairs (`text`, `text_b`).
        max_answer_length: `BertQuestionAnswerer` only: longest served answer, in pieces.
        overwrite: replace an existing non-empty `path`.

    Returns:
        `path` as a `pathlib.Path`. Load it with `tf.saved_model.load(path)` and call
        `.signatures["serving_default"]` (also available as `.serve`) with keyword inputs.
    """
    path = pathlib.Path(path)
    _check_exportable(model, pairs)
    if _is_occupied(path) and not overwrite:
        raise FileExistsError(
            f"{path} already exists and is not empty. Pass overwrite=True to replace it, "
            "or export to a new path."
        )
    input_signature, serve = _serving_function(model, pairs, max_answer_length)
    archive = keras.export.ExportArchive()
    # The endpoint saves the variables it reads. Tracking the Keras model as well would
    # store every weight a second time; the preprocessor is tracked for any lookup table.
    archive.track(model.preprocessor)
    archive.add_endpoint(SERVING_ENDPOINT, serve, input_signature=input_signature)
    with _atomic_directory(path) as staging:
        archive.write_out(str(staging), verbose=False)
    return path


def _check_exportable(model, pairs):
    if not isinstance(model, SUPPORTED_MODELS):
        names = ", ".join(cls.__name__ for cls in SUPPORTED_MODELS)
        raise TypeError(
            f"export_saved_model serves {names}; found {type(model).__name__}. Save other "
            "models with model.save('model.keras')."
        )
    if model.preprocessor is None:
        raise ValueError(
            f"This {type(model).__name__} has no preprocessor, so a SavedModel could not take raw "
            "strings. Build it with from_preset(...) or pass preprocessor=... to its constructor."
        )
    if pairs and not isinstance(model, BertClassifier):
        raise ValueError(f"pairs=True is for BertClassifier only; found {type(model).__name__}.")


# === Serving functions, one per task ===


def _strings(name, shape=(None,)):
    return tf.TensorSpec(shape, tf.string, name=name)


def _serving_function(model, pairs, max_answer_length):
    """`(input_signature, fn)`: fn takes string tensors and returns a dict of outputs."""
    preprocessor = model.preprocessor
    if isinstance(model, BertClassifier) and pairs:
        def serve(text, text_b):
            return _classifier_outputs(model, model(preprocessor((text, text_b)), training=False))

        return [_strings("text"), _strings("text_b")], serve
    if isinstance(model, BertClassifier):
        def serve(text):
            return _classifier_outputs(model, model(preprocessor(text), training=False))

        return [_strings("text")], serve
    if isinstance(model, BertTokenClassifier):
        def serve(text):
            return _token_classifier_outputs(model, text)

        return [_strings("text")], serve
    if isinstance(model, BertMultipleChoice):
        def serve(context, choices):
            logits = tf.cast(model(preprocessor((context, choices)), training=False), tf.float32)
            return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

        return [_strings("context"), _strings("choices", (None, model.num_choices))], serve

    def serve(question, context):
        return _question_answerer_outputs(model, question, context, max_answer_length)

    return [_strings("question"), _strings("context")], serve


def _classifier_outputs(model, logits):
    logits = tf.cast(logits, tf.float32)
    if model.problem_type == "regression":
        return {"logits": logits}
    if model.problem_type == "multi_label":
        return {"logits": logits, "probabilities": tf.sigmoid(logits)}
    return {"logits": logits, "probabilities": tf.nn.softmax(logits)}


def _token_classifier_outputs(model, text):
    """Per-piece logits, and per word its first piece's class, as `BertTokenClassifier.tag`
    gives it (a word cut off by the sequence length gets "O", or class 0 without "O")."""
    words, alignment = model.preprocessor.align(text)
    logits = tf.cast(model(model.preprocessor.pack(alignment.pieces), training=False), tf.float32)
    positions = alignment.first_positions.to_tensor(default_value=-1)
    piece_classes = tf.argmax(logits, axis=-1, output_type=tf.int32)
    word_classes = tf.gather(piece_classes, tf.maximum(positions, 0), batch_dims=1)
    outside = model.labels.index(OUTSIDE) if model.labels and OUTSIDE in model.labels else 0
    word_classes = tf.where(positions >= 0, word_classes, outside)
    is_word = tf.sequence_mask(words.row_lengths(), tf.shape(positions, out_type=tf.int64)[1])
    outputs = {
        "logits": logits,
        "words": words.to_tensor(default_value=""),
        "predictions": tf.where(is_word, word_classes, -1),
    }
    if model.labels:
        tags = tf.gather(tf.constant(model.labels), tf.maximum(word_classes, 0))
        outputs["tags"] = tf.where(is_word, tags, "")
    return outputs


def _question_answerer_outputs(model, question, context, max_answer_length):
    """First-window logits and the best span in it (see the module docstring)."""
    preprocessor = model.preprocessor
    outputs = model(preprocessor((question, context)), training=False)
    start_logits = tf.cast(outputs["start_logits"], tf.float32)
    end_logits = tf.cast(outputs["end_logits"], tf.float32)

    # Where the context pieces sit in the window: after [CLS] question [SEP].
    question_length = tf.minimum(
        preprocessor.tokenizer(question).row_lengths(), preprocessor.max_query_length
    )
    _, char_starts, char_ends = preprocessor.tokenizer.tokenize_with_offsets(context)
    context_length = tf.minimum(
        char_starts.row_lengths(), preprocessor.sequence_length - 3 - question_length
    )
    first_context = 2 + question_length
    positions = tf.range(preprocessor.sequence_length, dtype=tf.int64)[tf.newaxis]
    in_context = (positions >= first_context[:, tf.newaxis]) & (
        positions < (first_context + context_length)[:, tf.newaxis]
    )

    # Every start <= end within max_answer_length pieces, both in the context.
    end_minus_start = positions - tf.transpose(positions)  # [start, end]
    short_span = (end_minus_start >= 0) & (end_minus_start < max_answer_length)
    allowed = short_span[tf.newaxis] & in_context[:, :, tf.newaxis] & in_context[:, tf.newaxis, :]
    scores = start_logits[:, :, tf.newaxis] + end_logits[:, tf.newaxis, :]
    scores = tf.where(allowed, scores, -float("inf"))
    best = tf.argmax(tf.reshape(scores, [tf.shape(scores)[0], -1]), axis=-1)
    has_span = context_length > 0
    start_piece = best // preprocessor.sequence_length - first_context
    end_piece = best % preprocessor.sequence_length - first_context
    # Dense, as wide as a window: every kept piece fits, and an empty context still has a column.
    window = [None, preprocessor.sequence_length]
    char_starts, char_ends = char_starts.to_tensor(shape=window), char_ends.to_tensor(shape=window)
    answer_start = tf.where(has_span, tf.gather(char_starts, tf.maximum(start_piece, 0), batch_dims=1), 0)
    answer_end = tf.where(has_span, tf.gather(char_ends, tf.maximum(end_piece, 0), batch_dims=1), 0)
    return {
        "start_logits": start_logits,
        "end_logits": end_logits,
        "answer_text": tf.strings.substr(context, answer_start, answer_end - answer_start, unit="UTF8_CHAR"),
        "answer_start": answer_start,
        "answer_end": answer_end,
    }


# === Atomic folder write ===


def _is_occupied(path):
    """True for an existing file, or a folder with anything in it."""
    if path.is_dir() and not path.is_symlink():
        return any(path.iterdir())
    return path.exists() or path.is_symlink()


@contextlib.contextmanager
def _atomic_directory(path):
    """Yields an empty staging folder beside `path`; on success it replaces `path`.

    On an exception the staging folder is removed and `path` stays as it was: absent,
    or the previous export.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield staging
        _replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace(staging, path):
    """Renames `staging` onto `path`, moving an existing `path` aside until that succeeded."""
    if not (path.exists() or path.is_symlink()):
        os.rename(staging, path)
        return
    previous = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    previous.rmdir()
    os.rename(path, previous)
    try:
        os.rename(staging, path)
    except OSError:
        os.rename(previous, path)
        raise
    if previous.is_dir() and not previous.is_symlink():
        shutil.rmtree(previous)
    else:
        previous.unlink()
