"""Test oracle: google-research/bert `run_squad.py`'s SQuAD windows and decoding in plain Python.

A line-by-line transcription of `convert_examples_to_features` (word-by-word tokenization,
`_DocSpan`s, `_check_is_max_context`, `_improve_answer_span`, the training targets) and of
`write_predictions` (`_get_best_indexes`, the prelim/n-best rule, `get_final_text`,
`_compute_softmax`). It keeps the package's former pure-Python SQuAD code, which was such a
transcription, and shares no code with the TensorFlow ops it checks
(`preprocessing.squad_windows`, `postprocessing.spans`, `postprocessing.answers`).

One deliberate deviation, the package's own (see `postprocessing/spans.py`), is a switch:
with `top_n_over_context_only=True` (the default) the `n_best_size` best starts and ends of
a window are taken among its context positions; with False they are taken over every
position, then non-context ones are dropped, exactly as the original does.

`tokenize` is any callable `text -> [(id, piece), ...]` (e.g. the `GoogleFullTokenizer`
oracle of `tests/tokenizers/google_reference.py`).

Example:
    >>> features = reference_features(examples, tokenize, cls_id=101, sep_id=102, max_seq_length=64,
    ...                               doc_stride=24, max_query_length=24, is_training=True)
    >>> result = reference_predictions(examples, features, start_logits, end_logits)
"""

import collections
import dataclasses
import math

import numpy as np

from tests.tokenizers.google_reference import GoogleFullTokenizer

DocSpan = collections.namedtuple("DocSpan", ["start", "length"])
ReferencePredictions = collections.namedtuple("ReferencePredictions", ["predictions", "nbest", "null_odds"])
Prelim = collections.namedtuple("Prelim", ["feature_index", "start_index", "end_index", "start_logit", "end_logit"])


@dataclasses.dataclass
class ReferenceFeature:
    """One window, as `run_squad.py`'s `InputFeatures` (tokens unpadded, ids padded)."""

    example_index: int
    doc_span_index: int
    tokens: list
    token_ids: list
    segment_ids: list
    padding_mask: list
    token_to_orig_map: dict
    token_is_max_context: dict
    doc_span: DocSpan
    start_position: int | None = None
    end_position: int | None = None


# === Windows (`convert_examples_to_features`) ===

def tokenize_context(doc_tokens, tokenize):
    """Every whitespace word tokenized on its own: `(pieces, tok_to_orig_index, orig_to_tok_index)`."""
    pieces, tok_to_orig_index, orig_to_tok_index = [], [], []
    for word_index, word in enumerate(doc_tokens):
        orig_to_tok_index.append(len(pieces))
        for piece in tokenize(word):
            tok_to_orig_index.append(word_index)
            pieces.append(piece)
    return pieces, tok_to_orig_index, orig_to_tok_index


def improve_answer_span(doc_pieces, input_start, input_end, answer_pieces):
    """`_improve_answer_span`: the first (start ascending, end descending) sub-span whose
    pieces joined equal the answer's pieces joined; the input span when there is none."""
    answer_text = " ".join(answer_pieces)
    for new_start in range(input_start, input_end + 1):
        for new_end in range(input_end, new_start - 1, -1):
            if " ".join(doc_pieces[new_start : new_end + 1]) == answer_text:
                return new_start, new_end
    return input_start, input_end


def make_doc_spans(num_pieces, max_tokens_for_doc, doc_stride):
    """The `_DocSpan` loop: windows of at most `max_tokens_for_doc`, `min(length, doc_stride)` apart."""
    doc_spans, start = [], 0
    while start < num_pieces:
        length = min(num_pieces - start, max_tokens_for_doc)
        doc_spans.append(DocSpan(start, length))
        if start + length == num_pieces:
            break
        start += min(length, doc_stride)
    return doc_spans


def is_max_context(doc_spans, span_index, position):
    """`_check_is_max_context`: score `min(left, right) + 0.01 * length`, first best wins."""
    best_score, best_index = None, None
    for index, span in enumerate(doc_spans):
        end = span.start + span.length - 1
        if position < span.start or position > end:
            continue
        score = min(position - span.start, end - position) + 0.01 * span.length
        if best_score is None or score > best_score:
            best_score, best_index = score, index
    return best_index == span_index


