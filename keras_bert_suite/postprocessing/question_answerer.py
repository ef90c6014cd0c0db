"""Question answering's post-processing: windows' logits -> answers, for `answer`,
`kbs squad` and the SavedModel, all through `spans.span_candidates`.

Example:
    >>> decoded = model.postprocessor.decode(["Who wrote it?"], ["It was written by Ada Lovelace."])
    >>> decoded[0].prediction
    'Ada Lovelace'
"""

import numpy as np

from keras_bert_suite.models.question_answerer import BertQuestionAnswerer
from keras_bert_suite.models.task import register_postprocessor
from keras_bert_suite.postprocessing.answers import decode_answers
from keras_bert_suite.postprocessing.base import TaskPostprocessor, string_spec
from keras_bert_suite.postprocessing.spans import best_spans, span_candidates
from keras_bert_suite.preprocessing.question_answerer import OUTPUT_NAMES, as_text_list

# Questions windowed and decoded together; bounds the memory of the max-context marks.
DECODE_CHUNK = 512


def _check_span_options(max_answer_length, n_best_size):
    for name, value in (("max_answer_length", max_answer_length), ("n_best_size", n_best_size)):
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ValueError(f"{name} must be a positive number of pieces; found {value!r}.")


@register_postprocessor(BertQuestionAnswerer)
class QuestionAnswererPostprocessor(TaskPostprocessor):
    """Answers from `BertQuestionAnswerer` logits."""

    def decode(self, questions, contexts, *, n_best_size=20, max_answer_length=30,
               version_2_with_negative=False, null_score_diff_threshold=0.0, batch_size=32, progress=None):
        """One `answers.DecodedAnswer` per question (prediction, n-best list, null odds).

        `progress`, if given, is called with the number of questions done after each chunk.
        """
        _check_span_options(max_answer_length, n_best_size)
        questions = as_text_list(questions, "questions")
        contexts = as_text_list(contexts, "contexts")
        if len(questions) != len(contexts):
            raise ValueError(
                f"got {len(questions)} questions but {len(contexts)} contexts; pass one context per question"
            )
        preprocessor = self.require_preprocessor("decode")
        preprocessor.check_questions_fit(questions)
        vocabulary = preprocessor.tokenizer.get_vocabulary()
        decoded = []
        for first in range(0, len(questions), DECODE_CHUNK):
            chunk = slice(first, first + DECODE_CHUNK)
            windows = self._windows(preprocessor, questions[chunk], contexts[chunk])
            logits = self._logits(windows["inputs"], batch_size)
            candidates, null = span_candidates(windows, *logits, n_best_size=n_best_size,
                                               max_answer_length=max_answer_length)
            decoded += decode_answers(
                contexts[chunk], windows, candidates, null, vocabulary, n_best_size=n_best_size,
                version_2_with_negative=version_2_with_negative,
                null_score_diff_threshold=null_score_diff_threshold, do_lower_case=preprocessor.tokenizer.lowercase,
            )
            if progress is not None:
                progress(len(questions[chunk]))
        return decoded

    def _windows(self, preprocessor, questions, contexts):
        """The preprocessor's windows, read from the model's `feature_cache` when it has them."""
        return self.model.cached_features(("windows", questions, contexts),
                                          lambda: preprocessor.windows(questions, contexts))

    def _logits(self, inputs, batch_size):
        """`(start_logits, end_logits)` of every window (none for a batch without windows)."""
        inputs = {name: value.numpy() for name, value in inputs.items()}
        if not len(inputs["token_ids"]):
            empty = np.zeros((0, self.model.preprocessor.sequence_length), "float32")
            return empty, empty
        outputs = self.model.predict(inputs, batch_size=batch_size, verbose=0)
        return tuple(outputs[name] for name in OUTPUT_NAMES)

    def answer(self, questions, contexts, *, top_k=1, null_score_diff_threshold=None, max_answer_length=30,
               n_best_size=20, batch_size=32):
        """`BertQuestionAnswerer.answer` (see there)."""
        self.require_preprocessor("answer")
        single = isinstance(questions, str) and isinstance(contexts, str)
        if single:
            questions, contexts = [questions], [contexts]
        version_2 = null_score_diff_threshold is not None
        decoded = self.decode(
            questions, contexts, n_best_size=n_best_size, max_answer_length=max_answer_length,
            version_2_with_negative=version_2, null_score_diff_threshold=null_score_diff_threshold or 0.0,
            batch_size=batch_size,
        )
        results = []
        for answer in decoded:
            spans = [entry for entry in answer.nbest if entry["text"] and entry["end"] > entry["start"]]
            if version_2 and answer.prediction == "":
                null = next(entry for entry in answer.nbest if entry["text"] == "")
                spans = [dict(null, text="", start=0, end=0)] + spans
            results.append([
                {"text": entry["text"], "score": entry["probability"], "start": entry["start"], "end": entry["end"]}
                for entry in spans[:top_k]
            ])
        return results[0] if single else results

    def serving_function(self, max_answer_length=30, n_best_size=20):
        """`question` [b], `context` [b] -> the best span of each (`spans.best_spans`)."""
        _check_span_options(max_answer_length, n_best_size)
        model, preprocessor = self.model, self.model.preprocessor
        if preprocessor.sequence_length - preprocessor.max_query_length - 3 < 1:
            raise ValueError(
                f"sequence_length={preprocessor.sequence_length} leaves no room for context after a question "
                f"of max_query_length={preprocessor.max_query_length} pieces and 3 special tokens; raise "
                "sequence_length or lower max_query_length."
            )

        def serve(question, context):
            windows = preprocessor.windows(question, context)
            outputs = model(windows["inputs"], training=False)
            candidates, null = span_candidates(windows, *(outputs[name] for name in OUTPUT_NAMES),
                                               n_best_size=n_best_size, max_answer_length=max_answer_length)
            return best_spans(candidates, null, context)

        return [string_spec("question"), string_spec("context")], serve
