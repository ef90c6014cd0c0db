"""Answer spans from start/end logits, in TensorFlow ops: `run_squad.py`'s candidate rule.

Per window, the `n_best_size` best starts and the `n_best_size` best ends are paired; a pair
stays when both ends lie in the window's context slice, the start is a piece this window
gives its most context, start <= end and the span has at most `max_answer_length` pieces.
Candidates are ranked by start + end logit (ties keep window, start rank, end rank order).
The null ("no answer") score of an example is its lowest `[CLS]` start + end over windows.

One deviation from the original, on purpose: the best starts and ends are chosen among the
context pieces, not over every position. The original's top list can be filled by padding
or question tokens (an untrained or lightly trained model scores them high), leaving no
valid span; choosing among context pieces only adds candidates, so every span the original
considers is still considered.

`kbs squad`, `BertQuestionAnswerer.answer` and the exported SavedModel all call
`span_candidates`; Python only turns the winning pieces into text (`answers.py`).

Example:
    >>> candidates, null = span_candidates(windows, start_logits, end_logits)
    >>> candidates["char_start"][0, 0], candidates["char_end"][0, 0]   # best span of question 0
"""

import tensorflow as tf

CANDIDATE_KEYS = ("window", "start", "end", "start_logit", "end_logit", "char_start", "char_end")


def span_candidates(windows, start_logits, end_logits, *, n_best_size=20, max_answer_length=30):
    """Every valid candidate span of every example, best first.

    Args:
        windows: what `squad_windows.make_windows` returns.
        start_logits, end_logits: `[windows, sequence_length]` model outputs.
        n_best_size: starts and ends tried per window.
        max_answer_length: the longest span, in pieces.

    Returns:
        `(candidates, null)`: `candidates` maps each of `CANDIDATE_KEYS` to a ragged
        `[examples, None]` tensor: the window, the start and end positions in it, their
        logits (float64), and the span's characters `[char_start, char_end)` in the context.
        `null` holds per example the `window` (-1 when there is none) and the
        `start_logit`/`end_logit` of its lowest `[CLS]` score (+inf without a window).
    """
    start_logits = tf.cast(start_logits, tf.float64)
    end_logits = tf.cast(end_logits, tf.float64)
    in_doc, can_start = windows["in_doc"], windows["can_start"]
    for name, logits in (("start_logits", start_logits), ("end_logits", end_logits)):
        if logits.shape.is_fully_defined() and in_doc.shape.is_fully_defined() and logits.shape != in_doc.shape:
            raise ValueError(
                f"{name} has shape {logits.shape.as_list()} but the windows are {in_doc.shape.as_list()} "
                "[windows, sequence_length]; pass the model's outputs for exactly these windows, in order."
            )
    k = min(n_best_size, start_logits.shape[1] or n_best_size)
    best_starts = tf.math.top_k(tf.where(in_doc, start_logits, -float("inf")), k=k)  # ties: lower index first
    best_ends = tf.math.top_k(tf.where(in_doc, end_logits, -float("inf")), k=k)
    start = best_starts.indices[:, :, tf.newaxis]  # [w, k, 1]
    end = best_ends.indices[:, tf.newaxis, :]  # [w, 1, k]
    valid = (tf.gather(can_start, start, batch_dims=1) & tf.gather(in_doc, end, batch_dims=1)
             & (end >= start) & (end - start < max_answer_length))
    window = tf.broadcast_to(tf.range(tf.shape(valid)[0])[:, tf.newaxis, tf.newaxis], tf.shape(valid))
    fields = {
        "window": window,
        "start": tf.broadcast_to(start, tf.shape(valid)),
        "end": tf.broadcast_to(end, tf.shape(valid)),
        "start_logit": tf.broadcast_to(best_starts.values[:, :, tf.newaxis], tf.shape(valid)),
        "end_logit": tf.broadcast_to(best_ends.values[:, tf.newaxis, :], tf.shape(valid)),
    }
    fields = {name: tf.boolean_mask(value, valid) for name, value in fields.items()}  # window-major order
    example = tf.gather(windows["example"], fields["window"])
    order = tf.argsort(fields["start_logit"] + fields["end_logit"], direction="DESCENDING", stable=True)
    order = tf.gather(order, tf.argsort(tf.gather(example, order), stable=True))
    fields = {name: tf.gather(value, order) for name, value in fields.items()}
    fields["char_start"] = _char_offsets(windows, windows["char_starts"], fields["window"], fields["start"])
    fields["char_end"] = _char_offsets(windows, windows["char_ends"], fields["window"], fields["end"])
    num_examples = tf.size(windows["num_windows"], out_type=tf.int64)
    rows = tf.gather(example, order)
    candidates = {name: tf.RaggedTensor.from_value_rowids(value, rows, nrows=num_examples)
                  for name, value in fields.items()}
    return candidates, _null_scores(windows, start_logits, end_logits, num_examples)


def _char_offsets(windows, offsets, window, position):
    """The context character offset of the piece at `position` of each `window`."""
    example = tf.gather(windows["example"], window)
    piece = tf.gather_nd(windows["doc_piece"], tf.stack([tf.cast(window, tf.int64), tf.cast(position, tf.int64)], 1))
    flat = tf.gather(windows["pieces"].row_starts(), example) + piece
    return tf.cast(tf.gather(offsets.flat_values, flat), tf.int32)


def _null_scores(windows, start_logits, end_logits, num_examples):
    """Per example the window with the lowest `[CLS]` start + end (the earlier on ties)."""
    example = windows["example"]
    score = start_logits[:, 0] + end_logits[:, 0]
    lowest = tf.math.unsorted_segment_min(score, example, num_examples)  # +max without windows
    index = tf.range(tf.size(example, out_type=tf.int64))
    window = tf.math.unsorted_segment_min(
        tf.where(score == tf.gather(lowest, example), index, tf.int64.max), example, num_examples)
    has_window = windows["num_windows"] > 0
    pick = tf.where(has_window, window, tf.size(example, out_type=tf.int64))  # past the end: +inf

    def logit(logits):
        return tf.gather(tf.concat([logits[:, 0], [float("inf")]], 0), pick)

    return {"window": tf.where(has_window, window, -1), "start_logit": logit(start_logits),
            "end_logit": logit(end_logits)}


def best_spans(candidates, null, contexts):
    """The best candidate of every example, as served: `answer_text`, `answer_start`,
    `answer_end` (characters), `score` (start + end logit; -inf without a candidate)
    and `null_score` (+inf without a window)."""
    first = {name: value[:, :1].to_tensor(shape=[None, 1])[:, 0] for name, value in candidates.items()}
    has_span = candidates["window"].row_lengths() > 0
    answer_start = tf.where(has_span, first["char_start"], 0)
    answer_end = tf.where(has_span, first["char_end"], 0)
    score = tf.where(has_span, first["start_logit"] + first["end_logit"], -float("inf"))
    return {
        "answer_text": tf.strings.substr(contexts, answer_start, answer_end - answer_start, unit="UTF8_CHAR"),
        "answer_start": answer_start,
        "answer_end": answer_end,
        "score": tf.cast(score, tf.float32),
        "null_score": tf.cast(null["start_logit"] + null["end_logit"], tf.float32),
    }
