"""The official SQuAD metric: exact match and token F1 (v1.1), plus no-answer splits (v2.0).

Same normalisation and scoring as the official `evaluate-v1.1.py` / `evaluate-v2.0.py`, so
the numbers compare with published ones. One deliberate difference: a question with no
prediction counts 0 and stays in the total (v2.0's script drops it or fails); a warning
names how many were missing.

Example:
    >>> normalize_answer("The  Denver Broncos!")
    'denver broncos'
    >>> round(f1_score("the cat sat", "a cat sat on"), 4)
    0.8
"""

import collections
import json
import re
import string
import warnings

from keras_bert_suite.preprocessing.squad_examples import SquadExample
from keras_bert_suite.recipes.squad_data import load_json

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text):
    """Lowercases, removes punctuation and the articles a/an/the, and collapses whitespace."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match_score(prediction, ground_truth):
    """1 when both normalise to the same string, else 0."""
    return int(normalize_answer(prediction) == normalize_answer(ground_truth))


def f1_score(prediction, ground_truth, version_2=True):
    """Harmonic mean of token precision and recall after normalisation.

    When either side normalises to nothing (a "no answer"), the v2.0 script scores 1 if
    both do and 0 otherwise; the v1.1 script (`version_2=False`) scores 0, which matters
    for the few v1.1 gold answers that are only punctuation (".").
    """
    prediction_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(ground_truth).split()
    if not prediction_tokens or not gold_tokens:
        return float(version_2 and prediction_tokens == gold_tokens)
    num_same = sum((collections.Counter(prediction_tokens) & collections.Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _questions(dataset):
    """Yields `(qas_id, gold answer texts)` from any form a SQuAD dataset comes in.

    Accepts the official `data` list (or the whole file's dict), the flattened layout, or
    a list of `SquadExample`s.
    """
    if isinstance(dataset, dict):
        if "data" not in dataset:
            raise ValueError(f"expected a SQuAD dataset with a 'data' key, found keys {sorted(dataset)}")
        dataset = dataset["data"]
    for item in dataset:
        if isinstance(item, SquadExample):
            yield item.qas_id, [answer["text"] for answer in item.answers]
        elif "paragraphs" in item:
            for paragraph in item["paragraphs"]:
                for qa in paragraph["qas"]:
                    yield str(qa["id"]), [answer["text"] for answer in qa["answers"]]
        else:
            yield str(item["id"]), list(item["answers"]["text"])


def _warn_missing(missing):
    """Warns that questions without a prediction were scored 0, naming the first ones."""
    if missing:
        warnings.warn(
            f"{len(missing)} questions have no prediction and score 0 (first ids: "
            f"{', '.join(missing[:5])})",
            stacklevel=3,
        )


def evaluate_v1(dataset, predictions):
    """SQuAD v1.1 score of `{qas_id: answer text}` predictions.

    Returns:
        `{"exact_match", "f1"}`, both ×100, each question's score being its best over the
        gold answers.
    """
    exact = f1 = total = 0.0
    missing = []
    for qas_id, golds in _questions(dataset):
        total += 1
        if qas_id not in predictions:
            missing.append(qas_id)
            continue
        if not golds:
            raise ValueError(
                f"question {qas_id!r} has no gold answer; a SQuAD 2.0 dataset must be scored "
                "with evaluate_v2"
            )
        prediction = predictions[qas_id]
        exact += max(exact_match_score(prediction, gold) for gold in golds)
        f1 += max(f1_score(prediction, gold, version_2=False) for gold in golds)
    _warn_missing(missing)
    if not total:
        raise ValueError("the dataset holds no questions")
    return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total}


def _raw_scores_v2(dataset, predictions):
    """Per-question EM and F1 without thresholds, and whether each question has an answer.

    Gold answers that normalise to nothing are dropped; a question left with none is
    unanswerable and its only correct answer is "".
    """
    exact, f1, has_answer = {}, {}, {}
    missing = []
    for qas_id, golds in _questions(dataset):
        golds = [gold for gold in golds if normalize_answer(gold)]
        has_answer[qas_id] = bool(golds)
        if qas_id not in predictions:
            missing.append(qas_id)
            continue
        golds = golds or [""]
        prediction = predictions[qas_id]
        exact[qas_id] = max(exact_match_score(prediction, gold) for gold in golds)
        f1[qas_id] = max(f1_score(prediction, gold) for gold in golds)
    _warn_missing(missing)
    return exact, f1, has_answer


def _apply_no_answer_threshold(scores, na_probs, has_answer, na_prob_thresh):
    """Scores after turning every prediction with `na_prob > na_prob_thresh` into "no answer"."""
    return {
        qas_id: float(not has_answer[qas_id]) if na_probs[qas_id] > na_prob_thresh else score
        for qas_id, score in scores.items()
    }


def _split_scores(exact, f1, qas_ids):
    """`{"exact", "f1", "total"}` over `qas_ids` (×100); unpredicted questions count 0."""
    total = len(qas_ids)
    return {
        "exact": 100.0 * sum(exact.get(qas_id, 0.0) for qas_id in qas_ids) / total,
        "f1": 100.0 * sum(f1.get(qas_id, 0.0) for qas_id in qas_ids) / total,
        "total": total,
    }


def find_best_thresh(predictions, scores, na_probs, has_answer, num_questions):
    """Best no-answer threshold on `na_probs` and the score it gives (official algorithm).

    Start from "every prediction is no answer" (the answerless questions are right), then
    walk the questions in order of rising `na_prob`, letting each keep its answer in turn:
    an answerable question gains its score, an answerless one loses 1 if it had predicted
    text. The best running total, and the `na_prob` where it was reached, win.

    Returns:
        `(best score ×100 over num_questions, threshold)`.
    """
    current = sum(1 for qas_id in scores if not has_answer[qas_id])
    best, best_thresh = current, 0.0
    for qas_id in sorted(na_probs, key=lambda key: na_probs[key]):
        if qas_id not in scores:
            continue
        if has_answer[qas_id]:
            current += scores[qas_id]
        elif predictions[qas_id]:
            current -= 1
        if current > best:
            best, best_thresh = current, na_probs[qas_id]
    return 100.0 * best / num_questions, best_thresh


def evaluate_v2(dataset, predictions, na_probs=None, na_prob_thresh=1.0):
    """SQuAD v2.0 score of `{qas_id: answer text}` predictions ("" = no answer).

    Args:
        dataset: the SQuAD data (see `_questions` for the accepted forms).
        predictions: `{qas_id: text}`.
        na_probs: optional `{qas_id: no-answer score}` (e.g. `null_odds.json`); enables the
            best-threshold search.
        na_prob_thresh: predictions whose `na_prob` exceeds this count as "no answer".

    Returns:
        `{"exact", "f1", "total"}`, `HasAns_*` / `NoAns_*` splits for the splits present,
        and with `na_probs` also `best_exact`, `best_exact_thresh`, `best_f1`, `best_f1_thresh`.
    """
    exact, f1, has_answer = _raw_scores_v2(dataset, predictions)
    if not has_answer:
        raise ValueError("the dataset holds no questions")
    searching = na_probs is not None
    if na_probs is None:
        na_probs = {qas_id: 0.0 for qas_id in predictions}
    without_prob = [qas_id for qas_id in exact if qas_id not in na_probs]
    if without_prob:
        raise ValueError(
            f"{len(without_prob)} predicted questions have no no-answer probability (first: "
            f"{without_prob[0]!r}); na_probs must hold every predicted id"
        )
    exact_thresh = _apply_no_answer_threshold(exact, na_probs, has_answer, na_prob_thresh)
    f1_thresh = _apply_no_answer_threshold(f1, na_probs, has_answer, na_prob_thresh)
    result = _split_scores(exact_thresh, f1_thresh, list(has_answer))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qas_ids = [qas_id for qas_id, answerable in has_answer.items() if answerable == wanted]
        if qas_ids:
            split = _split_scores(exact_thresh, f1_thresh, qas_ids)
            result.update({f"{prefix}_{key}": value for key, value in split.items()})
    if searching:
        scored = {qas_id: na_probs[qas_id] for qas_id in na_probs if qas_id in has_answer}
        for name, scores in (("exact", exact), ("f1", f1)):
            best, thresh = find_best_thresh(predictions, scores, scored, has_answer, len(has_answer))
            result[f"best_{name}"] = best
            result[f"best_{name}_thresh"] = thresh
    return result


def is_v2_dataset(dataset_json):
    """True when a SQuAD file is v2.0: its version says so or a question has no answer."""
    if str(dataset_json.get("version", "")).lstrip("v").startswith("2"):
        return True
    return any(not golds for _, golds in _questions(dataset_json))


def evaluate_file(data_file, prediction_file, na_prob_file=None):
    """Scores a `predictions.json` against a SQuAD file, v1.1 or v2.0 as the data says.

    Returns:
        `evaluate_v1`'s dict for v1.1 data, `evaluate_v2`'s for v2.0 data.
    """
    dataset_json = load_json(data_file)
    predictions = load_json(prediction_file)
    if not isinstance(predictions, dict):
        raise ValueError(
            f"{prediction_file}: expected a JSON object {{question id: answer text}}, "
            f"found {type(predictions).__name__}"
        )
    if not is_v2_dataset(dataset_json):
        return evaluate_v1(dataset_json, predictions)
    na_probs = load_json(na_prob_file) if na_prob_file is not None else None
    return evaluate_v2(dataset_json, predictions, na_probs)
