"""Answer text and n-best lists from span candidates: the Python end of SQuAD decoding.

`spans.span_candidates` (TensorFlow ops) ranks the spans; this module does what
`run_squad.py`'s `write_predictions` does in Python and serving does not need: join the
winning pieces, map them back onto the original words (`get_final_text`), drop repeated
texts, add the null answer (SQuAD 2.0) and turn scores into n-best probabilities.

Example:
    >>> get_final_text("steve smith", "Steve Smith's")
    'Steve Smith'
    >>> decoded = decode_answers(contexts, windows, candidates, null, vocabulary)
    >>> decoded[0].prediction, decoded[0].nbest[0]["probability"]
"""

import collections
import math
import unicodedata

import numpy as np

from keras_bert_suite.postprocessing.probabilities import softmax
from keras_bert_suite.postprocessing.spans import CANDIDATE_KEYS
from keras_bert_suite.preprocessing.squad_examples import split_context, word_start_chars

DecodedAnswer = collections.namedtuple("DecodedAnswer", ["prediction", "nbest", "null_odds"])
DecodedAnswer.__doc__ = """One question's answer, as `decode_answers` gives it.

Attributes:
    prediction: the answer text ("" = no answer, SQuAD 2.0 only).
    nbest: `[{"text", "probability", "start_logit", "end_logit", "start", "end"}]`, best
        first; `start`/`end` are the answer's characters in the context.
    null_odds: SQuAD 2.0: null score - best span score (`inf` without a window); else None.
"""


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


def _span_text(context_words, token_ids, candidate, vocabulary, do_lower_case):
    """Answer text of one candidate and its characters in the context.

    The pieces are joined and their `##` marks removed, then projected onto the original
    words with `get_final_text`; positions in the space-joined words are carried over to
    the context (whose words may be separated by any whitespace).
    """
    doc_tokens, char_to_word, word_starts = context_words
    pieces = [vocabulary[i] for i in token_ids[candidate["window"]][candidate["start"]:candidate["end"] + 1]]
    first_word = char_to_word[candidate["char_start"]]
    last_word = char_to_word[candidate["char_end"] - 1]
    words = doc_tokens[first_word:last_word + 1]
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


def _context_words(context):
    """`(doc_tokens, char_to_word_offset, word_start_chars)` of one context."""
    doc_tokens, char_to_word = split_context(context)
    return doc_tokens, char_to_word, word_start_chars(char_to_word)


def _nbest(context, token_ids, candidates, null, options):
    """The n-best list and the null odds of one question (the core of `write_predictions`)."""
    n_best_size, version_2, vocabulary, do_lower_case = options
    ranked = [dict(candidate, null=False) for candidate in candidates]
    has_null = version_2 and null["window"] >= 0
    if has_null:
        ranked.append({"start_logit": null["start_logit"], "end_logit": null["end_logit"], "null": True})
        ranked.sort(key=lambda entry: entry["start_logit"] + entry["end_logit"], reverse=True)
    words = _context_words(context) if candidates else None
    seen, nbest = set(), []
    for entry in ranked:
        if len(nbest) >= n_best_size:
            break
        if entry["null"]:
            text, start, end = "", 0, 0
        else:
            text, start, end = _span_text(words, token_ids, entry, vocabulary, do_lower_case)
            if text in seen:
                continue
        seen.add(text)
        nbest.append((text, entry["start_logit"], entry["end_logit"], start, end))
    if version_2 and "" not in seen:
        null_logits = (null["start_logit"], null["end_logit"]) if has_null else (0.0, 0.0)
        nbest.append(("", *null_logits, 0, 0))
    if version_2 and len(nbest) == 1:
        # Only the null answer: the original puts an "empty" span first, with logits 0.
        nbest.insert(0, ("empty", 0.0, 0.0, 0, 0))
    if not nbest:
        nbest.append(("empty", 0.0, 0.0, 0, 0))
    probabilities = softmax([start_logit + end_logit for _, start_logit, end_logit, _, _ in nbest], np.float64)
    nbest = [
        {"text": text, "probability": float(probability), "start_logit": float(start_logit),
         "end_logit": float(end_logit), "start": int(start), "end": int(end)}
        for (text, start_logit, end_logit, start, end), probability in zip(nbest, probabilities)
    ]
    return nbest, has_null


def decode_answers(contexts, windows, candidates, null, vocabulary, *, n_best_size=20,
                   version_2_with_negative=False, null_score_diff_threshold=0.0, do_lower_case=True):
    """One `DecodedAnswer` per question from `spans.span_candidates`' output.

    Args:
        contexts: the contexts (Python strings), one per question.
        windows: `squad_windows.make_windows`' output for them (only the token ids are read).
        candidates, null: `span_candidates(windows, ...)`.
        vocabulary: the tokenizer's pieces, by id.
        n_best_size: answers kept per question.
        version_2_with_negative: SQuAD 2.0: allow "no answer".
        null_score_diff_threshold: predict "" when null score - best span score exceeds it.
        do_lower_case: whether the tokenizer lowercased (for `get_final_text`).

    A question without a valid span scores the null answer against an "empty" span of
    logits 0 (SQuAD 2.0) or answers "empty" (1.1), as the original does; a question
    without a window (an empty context) predicts "" with null odds `inf` in SQuAD 2.0.
    """
    if len(contexts) != int(candidates["window"].nrows()):
        raise ValueError(
            f"got {len(contexts)} contexts for windows of {int(candidates['window'].nrows())} questions; pass "
            "the contexts the windows were made from, in order."
        )
    token_ids = np.asarray(windows["inputs"]["token_ids"])
    columns = {name: candidates[name].to_list() for name in CANDIDATE_KEYS}
    nulls = {name: np.asarray(value).tolist() for name, value in null.items()}
    options = (n_best_size, version_2_with_negative, vocabulary, do_lower_case)
    decoded = []
    for index, context in enumerate(contexts):
        rows = [dict(zip(CANDIDATE_KEYS, values)) for values in zip(*(columns[name][index] for name in CANDIDATE_KEYS))]
        question_null = {name: nulls[name][index] for name in nulls}
        nbest, has_null = _nbest(context, token_ids, rows, question_null, options)
        if not version_2_with_negative:
            decoded.append(DecodedAnswer(nbest[0]["text"], nbest, None))
            continue
        best_span = next(entry for entry in nbest if entry["text"])
        if not has_null:
            decoded.append(DecodedAnswer("", nbest, math.inf))
            continue
        odds = (question_null["start_logit"] + question_null["end_logit"]
                - best_span["start_logit"] - best_span["end_logit"])
        decoded.append(DecodedAnswer("" if odds > null_score_diff_threshold else best_span["text"], nbest, odds))
    return decoded
