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
- `BertQuestionAnswerer`: `question` [b], `context` [b] -> `answer_text` [b] string,
  `answer_start`, `answer_end` [b] int32, `score` and `null_score` [b].
- `BertMaskedLM`: `text` [b] with `[MASK]`s -> per mask, left to right, the `top_k` best
  tokens as `BertMaskedLM.fill_mask` gives them: `tokens` [b, m, k] string, `token_ids`
  [b, m, k] int32, `scores` [b, m, k] (softmax probabilities), and `num_masks` [b] int32;
  m is the most masks of any text in the batch, k = min(top_k, vocabulary size).

Fill-mask reports only the masks within `sequence_length` (`fill_mask` raises on a mask cut
off, and on a text without one); `num_masks` says how many each text got, possibly 0, and
the slots past it hold token "", id -1 and score 0.

Question answering windows every context as `run_squad.py` and `BertQuestionAnswerer.answer`
do: the question cut to `max_query_length` pieces, then `[CLS] question [SEP] slice [SEP]`
windows of the context that start every `doc_stride` pieces (fewer when a window holds
fewer), all windows of the batch run through the model at once (`sequence_length` must
exceed `max_query_length + 3`). `answer_text` is the best span over all of an example's windows:
the highest start + end logit (`score`) with both ends in the window's context, start <= end,
at most `max_answer_length` pieces, and a start piece that this window gives its most
context; it is `context[answer_start:answer_end]` (offsets in characters of the original
text, casing kept, spanning whole pieces; `answer` may trim a piece to the answer's words).
`null_score` is the lowest `[CLS]` start + end logit over the example's windows, for SQuAD
2.0: predict "no answer" when `null_score - score` exceeds your threshold. An empty context
gets one empty window: answer "", offsets 0 and `score` -inf. Per-window logits are not
served; `BertQuestionAnswerer.answer` in Python gives the n-best list.

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
    BertMaskedLM,
    BertMultipleChoice,
    BertQuestionAnswerer,
    BertTokenClassifier,
)
from keras_bert_suite.models.masked_lm import MASK_TEXT
from keras_bert_suite.models.token_classifier import OUTSIDE

SERVING_ENDPOINT = "serve"
SUPPORTED_MODELS = (BertClassifier, BertTokenClassifier, BertMultipleChoice, BertQuestionAnswerer, BertMaskedLM)


def export_saved_model(model, path, *, pairs=False, max_answer_length=30, top_k=5, overwrite=False):
    """Writes `model` (with its preprocessor) to `path` as a SavedModel serving raw strings.

    Args:
        model: a `BertClassifier`, `BertTokenClassifier`, `BertMultipleChoice`,
            `BertQuestionAnswerer` or `BertMaskedLM` built with a preprocessor (e.g. by
            `from_preset`).
        path: the SavedModel folder to write. It is written beside `path` first and
            renamed into place only when complete.
        pairs: `BertClassifier` only: serve sentence pairs (`text`, `text_b`).
        max_answer_length: `BertQuestionAnswerer` only: longest served answer, in pieces.
        top_k: `BertMaskedLM` only: tokens served per `[MASK]`.
        overwrite: replace an existing non-empty `path`.

    Returns:
        `path` as a `pathlib.Path`. Load it with `tf.saved_model.load(path)` and call
        `.signatures["serving_default"]` (also available as `.serve`) with keyword inputs.
    """
    path = pathlib.Path(path)
    _check_exportable(model, pairs)
    if max_answer_length < 1:
        raise ValueError(f"max_answer_length must be at least 1 piece; found {max_answer_length}.")
    if not (isinstance(top_k, int) and not isinstance(top_k, bool) and top_k >= 1):
        raise ValueError(f"top_k must be a positive int; found {top_k!r}.")
    if _is_occupied(path) and not overwrite:
        raise FileExistsError(
            f"{path} already exists and is not empty. Pass overwrite=True to replace it, "
            "or export to a new path."
        )
    input_signature, serve = _serving_function(model, pairs, max_answer_length, top_k)
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
    if isinstance(model, BertQuestionAnswerer):
        preprocessor = model.preprocessor
        if preprocessor.sequence_length - preprocessor.max_query_length - 3 < 1:
            raise ValueError(
                f"sequence_length={preprocessor.sequence_length} leaves no room for context after a "
                f"question of max_query_length={preprocessor.max_query_length} pieces and 3 special "
                "tokens; raise sequence_length or lower max_query_length."
            )


# === Serving functions, one per task ===


def _strings(name, shape=(None,)):
    return tf.TensorSpec(shape, tf.string, name=name)


def _serving_function(model, pairs, max_answer_length, top_k):
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
    if isinstance(model, BertMaskedLM):
        def serve(text):
            return _masked_lm_outputs(model, text, top_k)

        return [_strings("text")], serve

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


