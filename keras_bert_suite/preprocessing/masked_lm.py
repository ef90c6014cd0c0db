"""`BertMaskedLMPreprocessor`: raw text -> packed inputs with fresh random masks.

Masking follows the original `create_pretraining_data.py`: each sequence masks
`min(mask_selection_length, max(1, round(length * mask_selection_rate)))` tokens
(`length` counts `[CLS]`/`[SEP]`, which are never chosen, nor is padding); of
those, 80% become `[MASK]`, 10% a random token, 10% stay. Positions come back in
increasing order, padded to `mask_selection_length` with weight 0.

Masks are stateless: every draw is keyed on a `[2]` int seed, `mask_seed(seed, epoch,
step)`, so a batch gets the same masks whichever replica, worker or parallel `tf.data` call
makes it, a run repeats exactly, and a resumed epoch draws the masks it drew before. `fit`
pairs each batch with its key (`step_seeds`), so every epoch sees new masks. A direct call
without `seed=` masks as step 0 of epoch 0 of the preprocessor's `seed` (a fresh random key
when that is None).

Example:
    >>> preprocessor = BertMaskedLMPreprocessor.from_preset("minilm_l6_h384_uncased", sequence_length=64, seed=1)
    >>> x, mask_ids, mask_weights = preprocessor(["The quick brown fox jumps."])
    >>> again = preprocessor(["The quick brown fox jumps."], seed=mask_seed(1, epoch=0, step=0))  # the same masks
"""

import keras
import tensorflow as tf

from keras_bert_suite.preprocessing.base import TaskPreprocessor, to_string_tensor


def count_to_mask(padding_mask, candidates, rate, cap):
    """Google's `min(cap, max(1, round(len(tokens) * rate)))`, at most the candidates per row."""
    length = tf.reduce_sum(tf.cast(padding_mask, tf.float32), axis=1)
    count = tf.cast(tf.maximum(1.0, tf.round(length * rate)), tf.int32)
    available = tf.reduce_sum(tf.cast(candidates, tf.int32), axis=1)
    return tf.minimum(tf.minimum(count, cap), available)


def mask_seed(seed, epoch, step):
    """The `[2]` int64 key of the masks of batch `step` of `epoch` in a run seeded with `seed`."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    for data in (epoch, step):
        key = tf.random.experimental.stateless_fold_in(key, tf.cast(data, tf.int64))
    return key


def step_seeds(seed, epoch=0):
    """An endless `tf.data.Dataset` of `mask_seed(seed, epoch, step)` for step 0, 1, ...; zip it
    with the batches. `epoch` may be a `tf.Variable`, read each time an iteration starts.

    Example:
        >>> batches = tf.data.Dataset.zip(texts.batch(32), step_seeds(1, epoch_variable))
    """
    def read_epoch(_):
        return epoch.read_value() if isinstance(epoch, tf.Variable) else tf.constant(epoch, tf.int64)

    return tf.data.Dataset.range(1).map(read_epoch).flat_map(
        lambda at: tf.data.Dataset.counter().map(lambda step: mask_seed(seed, at, step)))


def choose_positions(candidates, count, cap, uniform):
    """A boolean `[b, L]` selection of `count[i]` random candidates per row (the lowest of
    the `uniform` draws, `[b, L]` in [0, 1)), and their positions in increasing order, padded
    with 0 to `[b, cap]`."""
    scores = tf.where(candidates, uniform, 2.0)
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

    def pack_texts(self, x):
        """Tokenizes and packs texts or pairs (no masking)."""
        if isinstance(x, (tuple, list)) and len(x) == 2 and not isinstance(x[0], str):
            return self.pack(self.tokenizer(to_string_tensor(x[0])), self.tokenizer(to_string_tensor(x[1])))
        return self.pack(self.tokenizer(to_string_tensor(x)))

    def call_seed(self, seed):
        """`seed` as a `[2]` int64 key; None: `mask_seed(self.seed, 0, 0)`, or a random key."""
        if seed is not None:
            return tf.cast(seed, tf.int64)
        if self.seed is not None:
            return mask_seed(self.seed, 0, 0)
        return tf.random.uniform([2], maxval=tf.int64.max, dtype=tf.int64)

    def mask(self, packed, seed=None):
        """Masks packed inputs with the `[2]` int key `seed` (see `call_seed`); returns
        `(x with mask_positions, mask_ids, mask_weights)`."""
        tokenizer = self.tokenizer
        position_key, choice_key, token_key = tf.unstack(
            tf.random.experimental.stateless_split(self.call_seed(seed), 3))
        token_ids = tf.convert_to_tensor(packed["token_ids"], tf.int32)
        special = [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id]
        candidates = tf.logical_not(tf.reduce_any(token_ids[:, :, None] == tf.constant(special)[None, None], -1))
        candidates = tf.logical_and(candidates, tf.cast(packed["padding_mask"], tf.bool))
        count = count_to_mask(packed["padding_mask"], candidates, self.mask_selection_rate,
                              self.mask_selection_length)
        uniform = tf.random.stateless_uniform(tf.shape(token_ids), position_key)
        selected, positions, in_use = choose_positions(candidates, count, self.mask_selection_length, uniform)
        # 80% [MASK], 10% a random token (any id, as in the original), 10% unchanged.
        choice = tf.random.stateless_uniform(tf.shape(token_ids), choice_key)
        random_ids = tf.random.stateless_uniform(tf.shape(token_ids), token_key, maxval=tokenizer.vocabulary_size(),
                                                 dtype=tf.int32)
        replacement = tf.where(choice < self.mask_token_rate, tokenizer.mask_token_id,
                               tf.where(choice < self.mask_token_rate + self.random_token_rate, random_ids, token_ids))
        mask_ids = tf.where(in_use, tf.gather(token_ids, positions, batch_dims=1), 0)
        x = dict(packed, token_ids=tf.where(selected, replacement, token_ids), mask_positions=positions)
        return x, mask_ids, tf.cast(in_use, tf.float32)

    def call(self, x, y=None, sample_weight=None, seed=None):
        return self.mask(self.pack_texts(x), seed)

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
