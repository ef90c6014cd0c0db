"""SQuAD decoding: start/end logits of every window -> answer text, n-best list, null odds.

Follows google-research/bert's `run_squad.py` (`write_predictions`): the best start and end
pieces of every window are paired, impossible pairs are dropped, the survivors are ranked by
start + end logit, and the winning pieces are mapped back onto the original context words.
SQuAD 2.0 adds the "no answer" candidate scored by the `[CLS]` logits.

Example:
    >>> from keras_bert_suite.recipes.squad_data import make_examples
    >>> from keras_bert_suite.recipes.squad_windows import make_features
    >>> examples = make_examples(["Who batted?"], ["Steve Smith's bat"])
    >>> tokenize = lambda text: [(9, word) for word in text.lower().split()]
    >>> features = make_features(examples, tokenize, cls_id=1, sep_id=2, max_seq_length=8)
    >>> start_logits, end_logits = np.zeros((1, 8)), np.zeros((1, 8))
    >>> start_logits[0, 4] = end_logits[0, 5] = 5.0  # "steve smith's"
    >>> result = decode_predictions(examples, features, start_logits, end_logits)
    >>> result.predictions
    {'0': "Steve Smith's"}
    >>> paths = write_prediction_files("out", *result)
"""

import collections
import json
import math
import pathlib
import unicodedata

import numpy as np

from keras_bert_suite.utils import atomic_write_text

SquadPredictions = collections.namedtuple("SquadPredictions", ["predictions", "nbest", "null_odds"])
SquadPredictions.__doc__ = """What `decode_predictions` returns (unpacks as a 3-tuple).

Attributes:
    predictions: `{qas_id: answer text}` ("" = no answer, SQuAD 2.0 only).
    nbest: `{qas_id: [{"text", "probability", "start_logit", "end_logit", "start", "end"}]}`,
        best first; `start`/`end` are character offsets of the answer in the context.
    null_odds: `{qas_id: null score - best answer score}` for SQuAD 2.0, else `None`.
"""

_PrelimPrediction = collections.namedtuple(
    "_PrelimPrediction", ["feature_index", "start_index", "end_index", "start_logit", "end_logit"]
)
_NBEST_FILE_KEYS = ("text", "probability", "start_logit", "end_logit")


def _is_punctuation(char):
    """Punctuation as Google's BasicTokenizer sees it: ASCII symbols or Unicode class P*."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code):
    """True for the CJK ideograph blocks that Google's BasicTokenizer splits per character."""
    return (
        0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F
    )


def _basic_tokenize(text, do_lower_case):
    """Google's BasicTokenizer: clean, split CJK, lowercase + strip accents, split punctuation.

    `get_final_text` needs it to redo, on the original words, the normalisation the
    WordPiece tokenizer applied before the model saw them.
    """
    chars = []
    for char in text:
        code = ord(char)
        if char in "\t\n\r " or unicodedata.category(char) == "Zs":
            chars.append(" ")
        elif code == 0 or code == 0xFFFD or unicodedata.category(char) in ("Cc", "Cf"):
            continue
        elif _is_cjk(code):
            chars.append(f" {char} ")
        else:
            chars.append(char)
    tokens = []
    for word in "".join(chars).split():
        if do_lower_case:
            word = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")
        current = ""
        for char in word:
            if _is_punctuation(char):
                tokens.extend([current, char] if current else [char])
                current = ""
            else:
                current += char
        if current:
            tokens.append(current)
    return tokens


def _strip_spaces(text):
    """Text without spaces, and a map from each kept character to its index in `text`."""
    kept = [(index, char) for index, char in enumerate(text) if char != " "]
    return "".join(char for _, char in kept), [index for index, _ in kept]


def _align_final_text(pred_text, orig_text, do_lower_case):
    """Character span `(start, end)` of `pred_text` inside `orig_text` (end exclusive).

    The predicted pieces are normalised ("steve smith") while the answer must be the original
    text ("Steve Smith"), and the original word may carry extra characters the answer should
    not ("Smith's"). So the original words are basic-tokenized the same way, the prediction
    is found in that, and positions are carried across through the space-free versions of
    both texts (which align character for character when the tokenizer changed no letters).
    When anything fails to line up, the whole original text is the answer, as in the original.
    """
    whole = (0, len(orig_text))
    tok_text = " ".join(_basic_tokenize(orig_text, do_lower_case))
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