def _masked_lm_outputs(model, text, top_k):
    """`fill_mask` as TensorFlow ops: the parts between `[MASK]`s are tokenized and joined
    with the mask id, packed, and the model scores every mask within the sequence."""
    tokenizer = model.preprocessor.tokenizer
    parts = tf.strings.split(text, MASK_TEXT)  # [b, parts]
    pieces = tokenizer(parts.flat_values)  # [all parts, pieces]
    mask = tf.fill([pieces.nrows(), 1], tf.constant(tokenizer.mask_token_id, pieces.dtype))
    # Every part followed by a mask, joined per text, without the mask after the last part.
    ids = parts.with_flat_values(tf.concat([pieces, mask], axis=1)).merge_dims(1, 2)[:, :-1]
    inputs = model.preprocessor.pack(ids)
    found = tf.where(inputs["token_ids"] == tokenizer.mask_token_id)  # [n, 2] in row order
    positions = tf.RaggedTensor.from_value_rowids(
        tf.cast(found[:, 1], tf.int32), found[:, 0], nrows=tf.shape(text, out_type=tf.int64)[0]
    )
    num_masks = tf.cast(positions.row_lengths(), tf.int32)
    logits = tf.cast(model(dict(inputs, mask_positions=positions.to_tensor()), training=False), tf.float32)
    best = tf.math.top_k(logits, k=min(top_k, tokenizer.vocabulary_size()))  # ties: lower id first
    scores = tf.gather(tf.nn.softmax(logits), best.indices, batch_dims=2)
    is_mask = (tf.range(tf.shape(logits)[1]) < num_masks[:, tf.newaxis])[:, :, tf.newaxis]
    tokens = tf.gather(tf.constant(tokenizer.get_vocabulary()), best.indices)
    return {
        "tokens": tf.where(is_mask, tokens, ""),
        "token_ids": tf.where(is_mask, best.indices, -1),
        "scores": tf.where(is_mask, scores, 0.0),
        "num_masks": num_masks,
    }


