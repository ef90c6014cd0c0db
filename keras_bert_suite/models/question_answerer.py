"""`BertQuestionAnswerer`: extractive question answering (SQuAD v1.1 / v2.0).

The head is google-research/bert's `run_squad.py` head: one dense layer on every token's
final hidden state gives a start and an end logit; the loss is the mean of the start and
end cross-entropies over the sequence positions. Long contexts are cut into overlapping
windows (`BertQuestionAnswererPreprocessor`, TensorFlow ops), so `predict` returns one row
of logits per window; `answer` turns them back into text with the same span rule as
`kbs squad` and the exported SavedModel (`keras_bert_suite.postprocessing`).

Example:
    >>> model = BertQuestionAnswerer.from_preset("minilm_l6_h384_uncased")
    >>> questions, contexts = ["Who wrote it?"], ["It was written by Ada Lovelace."]
    >>> model.fit((questions, contexts), ([18], ["Ada Lovelace"]), epochs=2)
    >>> model.answer("Who wrote it?", "It was written by Ada Lovelace.")
    [{'text': 'Ada Lovelace', 'score': 0.93, 'start': 18, 'end': 30}]
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_bert_suite.checkpoints.names import output_layer_variables
from keras_bert_suite.models.backbone import task_dtype_policy
from keras_bert_suite.models.task import BertTask
from keras_bert_suite.preprocessing.base import is_string_input
from keras_bert_suite.preprocessing.question_answerer import OUTPUT_NAMES, BertQuestionAnswererPreprocessor


def _as_pair(x):
    """`(questions, contexts)` from `x`; a pair of two strings is one question."""
    if not (isinstance(x, (tuple, list)) and len(x) == 2):
        raise ValueError(
            "BertQuestionAnswerer takes x = (questions, contexts): two equally long lists of "
            f"strings; found {type(x).__name__}."
        )
    questions, contexts = x
    if isinstance(questions, str) and isinstance(contexts, str):
        return [questions], [contexts]
    if len(questions) != len(contexts):
        raise ValueError(
            f"got {len(questions)} questions but {len(contexts)} contexts; pass one context per question"
        )
    return questions, contexts


def _collect_dataset(dataset):
    """Reads a `tf.data.Dataset` of `((questions, contexts)[, (answer_starts, answer_texts)])`
    elements, batched or not, into Python lists `(questions, contexts, answers or None)`."""
    questions, contexts, starts, texts = [], [], [], []
    has_answers = None
    for element in dataset.as_numpy_iterator():
        labelled = isinstance(element, tuple) and len(element) == 2 and isinstance(element[0], tuple)
        x, y = element if labelled else (element, None)
        if has_answers is not None and has_answers != labelled:
            raise ValueError("Every element of the dataset must have answers, or none may.")
        has_answers = labelled
        parts = (x, y) if labelled else (x,)
        if not all(isinstance(part, tuple) and len(part) == 2 for part in parts):
            raise ValueError(
                "A question-answering dataset yields (questions, contexts) or "
                "((questions, contexts), (answer_starts, answer_texts)); found an element of "
                f"structure {tf.nest.map_structure(lambda _: '.', element)}."
            )
        rows = [np.atleast_1d(value) for part in parts for value in part]
        for target, values in zip((questions, contexts, starts, texts), rows):
            target.extend(values.tolist())
    answers = (starts, texts) if has_answers else None
    return questions, contexts, answers


def _is_labelled(y):
    """True for answers already in the preprocessor's form (`{"answer_chars", "answer_texts"}`)."""
    return isinstance(y, dict) and set(y) == {"answer_chars", "answer_texts"}


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertQuestionAnswerer(BertTask):
    """Start and end logits `[batch, sequence_length]` (float32) for every window.

    `fit(x, y)` takes `x = (questions, contexts)` and `y = (answer_starts, answer_texts)`,
    character offsets into each context and the answer texts; a question without an answer
    (SQuAD 2.0) has start -1 (or None) and text "" (or None). `y` may instead be a list of
    `{"text", "answer_start"}` dicts (None for no answer), or the preprocessor's own form
    (`BertQuestionAnswererPreprocessor.labelled`). A `tf.data.Dataset` yielding
    `((questions, contexts), (answer_starts, answer_texts))`, batched or not, is read into
    memory first (answers are checked against their contexts in Python). With
    `preprocessor=None` the model takes packed inputs and `{"start_logits":
    start_positions, "end_logits": end_positions}` targets. The head computes in the
    backbone's dtype policy (`dtype`, if given, must match it).
    """

    preprocessor_class = BertQuestionAnswererPreprocessor
    default_learning_rate = 3e-5
    # Windows are made once, in memory: `fit` needs their number for the schedule, and
    # nothing about them changes between epochs.
    materialize_limit = None
    # The span loss and logits run over every position of the window.
    dynamic_padding_is_exact = False

    def __init__(self, backbone, preprocessor=None, compile=True, dtype=None, **kwargs):
        policy = task_dtype_policy(backbone, dtype)
        # === Layers ===
        span_dense = keras.layers.Dense(
            2, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=policy, name="span_logits",
        )
        # === Functional Model ===
        inputs = backbone.input
        logits = ops.cast(span_dense(backbone(inputs)["sequence_output"]), "float32")
        outputs = {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.dtype_policy = policy
        # === Config ===
        self.span_dense = span_dense
        self._init_task(backbone, preprocessor, compile)

    # === Compilation ===
    def compile(self, optimizer="auto", loss="auto", metrics="auto", learning_rate=None, **kwargs):
        """`BertTask.compile`; the "auto" loss is the original's (start loss + end loss) / 2."""
        if loss == "auto":
            kwargs.setdefault("loss_weights", {name: 0.5 for name in OUTPUT_NAMES})
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, learning_rate=learning_rate, **kwargs)

    def default_loss(self):
        return {name: keras.losses.SparseCategoricalCrossentropy(from_logits=True) for name in OUTPUT_NAMES}

    def default_metrics(self):
        return {name: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")] for name in OUTPUT_NAMES}

    def head_checkpoint_variables(self):
        return output_layer_variables(self.span_dense, "cls/squad/")

    # === Data ===
    def make_dataset(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False, materialize=True):
        """Windows of raw `(questions, contexts)` (and answers) as a batched `tf.data.Dataset`.

        With answers it yields `(inputs, {"start_logits": start_positions, "end_logits":
        end_positions}[, sample_weight])`, one row per window (a question's weight is repeated
        on each of its windows); without, inputs only. Windows are always made once, in memory
        (`materialize=False` is refused); `shuffle` reshuffles the windows every epoch. Packed
        (non-string) inputs, in memory or in a dataset, return None and go to Keras as they are.
        """
        if not materialize:
            raise ValueError("BertQuestionAnswerer makes its windows once, in memory; materialize must be True.")
        if isinstance(x, tf.data.Dataset):
            holds_text = any(spec.dtype == tf.string for spec in tf.nest.flatten(x.element_spec))
            if self.preprocessor is None or not holds_text:
                return None
            x_questions, x_contexts, y = _collect_dataset(x)
            x = (x_questions, x_contexts)
        elif self.preprocessor is None or not is_string_input(x):
            return super().make_dataset(x, y, sample_weight, batch_size, shuffle, materialize)
        x = _as_pair(x)
        if y is not None and not _is_labelled(y):
            x, y = self.preprocessor.labelled(*x, y)  # checks the questions fit
        else:
            self.preprocessor.check_questions_fit(x[0])
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype="float32")
            if sample_weight.shape != (len(x[0]),):
                raise ValueError(
                    f"sample_weight needs one weight per question ({len(x[0])}); found shape "
                    f"{sample_weight.shape}."
                )
        return super().make_dataset(x, y, sample_weight, batch_size, shuffle, materialize)

    def fit(self, x=None, y=None, **kwargs):
        """`BertTask.fit`; raw questions and contexts need answers `y` (see the class docstring)."""
        if y is None and self.preprocessor is not None and is_string_input(x):
            raise ValueError(
                "fit on raw (questions, contexts) needs answers: y = (answer_starts, answer_texts), "
                "with -1 and \"\" for a question without an answer."
            )
        return super().fit(x, y, **kwargs)

    # === Answers ===
    def answer(self, questions, contexts, top_k=1, null_score_diff_threshold=None, max_answer_length=30,
               n_best_size=20, batch_size=32):
        """The best answer spans of each question in its context.

        Args:
            questions, contexts: lists of strings, or one question and one context.
            top_k: answers returned per question, best first.
            null_score_diff_threshold: None for SQuAD 1.1 (always a span). A number switches
                to SQuAD 2.0: the answer is "" when the `[CLS]` (no-answer) score exceeds the
                best span's score by more than it (`run_squad.py`'s rule; 0.0 is its default).
            max_answer_length: longest answer, in WordPiece pieces.
            n_best_size: candidate starts and ends kept per window.
            batch_size: windows per forward pass.

        Returns:
            Per question, a list of up to `top_k` dicts `{"text", "score", "start", "end"}`:
            `context[start:end] == text`, and `score` is the probability among the n-best
            candidates. When the no-answer wins, the first dict is `{"text": "", "start": 0,
            "end": 0, ...}`. For a single question, the list of that question alone.
        """
        return self.postprocessor.answer(
            questions, contexts, top_k=top_k, null_score_diff_threshold=null_score_diff_threshold,
            max_answer_length=max_answer_length, n_best_size=n_best_size, batch_size=batch_size,
        )

    # === Presets ===
    @classmethod
    def from_preset(cls, preset, load_weights=True, sequence_length=384, preprocessor="auto", **kwargs):
        """`BertTask.from_preset` with SQuAD's window length 384 by default; loads the
        `cls/squad/` (Google) or `qa_outputs` (HF) head when the checkpoint has one."""
        return super().from_preset(
            preset, load_weights=load_weights, sequence_length=sequence_length, preprocessor=preprocessor,
            **kwargs,
        )
