"""SQuAD files: read a v1.1/v2.0 file (official or flattened layout) into `SquadExample`s.

The words of each context and its answer's word span come from
`preprocessing.squad_examples`; this module adds the file layouts, their errors, the
version and the original's choice to skip (or refuse) an answer not found in its context.

Example:
    >>> dataset = read_squad_file("dev-v1.1.json")
    >>> dataset.version, len(dataset), dataset.examples[0].question
    ('1.1', 10570, 'Which NFL team represented the AFC at Super Bowl 50?')
"""

import dataclasses
import json
import warnings

from keras_bert_suite.preprocessing.squad_examples import SquadExample, answer_word_span, split_context
from keras_bert_suite.recipes.errors import DataFileError

_LAYOUT_HINT = (
    'expected the official SQuAD layout {"data": [{"paragraphs": [{"context", "qas": '
    '[{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]} or the flattened '
    'one {"data": [{"id", "question", "context", "answers": {"text": [], "answer_start": []}}]}'
)


@dataclasses.dataclass
class SquadDataset:
    """The examples of one SQuAD file and what the reader learned about it.

    Attributes:
        examples: the `SquadExample`s in file order.
        version: "2.0" when the file says so or holds an impossible question, else "1.1".
        skipped: ids of the questions left out because their answer text does not match
            the context (only with `skip_mismatched=True`).
    """

    examples: list
    version: str
    skipped: list

    def __len__(self):
        return len(self.examples)

    def __iter__(self):
        return iter(self.examples)


def _require(mapping, key, where, path):
    """Returns `mapping[key]`, or raises `DataFileError` saying where the key is missing."""
    if not isinstance(mapping, dict):
        raise DataFileError(
            path, None, f"{where} should be a JSON object, found {type(mapping).__name__}; {_LAYOUT_HINT}"
        )
    if key not in mapping:
        raise DataFileError(path, None, f"{where} has no {key!r} key; {_LAYOUT_HINT}")
    return mapping[key]


def _iter_questions(data, path):
    """Yields `(where, qas_id, question, context, answers, is_impossible)` from either layout."""
    for article_index, article in enumerate(data):
        where = f"data[{article_index}]"
        if isinstance(article, dict) and "paragraphs" in article:
            for paragraph_index, paragraph in enumerate(article["paragraphs"]):
                paragraph_where = f"{where}.paragraphs[{paragraph_index}]"
                context = _require(paragraph, "context", paragraph_where, path)
                for qa_index, qa in enumerate(_require(paragraph, "qas", paragraph_where, path)):
                    qa_where = f"{paragraph_where}.qas[{qa_index}]"
                    answers = _require(qa, "answers", qa_where, path)
                    yield (
                        qa_where,
                        str(_require(qa, "id", qa_where, path)),
                        _require(qa, "question", qa_where, path),
                        context,
                        [_official_answer(a, f"{qa_where}.answers[{i}]", path) for i, a in enumerate(answers)],
                        bool(qa.get("is_impossible", not answers)),
                    )
        else:
            columns = _require(article, "answers", where, path)
            texts = _require(columns, "text", f"{where}.answers", path)
            starts = _require(columns, "answer_start", f"{where}.answers", path)
            if len(texts) != len(starts):
                raise DataFileError(
                    path, None,
                    f"{where}.answers has {len(texts)} texts but {len(starts)} answer_start values; "
                    "they must pair up one to one",
                )
            yield (
                where,
                str(_require(article, "id", where, path)),
                _require(article, "question", where, path),
                _require(article, "context", where, path),
                [{"text": text, "answer_start": int(start)} for text, start in zip(texts, starts)],
                not texts,
            )


def _official_answer(answer, where, path):
    """Checks one `{"text", "answer_start"}` answer and returns it as a plain dict."""
    return {
        "text": _require(answer, "text", where, path),
        "answer_start": int(_require(answer, "answer_start", where, path)),
    }


def load_json(path):
    """Parses a JSON file, turning a syntax error into `DataFileError` with its line."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise DataFileError(
            path, error.lineno,
            f"malformed JSON ({error.msg} at column {error.colno}); fix the file or "
            "download it again",
        ) from None


def _file_version(dataset_json, examples):
    """SQuAD version of a file: "2.0" if it says so or holds an impossible question."""
    declared = str(dataset_json.get("version", "")).lstrip("v")
    if declared.startswith("2") or any(example.is_impossible for example in examples):
        return "2.0"
    return "1.1"


def read_squad_file(path, is_training=False, skip_mismatched=False):
    """Reads a SQuAD v1.1/v2.0 file (official or flattened layout) into `SquadExample`s.

    Args:
        path: the JSON file.
        is_training: when True, the first answer's word span is located and checked: the
            words at `answer_start` must contain the answer text (as `run_squad.py` does).
        skip_mismatched: when True a mismatched answer skips its question with a warning
            (the original's behaviour); when False (default) it raises `DataFileError`.

    Returns:
        A `SquadDataset` with the examples, the file's version and the skipped ids.
    """
    dataset_json = load_json(path)
    data = _require(dataset_json, "data", "the top level", path)
    if not isinstance(data, list):
        raise DataFileError(path, None, f"'data' should be a list, found {type(data).__name__}; {_LAYOUT_HINT}")
    examples = []
    skipped = []
    for where, qas_id, question, context, answers, is_impossible in _iter_questions(data, path):
        doc_tokens, char_to_word_offset = split_context(context)
        example = SquadExample(
            qas_id, question, context, doc_tokens, char_to_word_offset, answers, is_impossible
        )
        if is_training and not is_impossible:
            if not answers:
                raise DataFileError(
                    path, None,
                    f"question {qas_id!r} ({where}) has no answer and is not marked "
                    "is_impossible; training needs one answer per answerable question",
                )
            first = answers[0]
            span = answer_word_span(doc_tokens, char_to_word_offset, first["text"], first["answer_start"])
            if span is None:
                start = first["answer_start"]
                found = context[start : start + len(first["text"])]
                reason = (
                    f"question {qas_id!r} ({where}): answer {first['text']!r} is not at "
                    f"character {start} of its context (found {found!r}); fix answer_start "
                    "or pass skip_mismatched=True to leave such questions out"
                )
                if not skip_mismatched:
                    raise DataFileError(path, None, reason)
                skipped.append(qas_id)
                continue
            example.start_word, example.end_word = span
        examples.append(example)
    if skipped:
        warnings.warn(
            f"{path}: skipped {len(skipped)} questions whose answer text is not at its "
            f"answer_start (first ids: {', '.join(skipped[:5])})",
            stacklevel=2,
        )
    return SquadDataset(examples, _file_version(dataset_json, examples), skipped)


