"""`BertQuestionAnswerer`: extractive question answering (SQuAD v1.1 / v2.0).

The head is google-research/bert's `run_squad.py` head: one dense layer on every token's
final hidden state gives a start and an end logit; the loss is the mean of the start and
end cross-entropies over the sequence positions. Long contexts are cut into overlapping
windows in Python (`BertQuestionAnswererPreprocessor.make_features`), so `predict`
returns one row of logits per window; `answer` turns them back into text.

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

from keras_bert_suite.checkpoints.names import output_layer_variables
from keras_bert_suite.models.task import DEFAULT_BATCH_SIZE, BertTask
from keras_bert_suite.preprocessing.base import is_string_input
from keras_bert_suite.preprocessing.question_answerer import OUTPUT_NAMES, BertQuestionAnswererPreprocessor
from keras_bert_suite.recipes.squad_decode import decode_predictions


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


def _keep_answerable(features, logits):
    """Logits with every position that can never be part of an answer (question, special
    tokens, padding) set to -1e9; `[CLS]` keeps its logit for the no-answer score.

    `run_squad.py` takes the top starts and ends over all positions, so in a short context
    padding can fill them and leave no valid span. Masking first only adds candidates: each
    span the original considers is still among the top ones.
    """
    masked = np.full_like(logits, -1e9)
    for row, feature in enumerate(features):
        positions = [0, *feature.token_to_orig_map]
        masked[row, positions] = logits[row, positions]
    return masked


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertQuestionAnswerer(BertTask):
    """Start and end logits `[batch, sequence_length]` (float32) for every window.

    `fit(x, y)` takes `x = (questions, contexts)` and `y = (answer_starts, answer_texts)`,
    character offsets into each context and the answer texts; a question without an answer
    (SQuAD 2.0) has start -1 (or None) and text "" (or None). `y` may instead be a list of
    `{"text", "answer_start"}` dicts (None for no answer). A `tf.data.Dataset` yielding
    `((questions, contexts), (answer_starts, answer_texts))`, batched or not, is read into
    memory first: windowing runs in Python. With `preprocessor=None` the model takes packed
    inputs and `{"start_logits": start_positions, "end_logits": end_positions}` targets.
    """

    preprocessor_class = BertQuestionAnswererPreprocessor
    default_learning_rate = 3e-5

    def __init__(self, backbone, preprocessor=None, compile=True, **kwargs):
        # === Layers ===
        span_dense = keras.layers.Dense(
            2, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype="float32", name="span_logits",
        )
        # === Functional Model ===
        inputs = backbone.input
        logits = span_dense(backbone(inputs)["sequence_output"])
        outputs = {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
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
    def make_dataset(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False, materialize=False):
        """Windows of raw `(questions, contexts)` (and answers) as a batched `tf.data.Dataset`.

        Windows are always made in memory (Python, as the original), so `materialize` has no
        effect here.

        With answers it yields `(inputs, {"start_logits": start_positions, "end_logits":
        end_positions}[, sample_weight])`, one row per window (an example's weight is repeated
        on each of its windows); without, inputs only. Packed (non-string) inputs, in memory or
        in a dataset, return None and go to Keras as they are.
        """
        if isinstance(x, tf.data.Dataset):
            holds_text = any(spec.dtype == tf.string for spec in tf.nest.flatten(x.element_spec))
            if self.preprocessor is None or not holds_text:
                return None
            x_questions, x_contexts, y = _collect_dataset(x)
            x = (x_questions, x_contexts)
        elif not is_string_input(x):
            return None
        self._check_packed(x)
        questions, contexts = _as_pair(x)
        _, features = self.preprocessor.make_features(questions, contexts, y, is_training=y is not None)
        arrays = self.preprocessor.arrays(features)
        inputs = {name: arrays[name] for name in ("token_ids", "segment_ids", "padding_mask")}
        parts = (inputs,)
        if y is not None:
            parts += ({"start_logits": arrays["start_positions"], "end_logits": arrays["end_positions"]},)
            if sample_weight is not None:
                weights = np.asarray(sample_weight, dtype="float32")
                if weights.shape != (len(questions),):
                    raise ValueError(
                        f"sample_weight needs one weight per question ({len(questions)}); found shape "
                        f"{weights.shape}."
                    )
                parts += (weights[[feature.example_index for feature in features]],)
        dataset = tf.data.Dataset.from_tensor_slices(parts if len(parts) > 1 else inputs)
        if shuffle:
            dataset = dataset.shuffle(len(features), reshuffle_each_iteration=True)
        return dataset.batch(batch_size or DEFAULT_BATCH_SIZE).prefetch(tf.data.AUTOTUNE)

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
            candidates (chosen among context tokens only, see `_keep_answerable`). When the no-answer wins, the first dict is `{"text": "", "start": 0,
            "end": 0, ...}`. For a single question, the list of that question alone.
        """
        if self.preprocessor is None:
            raise ValueError(
                "answer() needs a preprocessor (tokenizer and windowing); build the model with "
                "preprocessor=BertQuestionAnswererPreprocessor(...) or from_preset()."
            )
        single = isinstance(questions, str) and isinstance(contexts, str)
        if single:
            questions, contexts = [questions], [contexts]
        examples, features = self.preprocessor.make_features(questions, contexts)
        if not examples:
            return []
        version_2 = null_score_diff_threshold is not None
        if features:
            arrays = self.preprocessor.arrays(features)
            logits = self.predict(arrays, batch_size=batch_size, verbose=0)
            start_logits = _keep_answerable(features, logits["start_logits"])
            end_logits = _keep_answerable(features, logits["end_logits"])
        else:
            start_logits = end_logits = np.zeros((0, self.preprocessor.sequence_length), "float32")
        decoded = decode_predictions(
            examples, features, start_logits, end_logits, n_best_size=n_best_size,
            max_answer_length=max_answer_length, version_2_with_negative=version_2,
            null_score_diff_threshold=null_score_diff_threshold or 0.0,
            do_lower_case=self.preprocessor.tokenizer.lowercase,
        )
        results = []
        for example in examples:
            nbest = decoded.nbest[example.qas_id]
            spans = [entry for entry in nbest if entry["text"] and entry["end"] > entry["start"]]
            if version_2 and decoded.predictions[example.qas_id] == "":
                null = next(entry for entry in nbest if entry["text"] == "")
                spans = [dict(null, text="", start=0, end=0)] + spans
            results.append([
                {"text": entry["text"], "score": float(entry["probability"]),
                 "start": int(entry["start"]), "end": int(entry["end"])}
                for entry in spans[:top_k]
            ])
        return results[0] if single else results

    # === Presets ===
    @classmethod
    def from_preset(cls, preset, load_weights=True, sequence_length=384, preprocessor="auto", **kwargs):
        """`BertTask.from_preset` with SQuAD's window length 384 by default; loads the
        `cls/squad/` (Google) or `qa_outputs` (HF) head when the checkpoint has one."""
        return super().from_preset(
            preset, load_weights=load_weights, sequence_length=sequence_length, preprocessor=preprocessor,
            **kwargs,
        )
