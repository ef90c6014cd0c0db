"""`BertMaskedLMPreprocessor`: raw text -> packed inputs with fresh random masks.

Masking follows the original recipe (15% of tokens, of which 80% become `[MASK]`,
10% a random token, 10% stay; never `[CLS]`, `[SEP]` or padding; at most
`mask_selection_length` per sequence). It runs in `tf.data`, so every epoch sees
new masks. keras-hub's `MaskedLMMaskGenerator` does exactly this selection, so we
use it rather than keep a copy.

Example:
    >>> preprocessor = BertMaskedLMPreprocessor.from_preset("minilm_l6_h384_uncased", sequence_length=64)
    >>> x, mask_ids, mask_weights = preprocessor(["The quick brown fox jumps."])
"""

import keras
import keras_hub

from keras_bert_suite.preprocessing.base import BertPreprocessor, to_string_tensor


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class BertMaskedLMPreprocessor(BertPreprocessor):
    """`x` = texts or pairs `(texts_a, texts_b)`; returns `(x, mask_ids, mask_weights)`."""

    def __init__(self, tokenizer, sequence_length=128, mask_selection_rate=0.15,
                 mask_selection_length=20, mask_token_rate=0.8, random_token_rate=0.1, **kwargs):
        super().__init__(tokenizer, sequence_length, **kwargs)
        self.mask_selection_rate = mask_selection_rate
        self.mask_selection_length = mask_selection_length
        self.mask_token_rate = mask_token_rate
        self.random_token_rate = random_token_rate
        self.masker = keras_hub.layers.MaskedLMMaskGenerator(
            vocabulary_size=tokenizer.vocabulary_size(),
            mask_selection_rate=mask_selection_rate,
            mask_token_id=tokenizer.mask_token_id,
            mask_selection_length=mask_selection_length,
            unselectable_token_ids=[tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id],
            mask_token_rate=mask_token_rate,
            random_token_rate=random_token_rate,
        )

    def pack_texts(self, x):
        """Tokenizes and packs texts or pairs (no masking)."""
        if isinstance(x, (tuple, list)) and len(x) == 2 and not isinstance(x[0], str):
            return self.pack(self.tokenizer(to_string_tensor(x[0])), self.tokenizer(to_string_tensor(x[1])))
        return self.pack(self.tokenizer(to_string_tensor(x)))

    def mask(self, packed):
        """Masks packed inputs; returns `(x with mask_positions, mask_ids, mask_weights)`."""
        masked = self.masker(packed["token_ids"])
        x = dict(packed, token_ids=masked["token_ids"], mask_positions=masked["mask_positions"])
        return x, masked["mask_ids"], keras.ops.cast(masked["mask_weights"], "float32")

    def call(self, x, y=None, sample_weight=None):
        return self.mask(self.pack_texts(x))

    def get_config(self):
        config = super().get_config()
        config.update(
            mask_selection_rate=self.mask_selection_rate,
            mask_selection_length=self.mask_selection_length,
            mask_token_rate=self.mask_token_rate,
            random_token_rate=self.random_token_rate,
        )
        return config
