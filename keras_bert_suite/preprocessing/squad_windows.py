"""SQuAD windows in TensorFlow ops: `run_squad.py`'s doc-stride split, max-context marks
and training targets, for every caller (`fit`, `predict`, `answer`, `kbs squad`, serving).

A question keeps its first `max_query_length` pieces; the context is cut into windows of
`room = sequence_length - len(question) - 3` pieces that start every `min(room, doc_stride)`
pieces, the last one reaching the end (a context without pieces gets no window, as in the
original); each window is packed `[CLS] question [SEP] slice [SEP]`. Tokenizing the whole
context equals the original's word-by-word tokenization, since WordPiece splits on
whitespace first; each piece keeps its character offsets in the context.

Example:
    >>> windows = make_windows(tokenizer, ["Who wrote it?"], ["It was written by Ada Lovelace."],
    ...                        sequence_length=16, doc_stride=8, max_query_length=8)
    >>> windows["inputs"]["token_ids"].shape, windows["num_windows"].numpy()
    (TensorShape([1, 16]), array([1]))
"""

import tensorflow as tf

from keras_bert_suite.preprocessing.segment_packer import pack_segments


def make_windows(tokenizer, questions, contexts, *, sequence_length, doc_stride, max_query_length,
                 answer_chars=None, answer_texts=None):
    """Every window of every `(question, context)` pair, flattened to one batch of windows.

    Args:
        tokenizer: a `WordPieceTokenizer`.
        questions, contexts: 1-D string tensors of equal length.
        sequence_length, doc_stride, max_query_length: the window settings.
        answer_chars: optional int `[b, 2]`: the characters `[start, end)` of each answer's
            whole words (`squad_examples.answer_word_chars`; -1 for no answer). With it
            each window gets its training targets.
        answer_texts: the answer texts (`""` for none), needed with `answer_chars`.

    Returns:
        A dict: `inputs` (the packed model inputs, `[w, sequence_length]` int32); per window
        its `example` index, and the `start`/`length` of its slice in context pieces; per
        window and position `doc_piece` (the context piece there), `in_doc` (True on the
        slice) and `can_start` (in the slice and this window gives the piece its most
        context); `num_windows` `[b]`; the context's ragged `pieces`, `char_starts` and
        `char_ends`; with answers, `start_positions`/`end_positions` `[w]` int32.
    """
    query = tokenizer(questions)[:, :max_query_length]
    pieces, char_starts, char_ends = tokenizer.tokenize_with_offsets(contexts)
    query_length = query.row_lengths()
    room = sequence_length - 3 - query_length  # the original's max_tokens_for_doc
    room = _with_check(room, sequence_length)
    step = tf.minimum(room, doc_stride)
    num_pieces = pieces.row_lengths()
    # Windows start at k * step; the last is the first to reach the end.
    num_windows = tf.where(num_pieces > 0, 1 + tf.maximum((num_pieces - room + step - 1) // step, 0), 0)
    example = tf.repeat(tf.range(tf.size(num_windows, out_type=tf.int64)), num_windows)
    start = tf.ragged.range(num_windows).flat_values * tf.gather(step, example)
    length = tf.minimum(tf.gather(num_pieces, example) - start, tf.gather(room, example))

    slice_index = tf.ragged.range(start, start + length) + tf.gather(pieces.row_starts(), example)[:, tf.newaxis]
    context_slice = tf.gather(pieces.flat_values, slice_index)
    token_ids, segment_ids, padding_mask = _pack(tokenizer, tf.gather(query, example), context_slice,
                                                 sequence_length)
    positions = tf.range(sequence_length, dtype=tf.int64)[tf.newaxis]
    first = tf.gather(query_length, example)[:, tf.newaxis] + 2  # first slice position
    in_doc = (positions >= first) & (positions < first + length[:, tf.newaxis])
    windows = {
        "inputs": {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
        "example": example, "start": start, "length": length, "num_windows": num_windows,
        "doc_piece": start[:, tf.newaxis] + positions - first, "in_doc": in_doc,
        "pieces": pieces, "char_starts": char_starts, "char_ends": char_ends,
    }
    windows["can_start"] = in_doc & _is_max_context(windows, sequence_length, doc_stride)
    if answer_chars is not None:
        windows.update(_window_targets(tokenizer, windows, answer_chars, answer_texts, first[:, 0]))
    return windows


def _with_check(room, sequence_length):
    """`room`, after checking every question leaves some context room (callers in Python
    check first, with `BertQuestionAnswererPreprocessor.check_questions_fit`)."""
    check = tf.debugging.assert_positive(
        tf.concat([room, [1]], 0),
        message=f"a question leaves no room for context in sequence_length={sequence_length}",
    )
    with tf.control_dependencies([check]):
        return tf.identity(room)


def _pack(tokenizer, query, context_slice, sequence_length):
    """`[CLS] query [SEP] slice [SEP]`, padded; the slice always fits, nothing is cut."""
    return pack_segments(query, context_slice, sequence_length, tokenizer.cls_token_id,
                         tokenizer.sep_token_id, tokenizer.pad_token_id)


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
    clipped = tf.clip_by_value(other, 0, tf.maximum(total - 1, 0))
    same_example = (other >= 0) & (other < total) & (tf.gather(example, clipped) == example[:, tf.newaxis])
    other_start = tf.gather(start, clipped)[:, tf.newaxis]  # [w, 1, n]
    other_length = tf.gather(length, clipped)[:, tf.newaxis]
    piece = windows["doc_piece"][:, :, tf.newaxis]  # [w, sequence, 1]
    holds = same_example[:, tf.newaxis] & (piece >= other_start) & (piece < other_start + other_length)
    score = tf.cast(tf.minimum(piece - other_start, other_start + other_length - 1 - piece), tf.float64)
    score = tf.where(holds, score + 0.01 * tf.cast(other_length, tf.float64), -float("inf"))
    best = holds & (score == tf.reduce_max(score, axis=-1, keepdims=True))
    return tf.argmax(tf.cast(best, tf.int32), axis=-1) == reach  # first best is this window


def _answer_pieces(tokenizer, windows, answer_chars, answer_texts):
    """Per example the piece span `(start, end)` of its answer, inclusive.

    The pieces of the answer's words (the original's `orig_to_tok_index` span), then
    `_improve_answer_span`: the first sub-span whose pieces are exactly the answer text's
    pieces, e.g. "1895" inside the word "(1895-1943)."; the word span when there is none.
    """
    char_starts = windows["char_starts"]
    answer_chars = tf.cast(answer_chars, char_starts.dtype)
    start = tf.reduce_sum(tf.cast(char_starts < answer_chars[:, :1], tf.int64), axis=1)
    end = tf.reduce_sum(tf.cast(char_starts < answer_chars[:, 1:], tf.int64), axis=1) - 1
    answer = tokenizer(answer_texts)
    answer_length = answer.row_lengths()
    width = tf.maximum(end - start + 1, 0)
    # At least one offset, so a batch without answers still has a (never matching) column.
    offset = tf.range(tf.reduce_max(tf.concat([width, [1]], 0)), dtype=tf.int64)[tf.newaxis, :, tf.newaxis]
    j = tf.range(tf.reduce_max(tf.concat([answer_length, [0]], 0)), dtype=tf.int64)[tf.newaxis, tf.newaxis]
    doc = windows["pieces"].to_tensor(default_value=-1)
    index = start[:, tf.newaxis, tf.newaxis] + offset + j  # [b, offset, j]
    found = tf.gather(doc, tf.clip_by_value(index, 0, tf.maximum(tf.shape(doc, tf.int64)[1] - 1, 0)), batch_dims=1)
    wanted = tf.cast(answer.to_tensor(default_value=-2), found.dtype)[:, tf.newaxis]
    beyond = j >= answer_length[:, tf.newaxis, tf.newaxis]
    match = tf.reduce_all((found == wanted) | beyond, axis=-1)  # [b, offset]
    match &= offset[..., 0] + answer_length[:, tf.newaxis] <= width[:, tf.newaxis]
    match &= (answer_length > 0)[:, tf.newaxis]
    improved = tf.reduce_any(match, axis=1)
    new_start = start + tf.argmax(tf.cast(match, tf.int32), axis=1, output_type=tf.int64)
    return tf.where(improved, new_start, start), tf.where(improved, new_start + answer_length - 1, end)


def _window_targets(tokenizer, windows, answer_chars, answer_texts, first):
    """Each window's answer positions; `(0, 0)`, the `[CLS]` token, when the answer is not
    entirely inside the window or the question has none (what SQuAD 2.0 trains for)."""
    start, end = _answer_pieces(tokenizer, windows, answer_chars, answer_texts)
    example = windows["example"]
    has_answer = tf.gather(answer_chars[:, 0] >= 0, example)
    answer_start, answer_end = tf.gather(start, example), tf.gather(end, example)
    window_start, window_end = windows["start"], windows["start"] + windows["length"] - 1
    inside = has_answer & (answer_start >= window_start) & (answer_end <= window_end)
    return {
        "start_positions": tf.cast(tf.where(inside, answer_start - window_start + first, 0), tf.int32),
        "end_positions": tf.cast(tf.where(inside, answer_end - window_start + first, 0), tf.int32),
    }