def _question_answerer_windows(preprocessor, question, context):
    """Every `run_squad.py` window of every pair, flattened to one batch of windows.

    Returns a dict: `inputs` (packed model inputs, [w, sequence_length]); per window its
    `example`, and the `start`/`length` of its context slice in context pieces; per window
    and position, `doc_piece` (the context piece there) and `in_doc` (True on the slice);
    `num_windows` [b]; and the context's ragged `pieces`, `char_starts`, `char_ends`.
    """
    tokenizer = preprocessor.tokenizer
    sequence_length = preprocessor.sequence_length
    query = tokenizer(question)[:, : preprocessor.max_query_length]
    pieces, char_starts, char_ends = tokenizer.tokenize_with_offsets(context)
    room = sequence_length - 3 - query.row_lengths()  # max_tokens_for_doc
    step = tf.minimum(room, preprocessor.doc_stride)
    num_pieces = pieces.row_lengths()
    # Windows start at k * step; the last is the first to reach the end (at least one).
    num_windows = 1 + tf.maximum((num_pieces - room + step - 1) // step, 0)
    example = tf.repeat(tf.range(tf.size(num_windows, out_type=tf.int64)), num_windows)
    start = tf.ragged.range(num_windows).flat_values * tf.gather(step, example)
    length = tf.minimum(tf.gather(num_pieces, example) - start, tf.gather(room, example))

    positions = tf.range(sequence_length, dtype=tf.int64)[tf.newaxis]
    first = tf.gather(query.row_lengths(), example)[:, tf.newaxis] + 2  # first slice position
    last = first + length[:, tf.newaxis]  # the final [SEP]
    in_query = (positions >= 1) & (positions < first - 1)
    in_doc = (positions >= first) & (positions < last)
    doc_piece = start[:, tf.newaxis] + positions - first
    query_ids = tf.gather(query.to_tensor(shape=[None, preprocessor.max_query_length]), example)
    query_ids = tf.gather(query_ids, tf.clip_by_value(positions[0] - 1, 0, preprocessor.max_query_length - 1),
                          axis=1)
    flat_ids = tf.concat([pieces.flat_values, [tokenizer.pad_token_id]], 0)  # + a pad for "none"
    flat_index = tf.gather(pieces.row_starts(), example)[:, tf.newaxis] + doc_piece
    doc_ids = tf.gather(flat_ids, tf.where(in_doc, flat_index, tf.size(flat_ids, out_type=tf.int64) - 1))
    ids = tf.where(in_query, query_ids, doc_ids)
    ids = tf.where((positions == first - 1) | (positions == last), tokenizer.sep_token_id, ids)
    ids = tf.where(positions == 0, tokenizer.cls_token_id, ids)
    inputs = {
        "token_ids": tf.cast(ids, tf.int32),
        "segment_ids": tf.cast(in_doc | (positions == last), tf.int32),
        "padding_mask": tf.cast(positions <= last, tf.int32),
    }
    return {
        "inputs": inputs, "example": example, "start": start, "length": length, "doc_piece": doc_piece,
        "in_doc": in_doc, "num_windows": num_windows, "pieces": pieces, "char_starts": char_starts,
        "char_ends": char_ends,
    }


def _is_max_context(windows, sequence_length, doc_stride):
    """[w, sequence_length] bool: the window gives the piece there its most context.

    `run_squad.py`'s `_check_is_max_context`: a piece scores `min(pieces left of it, pieces
    right of it) + 0.01 * window length` in each window holding it (float64, as in Python);
    the best window wins, the earlier on ties. Windows overlap by less than
    `sequence_length - 3` pieces, so only the `ceil((sequence_length - 3) / doc_stride)`
    windows either side can hold a piece of this one.
    """
    reach = -(-(sequence_length - 3) // doc_stride)
    example, start, length = windows["example"], windows["start"], windows["length"]
    total = tf.size(example, out_type=tf.int64)
    other = tf.range(total)[:, tf.newaxis] + tf.range(-reach, reach + 1, dtype=tf.int64)  # [w, n]
    clipped = tf.clip_by_value(other, 0, total - 1)
    same_example = (other >= 0) & (other < total) & (tf.gather(example, clipped) == example[:, tf.newaxis])
    other_start = tf.gather(start, clipped)[:, tf.newaxis]  # [w, 1, n]
    other_length = tf.gather(length, clipped)[:, tf.newaxis]
    piece = windows["doc_piece"][:, :, tf.newaxis]  # [w, sequence, 1]
    holds = same_example[:, tf.newaxis] & (piece >= other_start) & (piece < other_start + other_length)
    score = tf.cast(tf.minimum(piece - other_start, other_start + other_length - 1 - piece), tf.float64)
    score = tf.where(holds, score + 0.01 * tf.cast(other_length, tf.float64), -float("inf"))
    best = holds & (score == tf.reduce_max(score, axis=-1, keepdims=True))
    return tf.argmax(tf.cast(best, tf.int32), axis=-1) == reach  # first best is this window


def _question_answerer_outputs(model, question, context, max_answer_length):
    """The best span over all windows of each pair (see the module docstring)."""
    preprocessor = model.preprocessor
    sequence_length = preprocessor.sequence_length
    windows = _question_answerer_windows(preprocessor, question, context)
    outputs = model(windows["inputs"], training=False)
    start_logits = tf.cast(outputs["start_logits"], tf.float32)
    end_logits = tf.cast(outputs["end_logits"], tf.float32)

    # Per window, every (start, start + offset) with offset < max_answer_length: [w, seq, A].
    in_doc = windows["in_doc"]
    can_start = in_doc & _is_max_context(windows, sequence_length, preprocessor.doc_stride)
    ends = tf.range(sequence_length)[:, tf.newaxis] + tf.range(max_answer_length)  # [seq, A]
    widen = [[0, 0], [0, max_answer_length]]
    can_end = tf.gather(tf.pad(in_doc, widen), ends, axis=1)
    scores = start_logits[:, :, tf.newaxis] + tf.gather(tf.pad(end_logits, widen), ends, axis=1)
    scores = tf.where(can_start[:, :, tf.newaxis] & can_end, scores, -float("inf"))
    scores = tf.reshape(scores, [tf.shape(scores)[0], -1])
    # No span (-inf) becomes float32.min, the floor of the segment ops below.
    window_score = tf.maximum(tf.reduce_max(scores, axis=-1), tf.float32.min)
    window_best = tf.argmax(scores, axis=-1)
    start_position = window_best // max_answer_length
    end_position = start_position + window_best % max_answer_length

    # Per example, the best window (the earlier on ties).
    example, num_examples = windows["example"], tf.size(windows["num_windows"])
    score = tf.math.unsorted_segment_max(window_score, example, num_examples)
    window_index = tf.range(tf.size(example, out_type=tf.int64))
    window = tf.where(window_score == tf.gather(score, example), window_index, tf.int64.max)
    best_window = tf.math.unsorted_segment_min(window, example, num_examples)
    has_span = score > tf.float32.min
    score = tf.where(has_span, score, -float("inf"))
    doc_piece = tf.gather(windows["doc_piece"], best_window)
    piece_row = windows["pieces"].row_starts()

    def char_offset(offsets, position):
        flat = tf.concat([tf.cast(offsets.flat_values, tf.int32), [0]], 0)
        index = piece_row + tf.gather(doc_piece, tf.gather(position, best_window), batch_dims=1)
        return tf.where(has_span, tf.gather(flat, tf.where(has_span, index, tf.size(flat, tf.int64) - 1)), 0)

    answer_start = char_offset(windows["char_starts"], start_position)
    answer_end = char_offset(windows["char_ends"], end_position)
    null_logits = start_logits[:, 0] + end_logits[:, 0]
    return {
        "answer_text": tf.strings.substr(context, answer_start, answer_end - answer_start, unit="UTF8_CHAR"),
        "answer_start": answer_start,
        "answer_end": answer_end,
        "score": score,
        "null_score": tf.math.unsorted_segment_min(null_logits, example, num_examples),
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
