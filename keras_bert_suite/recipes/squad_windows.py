"""SQuAD windows: one question + overlapping slices of a long context, packed for BERT.

Follows google-research/bert's `run_squad.py`: each context word is tokenized on its own
(so every piece knows its word), the context is cut into windows of
`max_seq_length - len(query) - 3` pieces that start every `doc_stride` pieces, and each
window is laid out as `[CLS] query [SEP] context slice [SEP]`, padded.

The tokenizer is any callable `tokenize(text) -> [(id, piece), ...]` (WordPiece pieces,
continuations prefixed `##`), so this module needs no model and no TensorFlow.

Example:
    >>> from keras_bert_suite.recipes.squad_data import make_examples
    >>> vocab = {"[PAD]": 0, "[CLS]": 1, "[SEP]": 2}
    >>> def tokenize(text):
    ...     return [(vocab.setdefault(w, len(vocab)), w) for w in text.lower().split()]
    >>> example = make_examples(["who?"], ["Ada wrote it"])[0]
    >>> feature = make_windows(example, tokenize, cls_id=1, sep_id=2, max_seq_length=8)[0]
    >>> feature.tokens
    ['[CLS]', 'who?', '[SEP]', 'ada', 'wrote', 'it', '[SEP]']
"""

import collections
import dataclasses

import numpy as np

CLS_PIECE = "[CLS]"
SEP_PIECE = "[SEP]"

DocSpan = collections.namedtuple("DocSpan", ["start", "length"])


@dataclasses.dataclass
class SquadFeature:
    """One packed window of one example.

    Attributes:
        example_index: position of the example in the list the windows were made from.
        doc_span_index: which window of that example (0, 1, ...).
        token_ids, segment_ids, padding_mask: int32 arrays of length `max_seq_length`.
        tokens: the pieces of the window, unpadded (`[CLS]`, query, `[SEP]`, context, `[SEP]`).
        token_to_orig_map: window token index -> context word index (context tokens only).
        token_is_max_context: window token index -> True when this window gives the token
            its most context (only those tokens may start an answer).
        start_position, end_position: training targets (window token indexes); 0, 0 when
            the answer is not fully inside the window or the question is impossible; `None`
            when not made for training.
    """

    example_index: int
    doc_span_index: int
    token_ids: np.ndarray
    segment_ids: np.ndarray
    padding_mask: np.ndarray
    tokens: list
    token_to_orig_map: dict
    token_is_max_context: dict
    start_position: int | None = None
    end_position: int | None = None


def tokenize_context(doc_tokens, tokenize):
    """Tokenizes every whitespace word separately and records both directions of the map.

    Tokenizing word by word is what lets a predicted piece be traced back to the original
    word (and so to the original, uncleaned text) after decoding.

    Returns:
        `(pieces, tok_to_orig_index, orig_to_tok_index)` where `pieces` is a list of
        `(id, piece)`, `tok_to_orig_index[i]` is the word of piece `i` and
        `orig_to_tok_index[w]` the first piece of word `w`.
    """
    pieces = []
    tok_to_orig_index = []
    orig_to_tok_index = []
    for word_index, word in enumerate(doc_tokens):
        orig_to_tok_index.append(len(pieces))
        for piece in tokenize(word):
            tok_to_orig_index.append(word_index)
            pieces.append(piece)
    return pieces, tok_to_orig_index, orig_to_tok_index


def improve_answer_span(doc_pieces, input_start, input_end, answer_pieces):
    """Shrinks a piece span to the tightest one whose pieces equal the answer's pieces.

    The gold span is known in whole words, but the answer may be part of a word: for
    "(1895-1943)." with answer "1895" the word span covers every piece of the word, while
    the tokenized answer is just "1895". Searching inside the word span for exactly the
    answer's pieces gives the training target the model can actually predict.

    Args:
        doc_pieces: the context piece strings.
        input_start, input_end: the piece span covering the answer's words (inclusive).
        answer_pieces: the answer text's piece strings.

    Returns:
        `(start, end)`, the improved span, or the input span when no exact match exists.
    """
    answer_text = " ".join(answer_pieces)
    for new_start in range(input_start, input_end + 1):
        for new_end in range(input_end, new_start - 1, -1):
            if " ".join(doc_pieces[new_start : new_end + 1]) == answer_text:
                return new_start, new_end
    return input_start, input_end


