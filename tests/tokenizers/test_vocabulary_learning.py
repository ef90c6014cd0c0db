"""Vocabulary learning (`kbs build-vocab`) on the bundled SQuAD paragraphs: the learned file
loads in `WordPieceTokenizer` and in `kbs create-pretraining-data`, and round-trips its corpus."""

import json
import pathlib

import pytest
import tensorflow as tf

from keras_bert_suite.cli import main
from keras_bert_suite.tokenizers import WordPieceTokenizer
from keras_bert_suite.tokenizers.normalization import BasicTokenizer
from keras_bert_suite.tokenizers.vocabulary_learning import RESERVED_TOKENS, count_words, learn_vocabulary
from tests.helpers.shared_data import shared

SQUAD = pathlib.Path(__file__).resolve().parents[2] / "examples" / "data" / "squad_v1.1" / "dev-v1.1-part1.json"
VOCAB_SIZE = 700


def paragraphs(path):
    return [p["context"] for article in json.loads(path.read_text(encoding="utf-8"))["data"]
            for p in article["paragraphs"]]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "squad.txt"
    path.write_text("".join(text + "\n\n" for text in paragraphs(SQUAD)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def vocab_file(corpus_file):
    path = corpus_file.parent / "vocab.txt"
    assert main(["build-vocab", "--input-file", str(corpus_file), "--output-file", str(path),
                 "--vocab-size", str(VOCAB_SIZE)]) == 0
    return path


def test_learned_vocabulary_round_trips_its_corpus(vocab_file):
    tokens = vocab_file.read_text(encoding="utf-8").splitlines()
    assert tokens[:5] == list(RESERVED_TOKENS)
    assert 0.95 * VOCAB_SIZE <= len(tokens) <= VOCAB_SIZE and len(set(tokens)) == len(tokens)
    assert any(t.startswith("##") and len(t) > 3 for t in tokens) and any(len(t) > 3 and t[0] != "#" for t in tokens)
    tokenizer = WordPieceTokenizer(str(vocab_file))
    texts = paragraphs(SQUAD)
    ids = tokenizer(texts)
    unknown = float(tf.reduce_mean(tf.cast(ids.flat_values == tokenizer.unk_token_id, tf.float32)))
    print(f"[UNK] share on the training corpus: {unknown:.4%} of {ids.flat_values.shape[0]} pieces")
    assert unknown == 0.0  # every character of the corpus is in the vocabulary
    words = BasicTokenizer(lowercase=True)(tf.constant(texts)).codepoints
    joined = tf.strings.reduce_join(
        tf.RaggedTensor.from_value_rowids(tf.strings.unicode_encode(words, "UTF-8"),
                                          BasicTokenizer(lowercase=True)(tf.constant(texts)).rows, len(texts)),
        axis=1, separator=" ")
    assert tokenizer.detokenize(ids).numpy().tolist() == joined.numpy().tolist()
    # Fewer pieces than characters: the learner found subwords, not only letters.
    assert ids.flat_values.shape[0] < 0.5 * sum(len(text) for text in texts)


def test_held_out_text_has_few_unknown_pieces(vocab_file):
    """The rest of the SQuAD dev part (when ../shared/data is there) through the same vocabulary."""
    texts = paragraphs(shared("squad_v1.1/dev-v1.1-part1.json"))[100:400]
    ids = WordPieceTokenizer(str(vocab_file))(texts).flat_values
    unknown = float(tf.reduce_mean(tf.cast(ids == 1, tf.float32)))
    print(f"[UNK] share on held-out SQuAD paragraphs: {unknown:.4%} of {ids.shape[0]} pieces")
    assert unknown < 0.01


def test_learned_vocabulary_feeds_create_pretraining_data(vocab_file, corpus_file, tmp_path):
    out = tmp_path / "pretrain.tfrecord"
    assert main(["create-pretraining-data", "--input-file", str(corpus_file), "--output-file", str(out),
                 "--vocab-file", str(vocab_file), "--dupe-factor", "1", "--num-workers", "1"]) == 0
    features = {"input_ids": tf.io.FixedLenFeature([128], tf.int64),
                "masked_lm_ids": tf.io.FixedLenFeature([20], tf.int64)}
    records = [tf.io.parse_single_example(r, features) for r in tf.data.TFRecordDataset(str(out))]
    assert len(records) > 20
    first = records[0]["input_ids"].numpy()
    assert first[0] == RESERVED_TOKENS.index("[CLS]") and RESERVED_TOKENS.index("[SEP]") in first
    assert max(int(tf.reduce_max(r["masked_lm_ids"])) for r in records) < VOCAB_SIZE


def test_casing_follows_the_flag():
    lines = ["Paris and PARIS and paris"] * 3
    assert count_words(lines, lowercase=True) == {"paris": 9, "and": 6}
    assert count_words(lines, lowercase=False) == {"Paris": 3, "PARIS": 3, "paris": 3, "and": 6}
    cased = learn_vocabulary(lines, 50, lowercase=False)
    assert "Paris" in cased and "P" in cased and "paris" in cased


def test_bad_settings_are_refused(corpus_file, tmp_path, capsys):
    for flags, message in ((["--vocab-size", "5"], "must exceed the 5 reserved tokens"),
                           (["--min-count", "0"], "--min-count must be at least 1")):
        status = main(["build-vocab", "--input-file", str(corpus_file), "--output-file", str(tmp_path / "v.txt"),
                       *flags])
        assert status == 2 and message in capsys.readouterr().err
    with pytest.raises(ValueError, match="no words"):
        learn_vocabulary(["", "  "], 100)
    assert not (tmp_path / "v.txt").exists()