def reference_windows(example, tokenize, *, cls_id, sep_id, pad_id=0, max_seq_length=384, doc_stride=128,
                      max_query_length=64, is_training=False, example_index=0):
    """The `ReferenceFeature`s of one example (none for a context without pieces)."""
    query = list(tokenize(example.question))[:max_query_length]
    max_tokens_for_doc = max_seq_length - len(query) - 3
    if max_tokens_for_doc <= 0:
        raise ValueError(f"max_seq_length={max_seq_length} leaves no room for context after {len(query)} pieces")
    pieces, tok_to_orig_index, orig_to_tok_index = tokenize_context(example.doc_tokens, tokenize)
    answer_span = None
    if is_training and not example.is_impossible and pieces:
        start = orig_to_tok_index[example.start_word]
        if example.end_word < len(example.doc_tokens) - 1:
            end = orig_to_tok_index[example.end_word + 1] - 1
        else:
            end = len(pieces) - 1
        answer_pieces = [piece for _, piece in tokenize(example.answers[0]["text"])]
        answer_span = improve_answer_span([piece for _, piece in pieces], start, end, answer_pieces)
    doc_spans = make_doc_spans(len(pieces), max_tokens_for_doc, doc_stride)
    doc_offset = len(query) + 2
    features = []
    for span_index, span in enumerate(doc_spans):
        ids = [cls_id] + [token_id for token_id, _ in query] + [sep_id]
        tokens = ["[CLS]"] + [piece for _, piece in query] + ["[SEP]"]
        token_to_orig_map, token_is_max_context = {}, {}
        for position in range(span.start, span.start + span.length):
            token_to_orig_map[len(tokens)] = tok_to_orig_index[position]
            token_is_max_context[len(tokens)] = is_max_context(doc_spans, span_index, position)
            ids.append(pieces[position][0])
            tokens.append(pieces[position][1])
        ids.append(sep_id)
        tokens.append("[SEP]")
        padding = max_seq_length - len(ids)
        feature = ReferenceFeature(
            example_index, span_index, tokens, ids + [pad_id] * padding,
            [0] * doc_offset + [1] * (span.length + 1) + [0] * padding, [1] * len(ids) + [0] * padding,
            token_to_orig_map, token_is_max_context, span,
        )
        if is_training:
            feature.start_position, feature.end_position = 0, 0
            if answer_span is not None:
                start, end = answer_span
                if span.start <= start and end <= span.start + span.length - 1:
                    feature.start_position = start - span.start + doc_offset
                    feature.end_position = end - span.start + doc_offset
        features.append(feature)
    return features


def reference_features(examples, tokenize, **options):
    """`reference_windows` over every example, numbered in order."""
    features = []
    for example_index, example in enumerate(examples):
        features.extend(reference_windows(example, tokenize, example_index=example_index, **options))
    return features


# === Decoding (`write_predictions`) ===

def basic_tokenize(text, do_lower_case):
    """Google's `BasicTokenizer`, from the independent transcription of `tokenization.py`."""
    return GoogleFullTokenizer([], lowercase=do_lower_case).basic_tokens(text)


def _strip_spaces(text):
    kept = [(index, char) for index, char in enumerate(text) if char != " "]
    return "".join(char for _, char in kept), [index for index, _ in kept]


def align_final_text(pred_text, orig_text, do_lower_case):
    """`get_final_text` as a character span `(start, end)` of `orig_text`; the whole text on failure."""
    whole = (0, len(orig_text))
    tok_text = " ".join(basic_tokenize(orig_text, do_lower_case))
    start = tok_text.find(pred_text)
    if start == -1 or not pred_text:
        return whole
    end = start + len(pred_text) - 1
    orig_ns_text, orig_ns_to_s = _strip_spaces(orig_text)
    tok_ns_text, tok_ns_to_s = _strip_spaces(tok_text)
    if len(orig_ns_text) != len(tok_ns_text):
        return whole
    tok_s_to_ns = {s_index: ns_index for ns_index, s_index in enumerate(tok_ns_to_s)}
    if start not in tok_s_to_ns or end not in tok_s_to_ns:
        return whole
    return orig_ns_to_s[tok_s_to_ns[start]], orig_ns_to_s[tok_s_to_ns[end]] + 1


def best_indexes(logits, n_best_size):
    """`_get_best_indexes`: the `n_best_size` largest, largest first (ties: lower index first)."""
    return np.argsort(-np.asarray(logits, np.float64), kind="stable")[:n_best_size].tolist()


def compute_softmax(scores):
    """`_compute_softmax`, in Python floats."""
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


def prelim_predictions(features, start_logits, end_logits, n_best_size, max_answer_length,
                       top_n_over_context_only=True):
    """Every valid `(start, end)` among each window's best starts and best ends, in window,
    start-rank, end-rank order.

    DELIBERATE DEVIATION (the package's, `postprocessing/spans.py`): with
    `top_n_over_context_only` the non-context positions are masked before the top-n is
    taken; the original (`top_n_over_context_only=False`) takes it over every position.
    """
    prelim = []
    for feature_index, (feature, starts, ends) in enumerate(zip(features, start_logits, end_logits)):
        starts, ends = np.asarray(starts, np.float64), np.asarray(ends, np.float64)
        if top_n_over_context_only:
            context = np.zeros(len(starts), bool)
            context[list(feature.token_to_orig_map)] = True
            starts, ends = np.where(context, starts, -np.inf), np.where(context, ends, -np.inf)
        for start_index in best_indexes(starts, n_best_size):
            for end_index in best_indexes(ends, n_best_size):
                if start_index >= len(feature.tokens) or end_index >= len(feature.tokens):
                    continue
                if start_index not in feature.token_to_orig_map or end_index not in feature.token_to_orig_map:
                    continue
                if not feature.token_is_max_context.get(start_index, False):
                    continue
                if end_index < start_index or end_index - start_index + 1 > max_answer_length:
                    continue
                prelim.append(Prelim(feature_index, start_index, end_index,
                                     float(starts[start_index]), float(ends[end_index])))
    return prelim


