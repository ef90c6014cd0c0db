"""`WordPieceTokenizer`: Google's BERT FullTokenizer as a Keras layer of TensorFlow ops.

Basic tokenization (`normalization.BasicTokenizer`: cleaning, CJK, lowercasing, accents,
punctuation) then greedy longest-match-first WordPiece (tf-text's `FastWordpieceTokenizer`
on single words), giving the ids of Google's `tokenization.py` for every string, with
character offsets into the original text for SQuAD and NER.

Example:
    >>> tokenizer = WordPieceTokenizer("vocab.txt")  # uncased BERT vocabulary
    >>> tokenizer("Hello, World!").numpy().tolist()
    [7592, 1010, 2088, 999]
    >>> tokenizer(["naïve café", "[CLS]"]).to_list()
    [[15743, 7668], [1031, 18856, 2015, 1033]]
    >>> tokenizer.detokenize([7592, 1010, 2088, 999]).numpy()
    b'hello , world !'
"""

import functools
import re
import warnings

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert_suite.presets import resolve_preset
from keras_bert_suite.tokenizers.flat_ops import row_ids
from keras_bert_suite.tokenizers.normalization import BasicTokenizer
from keras_bert_suite.tokenizers.vocabulary_file import load_vocabulary

SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]")  # every task packs with these
MASK_TOKEN = "[MASK]"  # only masked-LM and pretraining tasks need it
# Google's tokenizer keeps a lone surrogate (a Python str may hold one; UTF-8 cannot) as an
# ordinary character, so its word becomes [UNK]. A noncharacter, which no vocabulary holds,
# does the same in every step (not whitespace, control, punctuation or CJK; no case, no accent).
SURROGATE_STAND_IN = "\ufdd0"
_SURROGATES = re.compile("[\ud800-\udfff]")


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class WordPieceTokenizer(keras.layers.Layer):
    """Strings to WordPiece ids, exactly as Google's BERT `FullTokenizer`.

    A Python `str` or a scalar string tensor gives a 1-D int32 tensor; a list of strings
    or a 1-D string tensor gives an int32 `tf.RaggedTensor` `[batch, None]` (a string
    tensor of higher rank, or a ragged one, gains one ragged dimension). Bytes that are
    not valid UTF-8 decode to U+FFFD, which Google's cleaning drops. A lone surrogate in
    a Python `str` ("a\\ud800b") is one character no piece matches, so its word is the
    unknown token, as in Google's code. A "[CLS]" typed in the text is ordinary text. The character tables come from the running Python's
    `unicodedata` (Unicode 14.0.0 on Python 3.11), as Google's code does.

    Args:
        vocabulary: path of a `vocab.txt` (one token per line) or a list of tokens.
            It must hold `[PAD]`, `[CLS]`, `[SEP]` and `unknown_token`; without `[MASK]`
            it loads with a warning, and `mask_token_id` (masked LM, pretraining) raises.
        lowercase: lowercase the text (Google's `do_lower_case`, for uncased models).
        strip_accents: NFD and drop nonspacing marks. `None`: same as `lowercase`,
            which is what Google does; `True`/`False` overrides it.
        max_input_chars_per_word: a longer word (in characters, after normalization)
            becomes one `unknown_token`.
        unknown_token: the token for words WordPiece cannot cover.
        suffix_indicator: the prefix of continuation pieces.
    """

    def __init__(
        self,
        vocabulary,
        lowercase=True,
        strip_accents=None,
        max_input_chars_per_word=200,
        unknown_token="[UNK]",
        suffix_indicator="##",
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Strings stay TensorFlow strings; nothing to build.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

        if not isinstance(max_input_chars_per_word, int) or max_input_chars_per_word < 1:
            raise ValueError(
                "`max_input_chars_per_word` must be a positive integer (Google uses 200); "
                f"found {max_input_chars_per_word!r}."
            )
        self._vocabulary = load_vocabulary(vocabulary)
        missing = [t for t in SPECIAL_TOKENS + (unknown_token,) if t not in self._vocabulary.index]
        if missing:
            raise ValueError(
                f"{self._vocabulary.source} lacks the special token(s) {missing}. A BERT "
                f"vocabulary holds {list(SPECIAL_TOKENS)} and the unknown token "
                f"{unknown_token!r}; use the vocab.txt that came with the checkpoint."
            )
        if MASK_TOKEN not in self._vocabulary.index:
            warnings.warn(
                f"{self._vocabulary.source} has no {MASK_TOKEN} token: classification, tagging, multiple "
                "choice and question answering work; masked-LM and pretraining tasks refuse it.", stacklevel=2,
            )
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.max_input_chars_per_word = max_input_chars_per_word
        self.unknown_token = unknown_token
        self.suffix_indicator = suffix_indicator

        self._basic_tokenizer = BasicTokenizer(lowercase, strip_accents)
        # Words longer than `max_input_chars_per_word` never reach it (see `_tokenize`),
        # so its byte limit only has to let every shorter word through.
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=self._vocabulary.matchable_tokens(),
            suffix_indicator=suffix_indicator,
            max_bytes_per_word=4 * max_input_chars_per_word,
            token_out_type=tf.int32,
            unknown_token=unknown_token,
            no_pretokenization=True,
        )
        # One traced graph per call instead of hundreds of eager ops; nests in tf.data. Ids
        # alone skip the offset ops, and one string is unwrapped inside the graph.
        # (String keys: SavedModel tracking refuses others.)
        self._traced = {
            _traced_key(rank, with_offsets): tf.function(
                functools.partial(self._tokenize_rank, rank=rank, with_offsets=with_offsets),
                input_signature=[tf.TensorSpec([None] * rank, tf.string)],
                autograph=False,
            )
            for rank in (0, 1) for with_offsets in (False, True)
        }

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """The tokenizer of a preset (name, URL or folder); `kwargs` override its casing."""
        resolved = resolve_preset(preset)
        options = {"lowercase": resolved.lowercase, **kwargs}
        return cls(vocabulary=str(resolved.vocabulary_file), **options)

    # === Tokenization ===

    def call(self, inputs):
        return self._run(inputs, with_offsets=False)

    def tokenize_with_offsets(self, inputs):
        """`(ids, starts, ends)`: ids as `call` gives them, and for each piece the start
        and exclusive end offset, in characters (code points), in the original string.
        A piece cut from a normalized character ("İ" -> "i") covers that character."""
        return self._run(inputs, with_offsets=True)

    def _run(self, inputs, with_offsets):
        """Ids (and offsets) of strings of any rank, through the traced graphs."""
        strings = _as_string_tensor(inputs)
        if not isinstance(strings, tf.RaggedTensor):
            rank = strings.shape.rank
            if rank is None:
                raise ValueError(
                    "WordPieceTokenizer needs inputs of known rank; give the tf.function an "
                    "input_signature such as tf.TensorSpec([None], tf.string)."
                )
            if rank <= 1:
                return self._traced[_traced_key(rank, with_offsets)](strings)
            strings = tf.RaggedTensor.from_tensor(strings, ragged_rank=rank - 1)
        # Any other shape: its strings as one batch, the results in that shape.
        results = self._traced[_traced_key(1, with_offsets)](strings.flat_values)
        return tf.nest.map_structure(strings.with_flat_values, results)

    def _tokenize_rank(self, strings, rank, with_offsets):
        """`_tokenize` of a 1-D batch, or of one string (rank 0: dense 1-D results); ids
        alone unless `with_offsets`."""
        results = self._tokenize(strings if rank else strings[tf.newaxis])
        if not rank:
            results = tuple(result.flat_values for result in results)
        return results if with_offsets else results[0]

    def _tokenize(self, strings):
        """1-D strings to ragged `[batch, None]` int32 ids, starts and ends."""
        words = self._basic_tokenizer(strings)
        chars = words.codepoints
        too_long = chars.row_lengths() > self.max_input_chars_per_word
        texts = tf.where(too_long, "", tf.strings.unicode_encode(chars, "UTF-8"))
        pieces, byte_starts, byte_ends = self._wordpiece.tokenize_with_offsets(texts)
        piece_starts, piece_ends = _original_offsets(words, pieces, byte_starts, byte_ends)

        # A word over the length limit (sent as "", so without pieces) becomes one
        # unknown token spanning the word.
        piece_counts = pieces.row_lengths()
        counts = tf.where(too_long, tf.ones_like(piece_counts), piece_counts)
        output_words = row_ids(tf.cumsum(counts), tf.reduce_sum(counts))
        is_long = tf.gather(too_long, output_words)
        wordpiece_positions = tf.where(~is_long)
        total = tf.reduce_sum(counts)[tf.newaxis]

        def merge(wordpiece_values, long_word_values):
            scattered = tf.scatter_nd(wordpiece_positions, wordpiece_values, total)
            return tf.where(is_long, tf.gather(long_word_values, output_words), scattered)

        ids = merge(pieces.flat_values, tf.fill(tf.shape(too_long), self.unk_token_id))
        starts = merge(piece_starts, tf.gather(words.starts.flat_values, chars.row_starts()))
        ends = merge(piece_ends, tf.gather(words.ends.flat_values, chars.row_limits() - 1))
        rows = tf.gather(words.rows, output_words)
        num_strings = tf.size(strings, out_type=tf.int64)
        return tuple(
            tf.RaggedTensor.from_value_rowids(
                tf.cast(values, tf.int32), rows, nrows=num_strings, validate=False
            )
            for values in (ids, starts, ends)
        )

    def detokenize(self, ids):
        """Ids back to text: pieces joined by spaces, continuation pieces glued on.

        1-D ids give a scalar string, a batch (ragged or dense) a 1-D string tensor.
        Special tokens are kept; lowercasing and stripped accents are not undone.
        """
        if isinstance(ids, (list, tuple)):
            ids = tf.ragged.constant(ids, dtype=tf.int32)
        elif not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
        flat = ids.flat_values if isinstance(ids, tf.RaggedTensor) else ids
        flat = tf.cast(flat, tf.int32)
        size = self.vocabulary_size()
        checks = [
            tf.debugging.assert_non_negative(flat, message="detokenize: negative token id"),
            tf.debugging.assert_less(
                flat, size, message=f"detokenize: token id >= vocabulary size {size}"
            ),
        ]
        with tf.control_dependencies(checks):
            tokens = tf.gather(tf.constant(self._vocabulary.tokens), ids)
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
        return tf.strings.regex_replace(text, " " + re.escape(self.suffix_indicator), "")

    # === Vocabulary ===

    def vocabulary_size(self):
        return len(self._vocabulary.tokens)

    def get_vocabulary(self):
        return list(self._vocabulary.tokens)

    def id_to_token(self, id):
        if not 0 <= int(id) < self.vocabulary_size():
            raise ValueError(
                f"Token id {id} is outside the vocabulary: ids run from 0 to "
                f"{self.vocabulary_size() - 1} ({self._vocabulary.source})."
            )
        return self._vocabulary.tokens[int(id)]

    def token_to_id(self, token):
        if token not in self._vocabulary.index:
            raise ValueError(
                f"Token {token!r} is not in the vocabulary ({self._vocabulary.source}). "
                "Tokenize text with the layer itself: unknown words become "
                f"{self.unknown_token!r}."
            )
        return self._vocabulary.index[token]

    @property
    def pad_token_id(self):
        return self.token_to_id("[PAD]")

    @property
    def cls_token_id(self):
        return self.token_to_id("[CLS]")

    @property
    def sep_token_id(self):
        return self.token_to_id("[SEP]")

    @property
    def mask_token_id(self):
        if MASK_TOKEN not in self._vocabulary.index:
            raise ValueError(
                f"{self._vocabulary.source} has no {MASK_TOKEN} token, which masked-LM and pretraining "
                "tasks need. Use the vocab.txt that came with the checkpoint, or add a [MASK] line."
            )
        return self.token_to_id(MASK_TOKEN)

    @property
    def unk_token_id(self):
        return self.token_to_id(self.unknown_token)

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": list(self._vocabulary.tokens),
                "lowercase": self.lowercase,
                "strip_accents": self.strip_accents,
                "max_input_chars_per_word": self.max_input_chars_per_word,
                "unknown_token": self.unknown_token,
                "suffix_indicator": self.suffix_indicator,
            }
        )
        return config


