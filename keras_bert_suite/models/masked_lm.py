"""`BertMaskedLM`: masked-token prediction with the tied MLM head, and `fill_mask`.

Example:
    >>> model = BertMaskedLM.from_preset("bert_base_uncased")
    >>> model.fill_mask(["The capital of France is [MASK]."], top_k=3)
    [[[{'token': 'paris', 'token_id': 3000, 'score': 0.9}, ...]]]
    >>> model.fit(["Some unlabelled text to adapt to."], epochs=1)  # new masks every epoch
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.checkpoints.names import masked_lm_variables
from keras_bert_suite.layers.masked_lm_head import BertMaskedLMHead
from keras_bert_suite.models.task import BertTask
from keras_bert_suite.preprocessing.masked_lm import BertMaskedLMPreprocessor

MASK_TEXT = "[MASK]"


def masked_lm_inputs(backbone):
    """The backbone's inputs plus `mask_positions` (`[batch, predictions]` int)."""
    inputs = dict(backbone.input)
    inputs["mask_positions"] = keras.Input(shape=(None,), dtype="int32", name="mask_positions")
    return inputs


def masked_lm_loss():
    """Original MLM loss: sum(w * nll) / sum(w) (Google adds 1e-5 to the denominator)."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertMaskedLM(BertTask):
    """Returns MLM logits `[b, p, vocabulary_size]` at `mask_positions`."""

    preprocessor_class = BertMaskedLMPreprocessor
    default_learning_rate = 5e-5

    def __init__(self, backbone, preprocessor=None, compile=True, **kwargs):
        # === Layers ===
        head = BertMaskedLMHead(
            backbone.token_embedding, backbone.hidden_activation, backbone.layer_norm_epsilon,
            backbone.initializer_range, name="mlm_head",
        )
        # === Functional Model ===
        inputs = masked_lm_inputs(backbone)
        sequence = backbone({k: inputs[k] for k in backbone.input})["sequence_output"]
        logits = head(sequence, inputs["mask_positions"])
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.mlm_head = head
        self._init_task(backbone, preprocessor, compile)

    def default_loss(self):
        return masked_lm_loss()

    def default_weighted_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def head_checkpoint_variables(self):
        return masked_lm_variables(self.mlm_head)

    def check_labels(self, y):
        raise ValueError(
            "BertMaskedLM makes its own labels (the tokens it masks); pass texts only, "
            "e.g. model.fit(texts), not model.fit(texts, y)."
        )

    def fill_mask(self, texts, top_k=5):
        """For each text, for each `[MASK]` in it: the `top_k` tokens with probabilities.

        Returns a list (one per text) of lists (one per `[MASK]`, left to right) of
        `{"token", "token_id", "score"}` dicts, best first; `score` is the softmax
        probability over the whole vocabulary.
        """
        if self.preprocessor is None:
            raise ValueError("fill_mask needs a preprocessor (tokenizer); build the model with one.")
        if not (isinstance(top_k, int) and top_k >= 1):
            raise ValueError(f"top_k must be a positive int, found {top_k!r}.")
        tokenizer = self.preprocessor.tokenizer
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        rows = []
        for index, text in enumerate(texts):
            parts = text.split(MASK_TEXT)
            if len(parts) < 2:
                raise ValueError(
                    f"Text {index} has no {MASK_TEXT} to fill: {text!r}. Write {MASK_TEXT} where "
                    "a token should be predicted."
                )
            pieces = tokenizer(tf.constant(parts)).to_list()
            ids = list(pieces[0])
            for piece in pieces[1:]:
                ids += [tokenizer.mask_token_id] + list(piece)
            rows.append(ids)
        packed = self.preprocessor.pack(tf.ragged.constant(rows, dtype=tf.int32))
        token_ids = packed["token_ids"].numpy()
        positions = [np.flatnonzero(row == tokenizer.mask_token_id) for row in token_ids]
        for index, (text, found) in enumerate(zip(texts, positions)):
            expected = text.count(MASK_TEXT)
            if len(found) < expected:
                raise ValueError(
                    f"Text {index}: {expected - len(found)} of its {expected} {MASK_TEXT} fall beyond "
                    f"sequence_length {self.preprocessor.sequence_length}; shorten the text or use a "
                    "longer sequence_length."
                )
        width = max(len(p) for p in positions)
        mask_positions = np.zeros((len(rows), width), np.int32)
        for row, found in enumerate(positions):
            mask_positions[row, : len(found)] = found
        inputs = {k: v.numpy() for k, v in packed.items()}
        logits = keras.ops.convert_to_numpy(self.predict_on_batch(dict(inputs, mask_positions=mask_positions)))
        probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))
        results = []
        for row, found in enumerate(positions):
            per_mask = []
            for slot in range(len(found)):
                best = np.argsort(-logits[row, slot], kind="stable")[:top_k]  # logits: no softmax ties
                per_mask.append([
                    {"token": tokenizer.id_to_token(int(i)), "token_id": int(i),
                     "score": float(probabilities[row, slot, i])}
                    for i in best
                ])
            results.append(per_mask)
        return results