def _span_text(example, feature, prediction, do_lower_case):
    """Text of a non-null span (`get_final_text` on its words) and its characters in the context."""
    word_starts = example.word_start_chars()
    pieces = feature.tokens[prediction.start_index : prediction.end_index + 1]
    first_word = feature.token_to_orig_map[prediction.start_index]
    last_word = feature.token_to_orig_map[prediction.end_index]
    words = example.doc_tokens[first_word : last_word + 1]
    tok_text = " ".join(" ".join(pieces).replace(" ##", "").replace("##", "").strip().split())
    orig_text = " ".join(words)
    start, end = align_final_text(tok_text, orig_text, do_lower_case)

    def to_context(position):
        offset = 0
        for word_index, word in enumerate(words, start=first_word):
            if position < offset + len(word):
                return word_starts[word_index] + position - offset
            offset += len(word) + 1
        raise AssertionError(f"position {position} is past the answer words {orig_text!r}")

    return orig_text[start:end], to_context(start), to_context(end - 1) + 1


def _nbest_for_example(example, features, start_logits, end_logits, options):
    n_best_size, max_answer_length, version_2, do_lower_case, top_n_over_context_only = options
    prelim = prelim_predictions(features, start_logits, end_logits, n_best_size, max_answer_length,
                                top_n_over_context_only)
    null = None
    if version_2:
        for feature_index in range(len(features)):
            start_logit, end_logit = float(start_logits[feature_index][0]), float(end_logits[feature_index][0])
            if null is None or start_logit + end_logit < null.start_logit + null.end_logit:
                null = Prelim(feature_index, 0, 0, start_logit, end_logit)
    if null is not None:
        prelim.append(null)
    prelim.sort(key=lambda p: p.start_logit + p.end_logit, reverse=True)
    seen, candidates = set(), []
    for prediction in prelim:
        if len(candidates) >= n_best_size:
            break
        if prediction.start_index > 0:
            text, start, end = _span_text(example, features[prediction.feature_index], prediction, do_lower_case)
            if text in seen:
                continue
        else:
            text, start, end = "", 0, 0
        seen.add(text)
        candidates.append((text, prediction.start_logit, prediction.end_logit, start, end))
    if version_2 and "" not in seen:
        null_logits = (null.start_logit, null.end_logit) if null is not None else (0.0, 0.0)
        candidates.append(("", *null_logits, 0, 0))
    if version_2 and len(candidates) == 1:
        candidates.insert(0, ("empty", 0.0, 0.0, 0, 0))
    if not candidates:
        candidates.append(("empty", 0.0, 0.0, 0, 0))
    probabilities = compute_softmax([s + e for _, s, e, _, _ in candidates])
    nbest = [{"text": text, "probability": probability, "start_logit": s, "end_logit": e, "start": start, "end": end}
             for (text, s, e, start, end), probability in zip(candidates, probabilities)]
    return nbest, null


def reference_predictions(examples, features, start_logits, end_logits, *, n_best_size=20, max_answer_length=30,
                          version_2_with_negative=False, null_score_diff_threshold=0.0, do_lower_case=True,
                          top_n_over_context_only=True):
    """`write_predictions`' answers, n-best lists and null odds, keyed by `qas_id`."""
    start_logits = np.asarray(start_logits, np.float64)
    end_logits = np.asarray(end_logits, np.float64)
    rows_by_example = collections.defaultdict(list)
    for row, feature in enumerate(features):
        rows_by_example[feature.example_index].append(row)
    options = (n_best_size, max_answer_length, version_2_with_negative, do_lower_case, top_n_over_context_only)
    predictions, all_nbest = {}, {}
    null_odds = {} if version_2_with_negative else None
    for example_index, example in enumerate(examples):
        rows = rows_by_example[example_index]
        nbest, null = _nbest_for_example(example, [features[row] for row in rows], start_logits[rows],
                                         end_logits[rows], options)
        all_nbest[example.qas_id] = nbest
        if not version_2_with_negative:
            predictions[example.qas_id] = nbest[0]["text"]
            continue
        best_non_null = next(entry for entry in nbest if entry["text"])
        if null is None:
            null_odds[example.qas_id] = math.inf
            predictions[example.qas_id] = ""
            continue
        score_diff = null.start_logit + null.end_logit - best_non_null["start_logit"] - best_non_null["end_logit"]
        null_odds[example.qas_id] = score_diff
        predictions[example.qas_id] = "" if score_diff > null_score_diff_threshold else best_non_null["text"]
    return ReferencePredictions(predictions, all_nbest, null_odds)
