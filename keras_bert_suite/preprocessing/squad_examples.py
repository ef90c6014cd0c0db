"""SQuAD examples: a question, its context split into whitespace words, its answer's words.

`run_squad.py` splits every context on whitespace (`doc_tokens`) and maps each character to
its word; answer spans, windows and decoded answers then speak in those words. The same
split serves training targets (the answer's words, `answer_word_chars`) and decoding
(`get_final_text` works on the original words).

Example:
    >>> examples = make_examples(
    ...     ["Who wrote it?"], ["It was written by Ada Lovelace."],
    ...     [{"text": "Ada Lovelace", "answer_start": 18}])
    >>> examples[0].doc_tokens[examples[0].start_word:examples[0].end_word + 1]
    ['Ada', 'Lovelace.']
    >>> answer_word_chars(examples)
    array([[18, 31]], dtype=int32)
"""

import dataclasses

import numpy as np


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
        return word_start_chars(self.char_to_word_offset)


def word_start_chars(char_to_word_offset):
    """Where each word begins: the first character mapped to it by `split_context`."""
    starts = []
    for char_index, word_index in enumerate(char_to_word_offset):
        if word_index == len(starts):
            starts.append(char_index)
    return starts


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


def answer_word_span(doc_tokens, char_to_word_offset, text, answer_start):
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
            span = answer_word_span(doc_tokens, char_to_word_offset, text, start) if found == text else None
            if span is None:
                raise ValueError(
                    f"answer {index}: expected {text!r} at character {start} of its context, "
                    f"found {found!r}; give answer_start as the character offset where the text begins"
                )
            example.answers = [{"text": text, "answer_start": start}]
            example.start_word, example.end_word = span
        examples.append(example)
    return examples


def answer_word_chars(examples):
    """`[n, 2]` int32: per example the characters `[start, end)` of its first answer's words,
    `(-1, -1)` for an example without one (impossible, or not made for training)."""
    spans = np.full((len(examples), 2), -1, dtype=np.int32)
    for row, example in enumerate(examples):
        if example.start_word is None or example.is_impossible:
            continue
        starts = example.word_start_chars()
        spans[row] = starts[example.start_word], starts[example.end_word] + len(example.doc_tokens[example.end_word])
    return spans
