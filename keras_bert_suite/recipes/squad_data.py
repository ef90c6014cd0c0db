"""SQuAD questions as `SquadExample`s: read from a v1.1/v2.0 file or built from lists.

A context is split into whitespace words (`doc_tokens`) with a map from every character
to its word, exactly as google-research/bert's `run_squad.py` does, so answer spans,
windows and decoded answers all speak in word indexes.

Example:
    >>> examples = make_examples(
    ...     ["Who wrote it?"], ["It was written by Ada Lovelace."],
    ...     [{"text": "Ada Lovelace", "answer_start": 18}])
    >>> examples[0].doc_tokens[examples[0].start_word:examples[0].end_word + 1]
    ['Ada', 'Lovelace.']
"""

import dataclasses
import json
import warnings

from keras_bert_suite.recipes.errors import DataFileError

_LAYOUT_HINT = (
    'expected the official SQuAD layout {"data": [{"paragraphs": [{"context", "qas": '
    '[{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]} or the flattened '
    'one {"data": [{"id", "question", "context", "answers": {"text": [], "answer_start": []}}]}'
)


@dataclasses.dataclass
class SquadExample:
    """One question about one context.

    Attributes:
        qas_id: the question id (the key of `predictions.json`).
        question: the question text.
        context: the paragraph text, unchanged.
        doc_tokens: the context split on whitespace.
        char_to_word_offset: for every character of `context`, the index of its word
            (whitespace belongs to the word before it; leading whitespace is -1).
        answers: every gold answer, `{"text", "answer_start"}` (character offset).
        is_impossible: True when the question has no answer in the context (SQuAD 2.0).
        start_word, end_word: word span of the first answer; set when read for training
            (and by `make_examples`), `None` otherwise or when impossible.
    """

    qas_id: str
    question: str
    context: str
    doc_tokens: list
    char_to_word_offset: list
    answers: list
    is_impossible: bool = False
    start_word: int | None = None
    end_word: int | None = None

    def word_start_chars(self):
        """Character offset in `context` where each word of `doc_tokens` begins."""
        starts = []
        for char_index, word_index in enumerate(self.char_to_word_offset):
            if word_index == len(starts):
                starts.append(char_index)
        return starts


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


def _is_whitespace(char):
    """Whitespace as `run_squad.py` splits contexts (space, tab, CR, LF, U+202F)."""
    return char in " \t\r\n" or ord(char) == 0x202F


def split_context(context):
    """Splits a context into whitespace words and maps every character to its word.

    Returns:
        `(doc_tokens, char_to_word_offset)`; whitespace characters map to the word before
        them, so an answer offset that starts on a space still lands on a word.
    """
    doc_tokens = []
    char_to_word_offset = []
    previous_is_whitespace = True
    for char in context:
        if _is_whitespace(char):
            previous_is_whitespace = True
        else:
            if previous_is_whitespace:
                doc_tokens.append(char)
            else:
                doc_tokens[-1] += char
            previous_is_whitespace = False
        char_to_word_offset.append(len(doc_tokens) - 1)
    return doc_tokens, char_to_word_offset


def _answer_word_span(doc_tokens, char_to_word_offset, text, answer_start):
    """Word span of an answer, or `None` when its text is not found at `answer_start`.

    Like `run_squad.py`, the words covering the answer's characters are joined with single
    spaces and must contain the whitespace-normalised answer text.
    """
    end_char = answer_start + len(text) - 1
    if not text.strip() or answer_start < 0 or end_char >= len(char_to_word_offset):
        return None
    start_word = char_to_word_offset[answer_start]
    end_word = char_to_word_offset[end_char]
    actual_text = " ".join(doc_tokens[max(start_word, 0) : end_word + 1])
    if " ".join(text.split()) not in actual_text:
        return None
    return max(start_word, 0), end_word


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
            span = _answer_word_span(doc_tokens, char_to_word_offset, first["text"], first["answer_start"])
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


def make_examples(questions, contexts, answers=None):
    """Builds `SquadExample`s from Python lists (ids are the list positions as strings).

    Args:
        questions: question strings.
        contexts: context strings, one per question.
        answers: optional, one per question: `None` for an impossible question or
            `{"text", "answer_start"}` with `answer_start` a character offset into the
            context. The text must be exactly `context[answer_start:][:len(text)]`.

    Returns:
        A list of `SquadExample`s; with `answers`, each has its word span set.
    """
    if len(questions) != len(contexts):
        raise ValueError(
            f"got {len(questions)} questions but {len(contexts)} contexts; pass one context per question"
        )
    if answers is not None and len(answers) != len(questions):
        raise ValueError(
            f"got {len(questions)} questions but {len(answers)} answers; pass one answer (or None) per question"
        )
    examples = []
    for index, (question, context) in enumerate(zip(questions, contexts)):
        doc_tokens, char_to_word_offset = split_context(context)
        example = SquadExample(str(index), question, context, doc_tokens, char_to_word_offset, [])
        answer = None if answers is None else answers[index]
        if answers is not None and answer is None:
            example.is_impossible = True
        elif answer is not None:
            text, start = answer["text"], int(answer["answer_start"])
            found = context[start : start + len(text)] if start >= 0 else ""
            span = _answer_word_span(doc_tokens, char_to_word_offset, text, start) if found == text else None
            if span is None:
                raise ValueError(
                    f"answer {index}: expected {text!r} at character {start} of its context, "
                    f"found {found!r}; give answer_start as the character offset where the text begins"
                )
            example.answers = [{"text": text, "answer_start": start}]
            example.start_word, example.end_word = span
        examples.append(example)
    return examples
