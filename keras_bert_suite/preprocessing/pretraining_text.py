"""Dynamic masking: next-sentence pairs and masks drawn on the fly from raw text files.

The files follow the original `create_pretraining_data.py` input: one sentence per line,
a blank line between documents. Instead of writing instances once (static masks, repeated
`dupe_factor` times), `dynamic_pretraining_batches` draws every batch afresh inside
`tf.data`: segment A is a random sentence that has a next one in its document; half of the
time B is that next sentence (label 0 = IsNext), otherwise a random sentence of another
document (label 1); the pair is packed (the longer side trimmed first) and masked by
`BertPreTrainingPreprocessor.mask` (15%, 80/10/10). Every draw is stateless, keyed on
`mask_seed(seed, 0, step)` for the batch's global `step`, so a run repeats exactly, a run
resumed at step `n` (`start_step=n`) continues the same stream, and every replica or
worker builds the same batches. The stream is endless: examples are drawn with
replacement, never the same masks twice.

Unlike the original, a segment is one sentence (the original joins sentences up to the
sequence length): right for corpora whose sentences fill about half of `sequence_length`.
The sentences are held in memory.

Example:
    >>> documents = read_text_documents(["corpus.txt"])
    >>> batches = dynamic_pretraining_batches(documents, preprocessor, batch_size=32, seed=1)
    >>> x, y, weights = next(iter(batches))   # y["nsp_logits"]: 0 IsNext, 1 random
"""

import numpy as np
import tensorflow as tf

from keras_bert_suite.preprocessing.masked_lm import mask_seed


def read_text_documents(files):
    """The documents of text files (one sentence per line, blank lines between documents),
    as lists of sentences; a ValueError names a file that holds no sentence."""
    documents = []
    for path in files:
        count = len(documents)
        current = []
        with tf.io.gfile.GFile(str(path), "r") as file:
            for line in file:
                line = line.strip()
                if line:
                    current.append(line)
                elif current:
                    documents.append(current)
                    current = []
        if current:
            documents.append(current)
        if len(documents) == count:
            raise ValueError(f"{path} holds no sentence; expected one sentence per line, a blank line between "
                             "documents.")
    return documents


def dynamic_pretraining_batches(documents, preprocessor, batch_size, seed, start_step=0):
    """An endless `tf.data.Dataset` of `(x, y, sample_weight)` batches for `BertPreTraining`,
    drawn from `documents` (lists of sentences) by `preprocessor` (a `BertPreTrainingPreprocessor`:
    tokenizer, sequence length, masking rates). Batch `step` (from `start_step`) is a
    function of `(seed, step)` only."""
    if len(documents) < 2 or not any(len(sentences) >= 2 for sentences in documents):
        raise ValueError(f"Dynamic masking needs at least 2 documents and one with 2 or more sentences (for next "
                         f"and random-next pairs); found {len(documents)} documents with "
                         f"{max((len(d) for d in documents), default=0)} sentences at most. Separate documents "
                         "by blank lines.")
    lengths = np.array([len(sentences) for sentences in documents], np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    sentences = tf.constant([sentence for document in documents for sentence in document])
    document_start = tf.constant(np.repeat(starts, lengths))
    document_length = tf.constant(np.repeat(lengths, lengths))
    total = int(lengths.sum())
    # Every sentence followed by another of its document may start a pair.
    firsts = tf.constant([start + i for start, length in zip(starts, lengths) for i in range(length - 1)], tf.int64)
    tokenizer = preprocessor.tokenizer

    def batch(step):
        pick_key, next_key, other_key, mask_key = tf.unstack(
            tf.random.experimental.stateless_split(mask_seed(seed, 0, step), 4))
        first = tf.gather(firsts, tf.random.stateless_uniform(
            [batch_size], pick_key, maxval=firsts.shape[0], dtype=tf.int64))
        random_next = tf.random.stateless_uniform([batch_size], next_key) < 0.5
        start, length = tf.gather(document_start, first), tf.gather(document_length, first)
        # A uniform sentence outside the first's document: draw among the others, skip the document.
        others = tf.cast(tf.random.stateless_uniform([batch_size], other_key) * tf.cast(total - length, tf.float32),
                         tf.int64)
        other = tf.minimum(others, total - length - 1)
        other = other + tf.where(other >= start, length, 0)
        second = tf.where(random_next, other, first + 1)
        packed = preprocessor.pack(tokenizer(tf.gather(sentences, first)), tokenizer(tf.gather(sentences, second)))
        x, mask_ids, mask_weights = preprocessor.mask(packed, mask_key)
        labels = tf.cast(random_next, tf.int32)
        return (x, {"mlm_logits": mask_ids, "nsp_logits": labels},
                {"mlm_logits": mask_weights, "nsp_logits": tf.ones_like(labels, tf.float32)})

    steps = tf.data.Dataset.counter(start_step)
    return steps.map(batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