def make_doc_spans(num_pieces, max_tokens_for_doc, doc_stride):
    """Cuts `num_pieces` context pieces into overlapping windows.

    A window holds at most `max_tokens_for_doc` pieces; the next one starts
    `min(length, doc_stride)` pieces later, and the last one ends exactly at the end of the
    context, so every piece is in at least one window.

    Returns:
        A list of `DocSpan(start, length)`.
    """
    doc_spans = []
    start = 0
    while start < num_pieces:
        length = min(num_pieces - start, max_tokens_for_doc)
        doc_spans.append(DocSpan(start, length))
        if start + length == num_pieces:
            break
        start += min(length, doc_stride)
    return doc_spans


def is_max_context(doc_spans, span_index, position):
    """True when window `span_index` gives the piece at `position` its most context.

    A piece in several windows is scored in each by
    `min(pieces left of it, pieces right of it) + 0.01 * window length` (the length term
    breaks ties toward longer windows); only the best window may predict an answer that
    starts on it, so each start is judged where the model sees most around it.
    """
    best_score = None
    best_index = None
    for index, span in enumerate(doc_spans):
        end = span.start + span.length - 1
        if position < span.start or position > end:
            continue
        score = min(position - span.start, end - position) + 0.01 * span.length
        if best_score is None or score > best_score:
            best_score = score
            best_index = index
    return best_index == span_index


def _answer_piece_span(example, tokenize_text, pieces, orig_to_tok_index):
    """Piece span `(start, end)` of the first answer, improved to the answer's own pieces."""
    if example.start_word is None:
        raise ValueError(
            f"example {example.qas_id!r} has no answer word span; read it with "
            "read_squad_file(..., is_training=True) or make_examples(..., answers=...) "
            "before making training windows"
        )
    start = orig_to_tok_index[example.start_word]
    if example.end_word < len(example.doc_tokens) - 1:
        end = orig_to_tok_index[example.end_word + 1] - 1
    else:
        end = len(pieces) - 1
    answer_pieces = [piece for _, piece in tokenize_text(example.answers[0]["text"])]
    doc_pieces = [piece for _, piece in pieces]
    return improve_answer_span(doc_pieces, start, end, answer_pieces)


