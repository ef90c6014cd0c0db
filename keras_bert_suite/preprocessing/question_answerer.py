"""`BertQuestionAnswererPreprocessor`: questions + contexts -> SQuAD windows for BERT.

A long context needs several overlapping windows (`[CLS] question [SEP] slice [SEP]`), so
one question becomes a variable number of model rows. The windows, their max-context marks
and their training targets are TensorFlow ops (`squad_windows.make_windows`), the same ones
`fit`, `predict`, `answer`, `kbs squad` and the exported SavedModel run.

Example:
    >>> preprocessor = BertQuestionAnswererPreprocessor.from_preset("minilm_l6_h384_uncased")
    >>> x, y = preprocessor(*preprocessor.labelled(["Who wrote it?"], ["It was written by Ada Lovelace."],
    ...                                           ([18], ["Ada Lovelace"])))
    >>> x["token_ids"].shape, y["start_logits"].numpy()
    (TensorShape([1, 384]), array([10], dtype=int32))
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.preprocessing.base import TaskPreprocessor, to_string_tensor
from keras_bert_suite.preprocessing.squad_examples import answer_word_chars, make_examples
from keras_bert_suite.preprocessing.squad_windows import make_windows

OUTPUT_NAMES = ("start_logits", "end_logits")


def as_text_list(values, what):
    """A list of Python `str` from a list/array/tensor of str or UTF-8 bytes."""
    if isinstance(values, (tf.Tensor, tf.RaggedTensor)):
        values = values.numpy()
    if isinstance(values, (str, bytes)):
        raise TypeError(f"Expected a list of {what}, found a single {type(values).__name__}: {values!r}.")
    texts = []
    for index, value in enumerate(values):
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            raise TypeError(f"{what}[{index}] should be a string, found {type(value).__name__}: {value!r}.")
        texts.append(value)
    return texts


def _is_impossible_mark(start, text):
    """(start marks no answer, text marks no answer) for one `(answer_start, text)` label."""
    start_none = start is None or int(start) == -1
    text_none = text is None or text == "" or text == b""
    return start_none, text_none


def as_answer_dicts(answers, num_questions):
    """Answers in `squad_examples.make_examples`' form: one `{"text", "answer_start"}` or None per question.

    Accepts that form itself, or a pair `(answer_starts, answer_texts)` of sequences where a
    question without an answer (SQuAD 2.0) has start `-1` or None and text `""` or None.
    """
    if all(answer is None or isinstance(answer, dict) for answer in answers):
        dicts = list(answers)
    elif len(answers) == 2:
        starts, texts = answers
        starts = starts.numpy() if isinstance(starts, tf.Tensor) else starts
        texts = texts.numpy() if isinstance(texts, tf.Tensor) else texts
        if len(starts) != len(texts):
            raise ValueError(
                f"got {len(starts)} answer_starts but {len(texts)} answer_texts; pass one of each per question"
            )
        dicts = []
        for index, (start, text) in enumerate(zip(starts, texts)):
            start_none, text_none = _is_impossible_mark(start, text)
            if start_none != text_none:
                raise ValueError(
                    f"answer {index}: answer_start {start!r} and text {text!r} disagree on whether "
                    "the question has an answer; mark a question without one with start -1 (or None) "
                    "and text \"\" (or None)"
                )
            if start_none:
                dicts.append(None)
            else:
                text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
                dicts.append({"text": text, "answer_start": int(start)})
    else:
        raise ValueError(
            "answers must be a pair (answer_starts, answer_texts) or a list with one "
            '{"text", "answer_start"} dict (or None) per question; found a '
            f"{type(answers).__name__} of {len(answers)} entries"
        )
    if len(dicts) != num_questions:
        raise ValueError(
            f"got {num_questions} questions but {len(dicts)} answers; pass one answer per question"
        )
    return dicts


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertQuestionAnswererPreprocessor(TaskPreprocessor):
    """Packs `(questions, contexts)` into SQuAD windows (see the module docstring).

    Args:
        tokenizer: a `WordPieceTokenizer`.
        sequence_length: length of every window, `[CLS]`, `[SEP]`s and padding included.
        doc_stride: context pieces between the starts of consecutive windows.
        max_query_length: a question is cut to this many pieces.
    """

    def __init__(self, tokenizer, sequence_length=384, doc_stride=128, max_query_length=64, **kwargs):
        super().__init__(tokenizer, sequence_length, **kwargs)
        if doc_stride <= 0 or max_query_length <= 0:
            raise ValueError(
                f"doc_stride and max_query_length must be positive numbers of pieces; found "
                f"doc_stride={doc_stride}, max_query_length={max_query_length}."
            )
        self.doc_stride = doc_stride
        self.max_query_length = max_query_length

    # === Windows ===
    def check_questions_fit(self, questions):
        """Raises a ValueError when a question (cut to `max_query_length` pieces) leaves no
        room for context in `sequence_length`, as `run_squad.py` does."""
        longest = int(tf.reduce_max(tf.concat(
            [self.tokenizer(to_string_tensor(questions, "questions")).row_lengths(), [0]], 0)))
        longest = min(longest, self.max_query_length)
        if self.sequence_length - longest - 3 < 1:
            raise ValueError(
                f"sequence_length={self.sequence_length} leaves no room for context after a question of "
                f"{longest} pieces and 3 special tokens; raise sequence_length or lower max_query_length "
                f"(now {self.max_query_length})."
            )

    def windows(self, questions, contexts, answer_chars=None, answer_texts=None):
        """`squad_windows.make_windows` with this preprocessor's tokenizer and settings."""
        return make_windows(
            self.tokenizer, to_string_tensor(questions, "questions"), to_string_tensor(contexts, "contexts"),
            sequence_length=self.sequence_length, doc_stride=self.doc_stride,
            max_query_length=self.max_query_length, answer_chars=answer_chars, answer_texts=answer_texts,
        )

    def labelled(self, questions, contexts, answers):
        """`(x, y)` for `call` from raw answers, checked: `x = (questions, contexts)` and
        `y = {"answer_chars", "answer_texts"}` (see `squad_examples.answer_word_chars`).

        `answers` is one `{"text", "answer_start"}` (or None) per question, or a pair
        `(answer_starts, answer_texts)` with -1/None and ""/None for no answer.
        """
        questions = as_text_list(questions, "questions")
        contexts = as_text_list(contexts, "contexts")
        self.check_questions_fit(questions)
        answers = as_answer_dicts(answers, len(questions))
        examples = make_examples(questions, contexts, answers)
        texts = np.array([answer["text"] if answer else "" for answer in answers], dtype=object)
        return (questions, contexts), {"answer_chars": answer_word_chars(examples), "answer_texts": texts}

    def call(self, x, y=None, sample_weight=None):
        """Every window of `x = (questions, contexts)`, as packed inputs `[windows, sequence_length]`.

        With `y = {"answer_chars", "answer_texts"}` (from `labelled`), also the targets
        `{"start_logits": start_positions, "end_logits": end_positions}`; a per-question
        `sample_weight` is repeated on each of its windows.
        """
        if not (isinstance(x, (tuple, list)) and len(x) == 2):
            raise ValueError(
                "BertQuestionAnswererPreprocessor takes x = (questions, contexts); found "
                f"{type(x).__name__}."
            )
        if y is None:
            return self.windows(*x)["inputs"]
        windows = self.windows(*x, y["answer_chars"], y["answer_texts"])
        targets = dict(zip(OUTPUT_NAMES, (windows["start_positions"], windows["end_positions"])))
        if sample_weight is not None:
            sample_weight = tf.gather(sample_weight, windows["example"])
        return keras.utils.pack_x_y_sample_weight(windows["inputs"], targets, sample_weight)

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update(doc_stride=self.doc_stride, max_query_length=self.max_query_length)
        return config

    @classmethod
    def from_preset(cls, preset, sequence_length=384, **kwargs):
        """This preprocessor with the tokenizer of `preset` (SQuAD's default length 384)."""
        return super().from_preset(preset, sequence_length=sequence_length, **kwargs)
