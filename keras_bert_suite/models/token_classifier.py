"""`BertTokenClassifier`: one label per word (named entities, part-of-speech tags).

The head is the original BERT NER head: dropout on every piece's final hidden state,
then one dense layer. Each word is scored at its first piece; the other pieces,
`[CLS]`, `[SEP]` and padding carry sample weight 0, and the loss averages over the
weighted pieces only (`reduction="mean_with_sample_weight"`), so padding never
dilutes it.

Example:
    >>> model = BertTokenClassifier.from_preset(
    ...     "minilm_l6_h384_uncased", num_classes=3, labels=["O", "B-PER", "B-LOC"])
    >>> model.fit([["Johanson", "lives", "in", "Berlin"]], [[1, 0, 0, 2]], epochs=3)
    >>> model.tag("Johanson lives in Berlin")   # one tag per word, e.g.
    ['B-PER', 'O', 'O', 'B-LOC']
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_bert_suite.models.backbone import task_dtype_policy
from keras_bert_suite.models.task import BertTask
from keras_bert_suite.preprocessing.base import is_string_input
from keras_bert_suite.preprocessing.token_classifier import (
    BertTokenClassifierPreprocessor,
    as_label_batch,
    as_word_batch,
)


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertTokenClassifier(BertTask):
    """`num_classes` logits per piece, `[batch, sequence_length, num_classes]` float32.

    With a preprocessor, `fit`/`evaluate` take word lists (or texts, split on ASCII
    whitespace) and one label id per word; a `tf.data.Dataset` must yield batches of
    `(words, label_ids)` with words a ragged string tensor `[batch, words]` (or texts
    `[batch]`) and label ids ragged int `[batch, words]`, e.g.
    `Dataset.from_tensor_slices((tf.ragged.constant(words), tf.ragged.constant(ids))).batch(32)`.
    `predict` returns the per-piece logits; `tag` returns one label per word.

    Args:
        backbone: a `BertBackbone`.
        num_classes: number of tags.
        preprocessor: a `BertTokenClassifierPreprocessor`, or None for packed tensors.
        dropout: dropout rate before the dense layer.
        labels: optional tag names, `labels[i]` the name of class i (e.g. `["O", "B-PER"]`).
        compile: compile with BERT's defaults.
        dtype: None, or the backbone's dtype policy (the head computes in it).
    """

    preprocessor_class = BertTokenClassifierPreprocessor
    # `predict` returns one row per position of sequence_length.
    dynamic_padding_is_exact = False

    def __init__(self, backbone, num_classes, preprocessor=None, dropout=0.1, labels=None,
                 compile=True, dtype=None, **kwargs):
        if labels is not None:
            labels = [str(label) for label in labels]
            if len(labels) != num_classes:
                raise ValueError(
                    f"labels must name every class: num_classes={num_classes} but {len(labels)} labels "
                    f"were given ({labels[:8]}). Pass one name per class id, or num_classes=len(labels)."
                )
        policy = task_dtype_policy(backbone, dtype)
        # === Layers ===
        dropout_layer = keras.layers.Dropout(dropout, dtype=policy, name="token_classifier_dropout")
        output_dense = keras.layers.Dense(
            num_classes, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=policy, name="logits",
        )
        # === Functional Model ===
        inputs = backbone.input
        sequence = backbone(inputs)["sequence_output"]
        logits = ops.cast(output_dense(dropout_layer(sequence)), "float32")
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.dtype_policy = policy
        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout
        self.labels = labels
        self._init_task(backbone, preprocessor, compile)

    # === Compilation ===
    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")

    def default_weighted_metrics(self):
        """Accuracy weighted by the sample weights, so it counts first pieces only."""
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    # === Data ===
    def check_labels(self, y):
        labels = as_label_batch(y)
        values = labels.flat_values.numpy()
        bad = np.flatnonzero((values < 0) | (values >= self.num_classes))
        if bad.size:
            example = int(labels.value_rowids().numpy()[bad[0]])
            raise ValueError(
                f"Example {example} has label id {int(values[bad[0]])}; label ids must lie in "
                f"[0, {self.num_classes - 1}] (num_classes={self.num_classes})."
            )

    def make_dataset(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False, materialize=False):
        """`BertTask.make_dataset` after turning word lists (and labels) into ragged tensors."""
        if self.preprocessor is None or isinstance(x, tf.data.Dataset) or not is_string_input(x):
            return super().make_dataset(x, y, sample_weight, batch_size, shuffle, materialize)
        words = as_word_batch(x)
        if y is not None:
            y = as_label_batch(y)
            check_one_label_per_word(words, y)
        return super().make_dataset(words, y, sample_weight, batch_size, shuffle, materialize)

    # === Tagging ===
    def tag(self, inputs, batch_size=32, is_split_into_words=False):
        """One label per word: strings when the model has `labels`, else class ids.

        `inputs` is a text (str), a list of texts, or a list of word lists. A flat list
        of strings is a batch of texts, unless `is_split_into_words=True`, where it is
        the words of one sentence. A single text or word list gives one list of labels,
        a batch gives one list per example. Texts are split on ASCII whitespace. Each
        word gets the prediction at its first piece; a word cut off by the sequence
        length (or with no pieces at all) gets "O" when `labels` holds "O", else class 0.
        """
        return self.postprocessor.tag(inputs, batch_size=batch_size, is_split_into_words=is_split_into_words)

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, dropout=self.dropout, labels=self.labels)
        return config


def check_one_label_per_word(words, labels):
    """Raises a ValueError naming the first example whose label count is not its word count."""
    word_counts, label_counts = words.row_lengths().numpy(), labels.row_lengths().numpy()
    if word_counts.shape != label_counts.shape:
        raise ValueError(
            f"Expected one label list per example: found {word_counts.size} examples and "
            f"{label_counts.size} label lists."
        )
    bad = np.flatnonzero(word_counts != label_counts)
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"Example {index} has {word_counts[index]} words but {label_counts[index]} labels; "
            "every word needs exactly one label (texts are split on ASCII whitespace)."
        )
