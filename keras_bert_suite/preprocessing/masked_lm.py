"""`BertMaskedLMPreprocessor`: raw text -> packed inputs with fresh random masks.

Masking follows the original `create_pretraining_data.py`: each sequence masks
`min(mask_selection_length, max(1, round(length * mask_selection_rate)))` tokens
(`length` counts `[CLS]`/`[SEP]`, which are never chosen, nor is padding); of
those, 80% become `[MASK]`, 10% a random token, 10% stay. Positions come back in
increasing order, padded to `mask_selection_length` with weight 0.

Masks are drawn inside `tf.data` from a `tf.random.Generator` the preprocessor
owns, so every epoch sees new masks, also after `keras.utils.set_random_seed`
(a seeded stateful op would replay the same masks each epoch). Pass `seed=` for a
reproducible mask stream.

Example:
    >>> preprocessor = BertMaskedLMPreprocessor.from_preset("minilm_l6_h384_uncased", sequence_length=64)
    >>> x, mask_ids, mask_weights = preprocessor(["The quick brown fox jumps."])
"""

import random

import keras
import tensorflow as tf

from keras_bert_suite.preprocessing.base import TaskPreprocessor, to_string_tensor


def count_to_mask(padding_mask, candidates, rate, cap):
    """Google's `min(cap, max(1, round(len(tokens) * rate)))`, at most the candidates per row."""
    length = tf.reduce_sum(tf.cast(padding_mask, tf.float32), axis=1)
    count = tf.cast(tf.maximum(1.0, tf.round(length * rate)), tf.int32)
    available = tf.reduce_sum(tf.cast(candidates, tf.int32), axis=1)
    return tf.minimum(tf.minimum(count, cap), available)


def choose_positions(candidates, count, cap, generator):
    """A boolean `[b, L]` selection of `count[i]` random candidates per row, and their
    positions in increasing order, padded with 0 to `[b, cap]`."""
    scores = tf.where(candidates, generator.uniform(tf.shape(candidates)), 2.0)
    rank = tf.argsort(tf.argsort(scores, axis=1, stable=True), axis=1, stable=True)
    selected = rank < count[:, None]
    length = tf.shape(candidates)[1]
    index = tf.broadcast_to(tf.range(length)[None, :], tf.shape(candidates))
    # Selected positions sort first, in order; the rest sort after every selected one.
    keys = tf.sort(tf.where(selected, index, index + length), axis=1)
    keys = tf.pad(keys, [[0, 0], [0, tf.maximum(cap - length, 0)]])[:, :cap]
    in_use = tf.range(cap)[None, :] < count[:, None]
    return selected, tf.where(in_use, keys, 0), in_use


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertMaskedLMPreprocessor(TaskPreprocessor):
    """`x` = texts or pairs `(texts_a, texts_b)`; returns `(x, mask_ids, mask_weights)`.

    `x` holds the backbone inputs (masked `token_ids`) plus `mask_positions`
    `[b, mask_selection_length]`; `mask_ids` are the original tokens there and
    `mask_weights` are 1.0 for real predictions, 0.0 for padding slots.
    """

    def __init__(self, tokenizer, sequence_length=128, mask_selection_rate=0.15,
                 mask_selection_length=20, mask_token_rate=0.8, random_token_rate=0.1,
                 seed=None, **kwargs):
        super().__init__(tokenizer, sequence_length, **kwargs)
        if not 0.0 < mask_selection_rate <= 1.0:
            raise ValueError(f"mask_selection_rate must be in (0, 1], found {mask_selection_rate}.")
        if not (isinstance(mask_selection_length, int) and mask_selection_length >= 1):
            raise ValueError(
                f"mask_selection_length must be a positive int (the most predictions per sequence, "
                f"Google's max_predictions_per_seq), found {mask_selection_length!r}."
            )
        if min(mask_token_rate, random_token_rate) < 0 or mask_token_rate + random_token_rate > 1:
            raise ValueError(
                "mask_token_rate and random_token_rate must be >= 0 and sum to at most 1, found "
                f"{mask_token_rate} and {random_token_rate}."
            )
        self.mask_selection_rate = mask_selection_rate
        self.mask_selection_length = mask_selection_length
        self.mask_token_rate = mask_token_rate
        self.random_token_rate = random_token_rate
        self.seed = seed
        # Python's `random` is seeded by keras.utils.set_random_seed, so unseeded runs repeat too.
        with tf.device("/CPU:0"):  # tf.data runs on the CPU; its state must live there.
            self.random_generator = tf.random.Generator.from_seed(
                seed if seed is not None else random.randrange(2**31))

    def pack_texts(self, x):
        """Tokenizes and packs texts or pairs (no masking)."""
        if isinstance(x, (tuple, list)) and len(x) == 2 and not isinstance(x[0], str):
            return self.pack(self.tokenizer(to_string_tensor(x[0])), self.tokenizer(to_string_tensor(x[1])))
        return self.pack(self.tokenizer(to_string_tensor(x)))

    def mask(self, packed):
        """Masks packed inputs; returns `(x with mask_positions, mask_ids, mask_weights)`."""
        tokenizer, generator = self.tokenizer, self.random_generator
        token_ids = tf.convert_to_tensor(packed["token_ids"], tf.int32)
        special = [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id]
        candidates = tf.logical_not(tf.reduce_any(token_ids[:, :, None] == tf.constant(special)[None, None], -1))
        candidates = tf.logical_and(candidates, tf.cast(packed["padding_mask"], tf.bool))
        count = count_to_mask(packed["padding_mask"], candidates, self.mask_selection_rate,
                              self.mask_selection_length)
        selected, positions, in_use = choose_positions(candidates, count, self.mask_selection_length, generator)
        # 80% [MASK], 10% a random token (any id, as in the original), 10% unchanged.
        choice = generator.uniform(tf.shape(token_ids))
        random_ids = generator.uniform(tf.shape(token_ids), maxval=tokenizer.vocabulary_size(), dtype=tf.int32)
        replacement = tf.where(choice < self.mask_token_rate, tokenizer.mask_token_id,
                               tf.where(choice < self.mask_token_rate + self.random_token_rate, random_ids, token_ids))
        mask_ids = tf.where(in_use, tf.gather(token_ids, positions, batch_dims=1), 0)
        x = dict(packed, token_ids=tf.where(selected, replacement, token_ids), mask_positions=positions)
        return x, mask_ids, tf.cast(in_use, tf.float32)

    def call(self, x, y=None, sample_weight=None):
        return self.mask(self.pack_texts(x))

    def get_config(self):
        config = super().get_config()
        config.update(
            mask_selection_rate=self.mask_selection_rate,
            mask_selection_length=self.mask_selection_length,
            mask_token_rate=self.mask_token_rate,
            random_token_rate=self.random_token_rate,
            seed=self.seed,
        )
        return config