def _traced_key(rank, with_offsets):
    return f"rank{rank}" + ("_offsets" if with_offsets else "")


def encode_python_text(value):
    """`value` with every Python `str` in it (in lists, tuples, object or unicode arrays) as
    UTF-8 bytes, lone surrogates as `SURROGATE_STAND_IN`; anything else as it is.

    `tf.convert_to_tensor` and `tf.data` refuse a `str` holding a lone surrogate; the bytes
    tokenize as Google's tokenizer treats the `str`.

    Example:
        >>> encode_python_text(["a\\ud800b", 3])
        [b'a\\xef\\xb7\\x90b', 3]
    """
    if isinstance(value, str):
        return _SURROGATES.sub(SURROGATE_STAND_IN, value).encode("utf-8")
    if isinstance(value, (list, tuple)):
        return type(value)(encode_python_text(item) for item in value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "UO" and value.size:
        return np.frompyfunc(encode_python_text, 1, 1)(value)
    return value


def _as_string_tensor(inputs):
    """Python strings, lists, arrays and tensors as a string `tf.Tensor`/`tf.RaggedTensor`."""
    if isinstance(inputs, (tf.Tensor, tf.RaggedTensor)):
        strings = inputs
    elif isinstance(inputs, (list, tuple)) and not inputs:
        strings = tf.constant([], tf.string)
    else:
        try:
            strings = tf.convert_to_tensor(encode_python_text(inputs))
        except (TypeError, ValueError) as error:
            raise ValueError(
                "WordPieceTokenizer takes a string, a list of strings or a string tensor; "
                f"found {type(inputs).__name__} ({error})."
            ) from None
    if strings.dtype != tf.string:
        raise ValueError(
            "WordPieceTokenizer takes strings; found a tensor of dtype "
            f"{strings.dtype.name}. To turn ids back into text, call `detokenize`."
        )
    return strings


def _original_offsets(words, pieces, byte_starts, byte_ends):
    """Each piece's start and end in the original string: its byte offsets within the
    word's UTF-8 -> the normalized characters it spans -> their original offsets."""
    chars = words.codepoints
    codepoints = tf.cast(chars.flat_values, tf.int64)
    byte_lengths = 1 + sum(
        tf.cast(codepoints >= bound, tf.int64) for bound in (0x80, 0x800, 0x10000)
    )
    char_bytes = tf.cumsum(byte_lengths, exclusive=True)  # All words end to end.
    piece_words = row_ids(pieces.row_limits(), tf.size(pieces.flat_values))
    word_bytes = tf.gather(tf.gather(char_bytes, chars.row_starts()), piece_words)
    first_chars = _char_at_byte(char_bytes, word_bytes + byte_starts.flat_values)
    last_chars = _char_at_byte(char_bytes, word_bytes + byte_ends.flat_values - 1)
    return (
        tf.gather(words.starts.flat_values, first_chars),
        tf.gather(words.ends.flat_values, last_chars),
    )


def _char_at_byte(char_bytes, byte_positions):
    """Index of the character whose UTF-8 bytes contain each byte position."""
    return tf.searchsorted(char_bytes, byte_positions, side="right", out_type=tf.int64) - 1