def get_final_text(pred_text, orig_text, do_lower_case=True):
    """Projects normalised predicted text back onto the original text.

    Args:
        pred_text: the predicted pieces joined, `##` removed (e.g. "steve smith").
        orig_text: the original context words the pieces came from (e.g. "Steve Smith's").
        do_lower_case: whether the tokenizer lowercased (and stripped accents).

    Returns:
        The matching slice of `orig_text` ("Steve Smith"), or `orig_text` itself when the
        two cannot be aligned.
    """
    start, end = _align_final_text(pred_text, orig_text, do_lower_case)
    return orig_text[start:end]


def _best_indexes(logits, n_best_size):
    """Indexes of the `n_best_size` largest logits, largest first (ties: lower index first)."""
    return np.argsort(-logits, kind="stable")[:n_best_size].tolist()


def _softmax(scores):
    """Probabilities of a list of scores, computed stably in plain Python floats."""
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


def _prelim_predictions(features, start_logits, end_logits, n_best_size, max_answer_length):
    """Every valid (start, end) pair among each window's top starts and top ends.

    A pair is dropped when it points at padding, the question or a special token, when its
    start is not in the window that gives that token the most context (the same start is
    judged in its best window instead), when it ends before it starts, or when it is longer
    than `max_answer_length` pieces.
    """
    prelim = []
    for feature_index, (feature, starts, ends) in enumerate(zip(features, start_logits, end_logits)):
        for start_index in _best_indexes(starts, n_best_size):
            for end_index in _best_indexes(ends, n_best_size):
                if start_index >= len(feature.tokens) or end_index >= len(feature.tokens):
                    continue
                if start_index not in feature.token_to_orig_map or end_index not in feature.token_to_orig_map:
                    continue
                if not feature.token_is_max_context.get(start_index, False):
                    continue
                if end_index < start_index or end_index - start_index + 1 > max_answer_length:
                    continue
                prelim.append(
                    _PrelimPrediction(
                        feature_index, start_index, end_index, float(starts[start_index]), float(ends[end_index])
                    )
                )
    return prelim


def _null_prediction(features, start_logits, end_logits):
    """The "no answer" candidate: the window whose `[CLS]` start + end logits are smallest.

    The lowest null score is used because a window that does not contain the answer is
    expected to score `[CLS]` high; the window most confident that an answer exists speaks
    for the example.
    """
    best = None
    for feature_index in range(len(features)):
        start_logit, end_logit = float(start_logits[feature_index][0]), float(end_logits[feature_index][0])
        if best is None or start_logit + end_logit < best.start_logit + best.end_logit:
            best = _PrelimPrediction(feature_index, 0, 0, start_logit, end_logit)
    return best


def _span_text(example, feature, prediction, do_lower_case, word_starts):
    """Answer text of a non-null candidate and its character offsets in the context.

    The pieces are joined and their `##` marks removed, then projected onto the original
    words with `get_final_text`; positions in the space-joined words are carried over to
    the context (whose words may be separated by any whitespace).
    """
    pieces = feature.tokens[prediction.start_index : prediction.end_index + 1]
    first_word = feature.token_to_orig_map[prediction.start_index]
    last_word = feature.token_to_orig_map[prediction.end_index]
    words = example.doc_tokens[first_word : last_word + 1]
    tok_text = " ".join(" ".join(pieces).replace(" ##", "").replace("##", "").strip().split())
    orig_text = " ".join(words)
    start, end = _align_final_text(tok_text, orig_text, do_lower_case)

    def to_context(position):
        offset = 0
        for word_index, word in enumerate(words, start=first_word):
            if position < offset + len(word):
                return word_starts[word_index] + position - offset
            offset += len(word) + 1
        raise AssertionError(f"position {position} is past the answer words {orig_text!r}")

    return orig_text[start:end], to_context(start), to_context(end - 1) + 1


def _nbest_for_example(example, features, start_logits, end_logits, options):
    """The n-best list and the null candidate of one example (the core of `write_predictions`)."""
    n_best_size, max_answer_length, version_2, do_lower_case = options
    prelim = _prelim_predictions(features, start_logits, end_logits, n_best_size, max_answer_length)
    null = _null_prediction(features, start_logits, end_logits) if version_2 else None
    if null is not None:
        prelim.append(null)
    prelim.sort(key=lambda p: p.start_logit + p.end_logit, reverse=True)
    word_starts = example.word_start_chars() if prelim else []
    seen = set()
    candidates = []  # (text, start_logit, end_logit, start char, end char)
    for prediction in prelim:
        if len(candidates) >= n_best_size:
            break
        if prediction.start_index > 0:
            feature = features[prediction.feature_index]
            text, start, end = _span_text(example, feature, prediction, do_lower_case, word_starts)
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
        # Only the null answer: the original puts an "empty" span first, with logits 0.
        candidates.insert(0, ("empty", 0.0, 0.0, 0, 0))
    if not candidates:
        candidates.append(("empty", 0.0, 0.0, 0, 0))
    probabilities = _softmax([start_logit + end_logit for _, start_logit, end_logit, _, _ in candidates])
    nbest = [
        {"text": text, "probability": probability, "start_logit": start_logit, "end_logit": end_logit,
         "start": start, "end": end}
        for (text, start_logit, end_logit, start, end), probability in zip(candidates, probabilities)
    ]
    return nbest, null


