"""Entity-level precision, recall and F1 with the chunk rules of CoNLL's `conlleval`.

An entity counts as correct only when its type, first and last token all match. Where
entities start and end follows `conlleval`: B- opens an entity, I- after O (or after
another type) opens one too, so IOB1, IOB2 and IOE tags are scored without conversion;
S- (IOBES singletons) is read as an entity of one token, as seqeval does. Sentences are
separate: no entity crosses a sentence boundary. Token accuracy counts tags equal in full.

Example:
    >>> scores = evaluate_ner([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]])
    >>> scores.overall.correct, scores.overall.predicted, scores.overall.gold
    (1, 2, 2)
    >>> scores.accuracy
    0.75
"""

import dataclasses
from typing import NamedTuple

from keras_bert_suite.preprocessing.token_classifier import OUTSIDE
from keras_bert_suite.recipes.ner_data import split_tag


class Entity(NamedTuple):
    """An entity of `type` over tokens `start` (inclusive) to `end` (exclusive)."""

    type: str
    start: int
    end: int


def _ends_entity(previous_prefix, previous_type, prefix, entity_type):
    if previous_prefix == OUTSIDE:
        return False
    return previous_prefix in ("E", "S") or prefix in ("B", "S", OUTSIDE) or previous_type != entity_type


def _starts_entity(previous_prefix, previous_type, prefix, entity_type):
    if prefix == OUTSIDE:
        return False
    return prefix in ("B", "S") or previous_prefix in (OUTSIDE, "E", "S") or previous_type != entity_type


def extract_entities(tags):
    """The entities of one tag sequence, in order, by `conlleval`'s start and end rules."""
    entities = []
    previous_prefix, previous_type, start = OUTSIDE, "", None
    for position, tag in enumerate([*tags, OUTSIDE]):
        prefix, entity_type = split_tag(tag)
        if _ends_entity(previous_prefix, previous_type, prefix, entity_type):
            entities.append(Entity(previous_type, start, position))
        if _starts_entity(previous_prefix, previous_type, prefix, entity_type):
            start = position
        previous_prefix, previous_type = prefix, entity_type
    return entities


@dataclasses.dataclass(frozen=True)
class EntityCounts:
    """Correct, predicted and gold entity counts, and the scores they give (0.0 if undefined)."""

    correct: int = 0
    predicted: int = 0
    gold: int = 0

    @property
    def precision(self):
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self):
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self):
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def __add__(self, other):
        return EntityCounts(self.correct + other.correct, self.predicted + other.predicted, self.gold + other.gold)


@dataclasses.dataclass(frozen=True)
class NerEvaluation:
    """Entity scores overall and per type, and token-level accuracy."""

    overall: EntityCounts
    per_type: dict
    correct_tokens: int
    tokens: int

    @property
    def accuracy(self):
        return self.correct_tokens / self.tokens if self.tokens else 0.0

    def as_dict(self):
        """Flat scores: precision, recall, f1, accuracy, then `TYPE/precision` ... per type."""
        scores = {
            "precision": self.overall.precision,
            "recall": self.overall.recall,
            "f1": self.overall.f1,
            "accuracy": self.accuracy,
        }
        for entity_type, counts in self.per_type.items():
            scores[f"{entity_type}/precision"] = counts.precision
            scores[f"{entity_type}/recall"] = counts.recall
            scores[f"{entity_type}/f1"] = counts.f1
        return scores


def evaluate_ner(gold_tags, predicted_tags):
    """Scores predicted tag sequences against gold ones, one sequence per sentence.

    Raises:
        ValueError: the sentence counts or a sentence's lengths differ, or a tag is not
            "O" / PREFIX-TYPE.
    """
    if len(gold_tags) != len(predicted_tags):
        raise ValueError(
            f"Expected as many predicted as gold sentences, found {len(predicted_tags)} and {len(gold_tags)}."
        )
    counts = {}
    correct_tokens = tokens = 0
    for index, (gold, predicted) in enumerate(zip(gold_tags, predicted_tags)):
        if len(gold) != len(predicted):
            raise ValueError(f"Sentence {index}: {len(gold)} gold tags but {len(predicted)} predicted tags.")
        gold_entities = extract_entities(gold)
        predicted_entities = extract_entities(predicted)
        matched = set(gold_entities) & set(predicted_entities)
        for entities, field in ((matched, "correct"), (predicted_entities, "predicted"), (gold_entities, "gold")):
            for entity in entities:
                counts.setdefault(entity.type, {"correct": 0, "predicted": 0, "gold": 0})[field] += 1
        correct_tokens += sum(g == p for g, p in zip(gold, predicted))
        tokens += len(gold)
    per_type = {entity_type: EntityCounts(**counts[entity_type]) for entity_type in sorted(counts)}
    overall = sum(per_type.values(), EntityCounts())
    return NerEvaluation(overall, per_type, correct_tokens, tokens)


def classification_report(gold_tags, predicted_tags, digits=4):
    """A text table: conlleval's summary line, then precision/recall/F1/support per type.

    Example:
        >>> print(classification_report([["B-PER", "O"]], [["B-PER", "O"]], digits=2), end="")
        processed 2 tokens with 1 entities; found: 1 entities; correct: 1.
                  precision    recall  f1-score   support
        <BLANKLINE>
              PER      1.00      1.00      1.00         1
        <BLANKLINE>
        micro avg      1.00      1.00      1.00         1
         accuracy                          1.00         2
    """
    scores = evaluate_ner(gold_tags, predicted_tags)
    overall = scores.overall
    names = [*scores.per_type, "micro avg", "accuracy"]
    width = max(len(name) for name in names)
    header = " " * width + "".join(f"{column:>10}" for column in ("precision", "recall", "f1-score", "support"))

    def row(name, counts):
        values = "".join(f"{value:>10.{digits}f}" for value in (counts.precision, counts.recall, counts.f1))
        return f"{name:>{width}}{values}{counts.gold:>10}"

    lines = [
        f"processed {scores.tokens} tokens with {overall.gold} entities; "
        f"found: {overall.predicted} entities; correct: {overall.correct}.",
        header,
        "",
        *(row(entity_type, counts) for entity_type, counts in scores.per_type.items()),
        "",
        row("micro avg", overall),
        f"{'accuracy':>{width}}{'':>20}{scores.accuracy:>10.{digits}f}{scores.tokens:>10}",
    ]
    return "\n".join(lines) + "\n"
