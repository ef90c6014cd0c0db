"""Word tags from per-piece logits: each word takes the class of its first piece.

`BertTokenClassifier.tag` and the served signature both call `word_classes`; a word cut off
by the sequence length (or with no pieces) gets "O" when the labels hold it, else class 0.

Example:
    >>> model.postprocessor.tag(["Ada lives in London"])
    [['B-PER', 'O', 'O', 'B-LOC']]
"""

import tensorflow as tf

from keras_bert_suite.models.task import register_postprocessor
from keras_bert_suite.models.token_classifier import BertTokenClassifier
from keras_bert_suite.postprocessing.base import TaskPostprocessor, string_spec
from keras_bert_suite.preprocessing.token_classifier import OUTSIDE, as_word_batch


def word_classes(logits, first_positions, fallback):
    """`[b, w]` int32: per word the argmax class at its first piece; `fallback` where its
    position is -1 (cut off, or no pieces) or past the row's last word."""
    positions = first_positions.to_tensor(default_value=-1)
    piece_classes = tf.argmax(logits, axis=-1, output_type=tf.int32)
    classes = tf.gather(piece_classes, tf.maximum(positions, 0), batch_dims=1)
    return tf.where(positions >= 0, classes, fallback)


@register_postprocessor(BertTokenClassifier)
class TokenClassifierPostprocessor(TaskPostprocessor):
    """Word tags for `tag` and serving."""

    @property
    def fallback_class(self):
        labels = self.model.labels
        return labels.index(OUTSIDE) if labels and OUTSIDE in labels else 0

    def tag(self, inputs, *, batch_size=32, is_split_into_words=False):
        """`BertTokenClassifier.tag` (see there)."""
        preprocessor = self.require_preprocessor("tag")
        single = isinstance(inputs, str) or (
            is_split_into_words and isinstance(inputs, (list, tuple))
            and all(isinstance(word, str) for word in inputs)
        )
        words = as_word_batch([inputs] if single and is_split_into_words else inputs)
        logits = self.model.predict(words, batch_size=batch_size, verbose=0)
        classes = word_classes(logits, preprocessor.first_piece_positions(words), self.fallback_class).numpy()
        labels = self.model.labels
        tags = [[labels[i] for i in row[:count]] if labels else row[:count].tolist()
                for row, count in zip(classes, words.row_lengths().numpy())]
        return tags[0] if single else tags

    def serving_function(self):
        """`text` [b], split on whitespace -> `logits` [b, sequence, classes]; per word,
        padded to the longest text: `words`, `predictions` (-1 past the last word) and,
        with labels, `tags`."""
        model, preprocessor = self.model, self.model.preprocessor

        def serve(text):
            words, alignment = preprocessor.align(text)
            logits = tf.cast(model(preprocessor.pack(alignment.pieces), training=False), tf.float32)
            classes = word_classes(logits, alignment.first_positions, self.fallback_class)
            is_word = tf.sequence_mask(words.row_lengths(), tf.shape(classes, out_type=tf.int64)[1])
            outputs = {"logits": logits, "words": words.to_tensor(default_value=""),
                       "predictions": tf.where(is_word, classes, -1)}
            if model.labels:
                tags = tf.gather(tf.constant(model.labels), tf.maximum(classes, 0))
                outputs["tags"] = tf.where(is_word, tags, "")
            return outputs

        return [string_spec("text")], serve