def _check_inputs(examples, features, start_logits, end_logits):
    """Raises a clear error when the logits do not line up with the features and examples."""
    if start_logits.shape != end_logits.shape or start_logits.ndim != 2:
        raise ValueError(
            f"start_logits and end_logits must both be [num_features, seq_length]; found "
            f"{start_logits.shape} and {end_logits.shape}"
        )
    if start_logits.shape[0] != len(features):
        raise ValueError(
            f"got logits for {start_logits.shape[0]} windows but {len(features)} features; pass "
            "the model outputs for exactly the features, in the same order"
        )
    for feature in features:
        if not 0 <= feature.example_index < len(examples):
            raise ValueError(
                f"a feature points at example {feature.example_index} but only {len(examples)} "
                "examples were given; pass the same examples the features were made from"
            )
        if len(feature.tokens) > start_logits.shape[1]:
            raise ValueError(
                f"a window has {len(feature.tokens)} tokens but the logits only {start_logits.shape[1]} "
                "positions; the logits must cover max_seq_length"
            )


def decode_predictions(
    examples,
    features,
    start_logits,
    end_logits,
    n_best_size=20,
    max_answer_length=30,
    version_2_with_negative=False,
    null_score_diff_threshold=0.0,
    do_lower_case=True,
):
    """Turns the span logits of every window into one answer per question.

    Args:
        examples: the `SquadExample`s.
        features: their `SquadFeature` windows (`example_index` points into `examples`).
        start_logits, end_logits: arrays `[num_features, max_seq_length]`, one row per feature.
        n_best_size: candidates kept per window for starts and ends, and per example.
        max_answer_length: longest answer, in pieces.
        version_2_with_negative: SQuAD 2.0: allow "no answer".
        null_score_diff_threshold: predict "" when null score - best answer score exceeds it.
        do_lower_case: whether the tokenizer lowercased (for `get_final_text`).

    Returns:
        `SquadPredictions(predictions, nbest, null_odds)`. For SQuAD 2.0, an example with
        no valid span scores the null answer against an "empty" span of logits 0, as the
        original does; an example with no window at all predicts "" with null odds `inf`.
    """
    start_logits = np.asarray(start_logits, dtype=np.float64)
    end_logits = np.asarray(end_logits, dtype=np.float64)
    _check_inputs(examples, features, start_logits, end_logits)
    rows_by_example = collections.defaultdict(list)
    for row, feature in enumerate(features):
        rows_by_example[feature.example_index].append(row)
    options = (n_best_size, max_answer_length, version_2_with_negative, do_lower_case)
    predictions, all_nbest = {}, {}
    null_odds = {} if version_2_with_negative else None
    for example_index, example in enumerate(examples):
        rows = rows_by_example[example_index]
        nbest, null = _nbest_for_example(
            example, [features[row] for row in rows], start_logits[rows], end_logits[rows], options
        )
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
    return SquadPredictions(predictions, all_nbest, null_odds)


def write_prediction_files(output_dir, predictions, nbest, null_odds=None):
    """Writes `predictions.json`, `nbest_predictions.json` and (SQuAD 2.0) `null_odds.json`.

    The layouts are those of `run_squad.py` (4-space indent; n-best entries carry text,
    probability, start_logit, end_logit), so the official evaluation scripts read them.

    Returns:
        The paths written.
    """
    output_dir = pathlib.Path(output_dir)
    files = {
        "predictions.json": predictions,
        "nbest_predictions.json": {
            qas_id: [{key: entry[key] for key in _NBEST_FILE_KEYS} for entry in entries]
            for qas_id, entries in nbest.items()
        },
    }
    if null_odds is not None:
        files["null_odds.json"] = null_odds
    paths = []
    for name, content in files.items():
        atomic_write_text(output_dir / name, json.dumps(content, indent=4) + "\n")
        paths.append(output_dir / name)
    return paths