def make_windows(
    example,
    tokenize,
    *,
    cls_id,
    sep_id,
    pad_id=0,
    max_seq_length=384,
    doc_stride=128,
    max_query_length=64,
    is_training=False,
    tokenize_text=None,
    example_index=0,
):
    """Turns one `SquadExample` into its packed `SquadFeature` windows.

    Args:
        example: a `SquadExample`.
        tokenize: `tokenize(word) -> [(id, piece), ...]` applied to each context word.
        cls_id, sep_id, pad_id: ids of `[CLS]`, `[SEP]` and padding.
        max_seq_length: length of every window, padding included.
        doc_stride: pieces between the starts of consecutive windows.
        max_query_length: the question is cut to this many pieces.
        is_training: also compute `start_position`/`end_position`.
        tokenize_text: tokenizer for whole texts (the question, the answer); defaults to
            `tokenize`.
        example_index: stored in each feature, to find the example again when decoding.

    Returns:
        A list of `SquadFeature` (empty when the context has no words).
    """
    tokenize_text = tokenize_text or tokenize
    query = list(tokenize_text(example.question))[:max_query_length]
    max_tokens_for_doc = max_seq_length - len(query) - 3
    if max_tokens_for_doc <= 0:
        raise ValueError(
            f"max_seq_length={max_seq_length} leaves no room for context after a question of "
            f"{len(query)} pieces and 3 special tokens; raise max_seq_length or lower "
            f"max_query_length (now {max_query_length})"
        )
    if doc_stride <= 0:
        raise ValueError(f"doc_stride must be a positive number of pieces, found {doc_stride}")
    pieces, tok_to_orig_index, orig_to_tok_index = tokenize_context(example.doc_tokens, tokenize)
    answer_span = None
    if is_training and not example.is_impossible and pieces:
        answer_span = _answer_piece_span(example, tokenize_text, pieces, orig_to_tok_index)
    doc_spans = make_doc_spans(len(pieces), max_tokens_for_doc, doc_stride)
    doc_offset = len(query) + 2
    features = []
    for span_index, span in enumerate(doc_spans):
        ids = [cls_id] + [token_id for token_id, _ in query] + [sep_id]
        tokens = [CLS_PIECE] + [piece for _, piece in query] + [SEP_PIECE]
        token_to_orig_map = {}
        token_is_max_context = {}
        for position in range(span.start, span.start + span.length):
            token_to_orig_map[len(tokens)] = tok_to_orig_index[position]
            token_is_max_context[len(tokens)] = is_max_context(doc_spans, span_index, position)
            ids.append(pieces[position][0])
            tokens.append(pieces[position][1])
        ids.append(sep_id)
        tokens.append(SEP_PIECE)
        segment_ids = [0] * doc_offset + [1] * (span.length + 1)
        padding = max_seq_length - len(ids)
        feature = SquadFeature(
            example_index=example_index,
            doc_span_index=span_index,
            token_ids=np.array(ids + [pad_id] * padding, dtype="int32"),
            segment_ids=np.array(segment_ids + [0] * padding, dtype="int32"),
            padding_mask=np.array([1] * len(ids) + [0] * padding, dtype="int32"),
            tokens=tokens,
            token_to_orig_map=token_to_orig_map,
            token_is_max_context=token_is_max_context,
        )
        if is_training:
            feature.start_position, feature.end_position = _window_targets(answer_span, span, doc_offset)
        features.append(feature)
    return features


def _window_targets(answer_span, span, doc_offset):
    """Answer position inside one window; `(0, 0)` (the `[CLS]` token) when it is not all there.

    Pointing at `[CLS]` teaches the model "no answer in this window", which is also what a
    SQuAD 2.0 impossible question is trained to predict.
    """
    if answer_span is None:
        return 0, 0
    start, end = answer_span
    if start < span.start or end > span.start + span.length - 1:
        return 0, 0
    return start - span.start + doc_offset, end - span.start + doc_offset


def make_features(examples, tokenize, **window_options):
    """`make_windows` over a list of examples, numbering them in order.

    Args:
        examples: `SquadExample`s.
        tokenize: as in `make_windows`.
        **window_options: every keyword argument of `make_windows` except `example_index`.

    Returns:
        All windows of all examples, in order.
    """
    features = []
    for example_index, example in enumerate(examples):
        features.extend(make_windows(example, tokenize, example_index=example_index, **window_options))
    return features


def features_to_arrays(features):
    """Stacks features into model inputs, plus targets when they were made for training.

    Returns:
        `{"token_ids", "segment_ids", "padding_mask"}` int32 arrays of shape
        `[num_features, max_seq_length]`, with `"start_positions"`/`"end_positions"`
        (shape `[num_features]`) when every feature has training targets.
    """
    if not features:
        raise ValueError("no features to stack; the examples produced no windows (empty contexts?)")
    arrays = {
        "token_ids": np.stack([feature.token_ids for feature in features]),
        "segment_ids": np.stack([feature.segment_ids for feature in features]),
        "padding_mask": np.stack([feature.padding_mask for feature in features]),
    }
    if all(feature.start_position is not None for feature in features):
        arrays["start_positions"] = np.array([feature.start_position for feature in features], dtype="int32")
        arrays["end_positions"] = np.array([feature.end_position for feature in features], dtype="int32")
    return arrays
