"""`BertQuestionAnswererPreprocessor`: questions + contexts -> SQuAD windows for BERT.

A long context needs several overlapping windows (`[CLS] question [SEP] slice [SEP]`),
so one question may become a variable number of model rows. As in google-research/bert's
`run_squad.py`, that windowing runs in Python (`make_features`, using
`recipes/squad_windows.py`); the WordPiece tokenization inside it is one batched call of
the TensorFlow tokenizer layer. `call` packs only the first window of each pair, for
`tf.data` pipelines where one row per question is enough. (The exported SavedModel builds
every window in TensorFlow ops: `export/saved_model.py`.)

Example:
    >>> preprocessor = BertQuestionAnswererPreprocessor.from_preset("minilm_l6_h384_uncased")
    >>> examples, features = preprocessor.make_features(
    ...     ["Who wrote it?"], ["It was written by Ada Lovelace."],
    ...     answers=[{"text": "Ada Lovelace", "answer_start": 18}], is_training=True)
    >>> arrays = preprocessor.arrays(features)
    >>> arrays["token_ids"].shape, arrays["start_positions"]
    ((1, 384), array([10], dtype=int32))
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.preprocessing.base import BertPreprocessor, to_string_tensor
from keras_bert_suite.preprocessing.segment_packer import pack_segments
from keras_bert_suite.recipes.squad_data import make_examples
from keras_bert_suite.recipes.squad_windows import features_to_arrays, make_features

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
    """Answers in `make_examples`' form: one `{"text", "answer_start"}` or None per question.

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
class BertQuestionAnswererPreprocessor(BertPreprocessor):
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

    # === Python-side windowing (what fit/predict/answer use) ===
    def _piece_table(self, texts):
        """`{text: [(id, piece), ...]}` for distinct texts, from ONE tokenizer call."""
        distinct = list(dict.fromkeys(texts))
        if not distinct:
            return {}
        vocabulary = self.tokenizer.get_vocabulary()
        rows = self.tokenizer(tf.constant(distinct, tf.string)).to_list()
        return {text: [(token_id, vocabulary[token_id]) for token_id in row] for text, row in zip(distinct, rows)}

    def make_features(self, questions, contexts, answers=None, is_training=False):
        """Builds the SQuAD examples and their windows.

        Args:
            questions, contexts: lists (or arrays/tensors) of strings, one context per question.
            answers: optional, see `as_answer_dicts`: one `{"text", "answer_start"}` (character
                offset into the context) or None per question, or `(answer_starts, answer_texts)`
                with -1/None and ""/None for a question without an answer.
            is_training: also compute each window's `start_position`/`end_position` (both 0,
                the `[CLS]` token, when the answer is not entirely inside the window).

        Returns:
            `(examples, features)`: `SquadExample`s and their `SquadFeature` windows in order.
        """
        questions = as_text_list(questions, "questions")
        contexts = as_text_list(contexts, "contexts")
        if answers is not None:
            answers = as_answer_dicts(answers, len(questions))
        elif is_training:
            raise ValueError("is_training=True needs answers: one per question (None for no answer).")
        examples = make_examples(questions, contexts, answers)
        texts = [word for example in examples for word in example.doc_tokens] + questions
        texts += [answer["text"] for answer in answers or () if answer is not None]
        table = self._piece_table(texts)
        features = make_features(
            examples, table.__getitem__,
            cls_id=self.tokenizer.cls_token_id, sep_id=self.tokenizer.sep_token_id,
            pad_id=self.tokenizer.pad_token_id, max_seq_length=self.sequence_length,
            doc_stride=self.doc_stride, max_query_length=self.max_query_length, is_training=is_training,
        )
        return examples, features

    def arrays(self, features):
        """Model inputs as numpy arrays `[num_windows, sequence_length]`, plus
        `start_positions`/`end_positions` `[num_windows]` for training windows."""
        return features_to_arrays(features)

    # === TensorFlow-side packing (one window per pair) ===
    def call(self, x, y=None, sample_weight=None):
        """Packs `x = (questions, contexts)` into the FIRST window of each pair, in TF ops.

        The question keeps at most `max_query_length` pieces and the context what then fits:
        the same ids as the first window of `make_features`, but a longer context is cut, not
        windowed. `y`, if given, must already be token positions in the packed sequence: a
        pair `(start_positions, end_positions)` or a dict keyed by `start_logits`/`end_logits`.
        """
        if not (isinstance(x, (tuple, list)) and len(x) == 2):
            raise ValueError(
                "BertQuestionAnswererPreprocessor takes x = (questions, contexts); found "
                f"{type(x).__name__}."
            )
        questions = to_string_tensor(x[0], "questions")
        contexts = to_string_tensor(x[1], "contexts")
        query = self.tokenizer(questions)
        query = query[:, : self.max_query_length]
        context = self.tokenizer(contexts)
        context_room = self.sequence_length - 3 - query.row_lengths()
        context = tf.ragged.boolean_mask(
            context, tf.ragged.range(context.row_lengths()) < tf.expand_dims(context_room, 1)
        )
        tokenizer = self.tokenizer
        ids, segments, mask = pack_segments(
            query, context, self.sequence_length, tokenizer.cls_token_id, tokenizer.sep_token_id,
            tokenizer.pad_token_id,
        )
        packed = {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}
        if isinstance(y, (tuple, list)):
            y = dict(zip(OUTPUT_NAMES, y))
        return keras.utils.pack_x_y_sample_weight(packed, y, sample_weight)

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update(doc_stride=self.doc_stride, max_query_length=self.max_query_length)
        return config

    @classmethod
    def from_preset(cls, preset, sequence_length=384, **kwargs):
        """This preprocessor with the tokenizer of `preset` (SQuAD's default length 384)."""
        return super().from_preset(preset, sequence_length=sequence_length, **kwargs)
