"""Fill-mask: the `top_k` tokens for every `[MASK]` of a text, in TensorFlow ops.

The parts between `[MASK]`s are tokenized and joined with the mask id, packed, and the model
scores every mask within the sequence; `BertMaskedLM.fill_mask` and the served signature
both call `fill_masks`. Scores are softmax probabilities over the whole vocabulary; ties go
to the lower id.

Example:
    >>> model.postprocessor.fill_mask(["The capital of France is [MASK]."], top_k=1)
    [[[{'token': 'paris', 'token_id': 3000, 'score': 0.9}]]]
"""

import tensorflow as tf

from keras_bert_suite.models.masked_lm import MASK_TEXT, BertMaskedLM
from keras_bert_suite.models.task import register_postprocessor
from keras_bert_suite.postprocessing.base import TaskPostprocessor, string_spec


def _check_top_k(top_k):
    if not (isinstance(top_k, int) and not isinstance(top_k, bool) and top_k >= 1):
        raise ValueError(f"top_k must be a positive int, found {top_k!r}.")


@register_postprocessor(BertMaskedLM)
class MaskedLMPostprocessor(TaskPostprocessor):
    """Top-k tokens per `[MASK]`."""

    def fill_masks(self, text, top_k):
        """Per text and mask (left to right, within `sequence_length`): `tokens`, `token_ids`
        and `scores` `[b, m, k]` and `num_masks` `[b]`; slots past `num_masks` hold token "",
        id -1 and score 0. m is the most masks of any text, k = min(top_k, vocabulary size)."""
        preprocessor = self.model.preprocessor
        tokenizer = preprocessor.tokenizer
        parts = tf.strings.split(text, MASK_TEXT)  # [b, parts]
        pieces = tokenizer(parts.flat_values)  # [all parts, pieces]
        mask = tf.fill([pieces.nrows(), 1], tf.constant(tokenizer.mask_token_id, pieces.dtype))
        # Every part followed by a mask, joined per text, without the mask after the last part.
        ids = parts.with_flat_values(tf.concat([pieces, mask], axis=1)).merge_dims(1, 2)[:, :-1]
        inputs = preprocessor.pack(ids)
        found = tf.where(inputs["token_ids"] == tokenizer.mask_token_id)  # [n, 2] in row order
        positions = tf.RaggedTensor.from_value_rowids(
            tf.cast(found[:, 1], tf.int32), found[:, 0], nrows=tf.shape(text, out_type=tf.int64)[0]
        )
        num_masks = tf.cast(positions.row_lengths(), tf.int32)
        logits = self.model(dict(inputs, mask_positions=positions.to_tensor()), training=False)
        logits = tf.cast(logits, tf.float32)
        best = tf.math.top_k(logits, k=min(top_k, tokenizer.vocabulary_size()))  # ties: lower id first
        scores = tf.gather(tf.nn.softmax(logits), best.indices, batch_dims=2)
        is_mask = (tf.range(tf.shape(logits)[1]) < num_masks[:, tf.newaxis])[:, :, tf.newaxis]
        tokens = tf.gather(tf.constant(tokenizer.get_vocabulary()), best.indices)
        return {
            "tokens": tf.where(is_mask, tokens, ""),
            "token_ids": tf.where(is_mask, best.indices, -1),
            "scores": tf.where(is_mask, scores, 0.0),
            "num_masks": num_masks,
        }

    def fill_mask(self, texts, top_k=5):
        """`BertMaskedLM.fill_mask` (see there)."""
        preprocessor = self.require_preprocessor("fill_mask")
        _check_top_k(top_k)
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        for index, text in enumerate(texts):
            if MASK_TEXT not in text:
                raise ValueError(
                    f"Text {index} has no {MASK_TEXT} to fill: {text!r}. Write {MASK_TEXT} where "
                    "a token should be predicted."
                )
        filled = {name: value.numpy() for name, value in self.fill_masks(tf.constant(texts), top_k).items()}
        results = []
        for index, text in enumerate(texts):
            expected, found = text.count(MASK_TEXT), int(filled["num_masks"][index])
            if found < expected:
                raise ValueError(
                    f"Text {index}: {expected - found} of its {expected} {MASK_TEXT} fall beyond "
                    f"sequence_length {preprocessor.sequence_length}; shorten the text or use a "
                    "longer sequence_length."
                )
            results.append([
                [{"token": token.decode("utf-8"), "token_id": int(token_id), "score": float(score)}
                 for token, token_id, score in zip(*(filled[name][index, slot] for name in ("tokens", "token_ids",
                                                                                            "scores")))]
                for slot in range(found)
            ])
        return results

    def serving_function(self, top_k=5):
        """`text` [b] with `[MASK]`s -> `fill_masks`' outputs."""
        _check_top_k(top_k)

        def serve(text):
            return self.fill_masks(text, top_k)

        return [string_spec("text")], serve
