"""`kbs create-pretraining-data` on real text (the bundled SQuAD paragraphs, one sentence per
line, a paragraph per document) with the MiniLM preset's BERT uncased vocabulary. Records
are read back with a parser written from google-research/bert `run_pretraining.py`
(`input_fn_builder`'s `name_to_features`), not with the package's."""

import json
import pathlib
import random
import re

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_suite.cli import main
from keras_bert_suite.presets import DEFAULT_PRESET, resolve_preset
from keras_bert_suite.recipes import pretraining_data
from keras_bert_suite.recipes.pretraining_data import (
    create_pretraining_data,
    map_in_order,
    read_documents,
    shuffled,
)
from keras_bert_suite.recipes.pretraining_instances import InstanceOptions
from keras_bert_suite.recipes.text_files import iter_lines

SQUAD = pathlib.Path(__file__).resolve().parents[2] / "examples" / "data" / "squad_v1.1" / "dev-v1.1-part1.json"
SEQ, PREDICTIONS = 128, 20
CLS, SEP, MASK = 101, 102, 103  # BERT uncased vocab.txt


def original_parser(max_seq_length=SEQ, max_predictions_per_seq=PREDICTIONS):
    """`run_pretraining.py`'s `name_to_features`, as a parse function of one serialized record."""
    name_to_features = {
        "input_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([max_seq_length], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }
    return lambda record: tf.io.parse_single_example(record, name_to_features)


def read_records(paths, **shape):
    parse = original_parser(**shape)
    batches = list(tf.data.TFRecordDataset([str(p) for p in paths]).map(parse).batch(100_000).as_numpy_iterator())
    assert len(batches) == 1
    return batches[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Every bundled SQuAD paragraph as a document, split into sentences after . ! ?"""
    path = tmp_path_factory.mktemp("corpus") / "squad.txt"
    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    with open(path, "w", encoding="utf-8") as handle:
        for article in data:
            for paragraph in article["paragraphs"]:
                sentences = re.split(r"(?<=[.!?])\s+", paragraph["context"].strip())
                handle.write("".join(sentence + "\n" for sentence in sentences) + "\n")
    return path


@pytest.fixture(scope="module")
def vocabulary():
    resolved = resolve_preset(DEFAULT_PRESET)
    assert resolved.lowercase
    return resolved.vocabulary_file


def build(corpus, vocabulary, out, options=InstanceOptions(), **kwargs):
    settings = dict(random_seed=12345, dupe_factor=10, progress=False) | kwargs
    result = create_pretraining_data([corpus], out, vocabulary, True, options, **settings)
    return result, read_records(result["files"], max_seq_length=options.max_seq_length,
                                max_predictions_per_seq=options.max_predictions_per_seq)


@pytest.fixture(scope="module")
def records(corpus, vocabulary, tmp_path_factory):
    result, parsed = build(corpus, vocabulary, tmp_path_factory.mktemp("out") / "pretrain.tfrecord")
    assert result["documents"] == 24 and result["instances"] == len(parsed["input_ids"]) > 400
    return parsed


def test_records_hold_the_original_features(records, tmp_path_factory, corpus, vocabulary):
    out = tmp_path_factory.mktemp("one") / "one.tfrecord"
    create_pretraining_data([corpus], out, vocabulary, dupe_factor=1, progress=False)
    example = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(str(out)))).numpy())
    kinds = {name: feature.WhichOneof("kind") for name, feature in example.features.feature.items()}
    assert kinds == {"input_ids": "int64_list", "input_mask": "int64_list", "segment_ids": "int64_list",
                     "masked_lm_positions": "int64_list", "masked_lm_ids": "int64_list",
                     "masked_lm_weights": "float_list", "next_sentence_labels": "int64_list"}
    for row in range(len(records["input_ids"])):
        ids, mask, segments = (records[name][row] for name in ("input_ids", "input_mask", "segment_ids"))
        length = int(mask.sum())
        assert mask.tolist() == [1] * length + [0] * (SEQ - length)
        assert ids[0] == CLS and ids[length - 1] == SEP and not ids[length:].any() and not segments[length:].any()
        seps = [i for i in range(length) if ids[i] == SEP and i not in set(records["masked_lm_positions"][row])]
        first_sep = seps[0]
        assert segments[:length].tolist() == [0] * (first_sep + 1) + [1] * (length - first_sep - 1)
        count = int(records["masked_lm_weights"][row].sum())
        assert records["masked_lm_weights"][row].tolist() == [1.0] * count + [0.0] * (PREDICTIONS - count)
        positions = records["masked_lm_positions"][row]
        assert not positions[count:].any() and not records["masked_lm_ids"][row][count:].any()
        assert np.all(np.diff(positions[:count]) > 0) and 0 < positions[0] and positions[count - 1] < length - 1
    assert set(np.unique(records["next_sentence_labels"])) == {0, 1}


def test_masking_statistics(records):
    lengths = records["input_mask"].sum(axis=1)
    counts = records["masked_lm_weights"].sum(axis=1).astype(int)
    expected = np.minimum(PREDICTIONS, np.maximum(1, np.round(lengths * 0.15))).astype(int)
    np.testing.assert_array_equal(counts, expected)  # no whole-word mask: always the full count
    print(f"masked share {counts.sum() / lengths.sum():.4f} over {counts.sum()} pieces")
    assert abs(counts.sum() / lengths.sum() - 0.15) < 0.01
    rows, slots = np.nonzero(records["masked_lm_weights"])
    positions = records["masked_lm_positions"][rows, slots]
    shown = records["input_ids"][rows, positions]
    labels = records["masked_lm_ids"][rows, slots]
    assert not np.isin(labels, [0, CLS, SEP, MASK]).any()  # no special token is ever a target
    as_mask, as_self = np.mean(shown == MASK), np.mean(shown == labels)
    as_random = 1 - as_mask - as_self
    print(f"[MASK] {as_mask:.3f}, kept {as_self:.3f}, random {as_random:.3f}")
    assert abs(as_mask - 0.8) < 0.03 and abs(as_self - 0.1) < 0.03 and abs(as_random - 0.1) < 0.03


def test_next_sentence_labels(records):
    share = records["next_sentence_labels"].mean()
    print(f"random-next share {share:.3f}")
    # Above a half: a one-sentence chunk (a short paragraph's end) is always random next.
    assert 0.45 < share < 0.7


def test_whole_word_masking_masks_whole_words(corpus, vocabulary, tmp_path):
    tokens = resolve_preset(DEFAULT_PRESET).vocabulary_file.read_text(encoding="utf-8").splitlines()
    continuation = np.array([token.startswith("##") for token in tokens])
    partial = {}
    for whole_words in (True, False):
        _, parsed = build(corpus, vocabulary, tmp_path / f"{whole_words}.tfrecord",
                          InstanceOptions(do_whole_word_mask=whole_words), dupe_factor=3)
        partial[whole_words] = 0
        for row in range(len(parsed["input_ids"])):
            count = int(parsed["masked_lm_weights"][row].sum())
            positions = parsed["masked_lm_positions"][row][:count]
            masked = set(positions.tolist())
            original = parsed["input_ids"][row].copy()
            original[positions] = parsed["masked_lm_ids"][row][:count]
            length = int(parsed["input_mask"][row].sum())
            words = []
            for position in range(1, length - 1):  # word groups as the original forms them
                if original[position] == SEP:
                    continue
                if continuation[original[position]] and words:
                    words[-1].append(position)
                else:
                    words.append([position])
            partial[whole_words] += sum(0 < len(masked.intersection(word)) < len(word) for word in words)
    assert partial[True] == 0 and partial[False] > 20


def test_same_seed_same_bytes_other_seed_other_data(corpus, vocabulary, tmp_path):
    paths = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        result = create_pretraining_data([corpus], tmp_path / f"{name}.tfrecord", vocabulary, random_seed=seed,
                                         dupe_factor=2, progress=False)
        paths.append(pathlib.Path(result["files"][0]))
    first, again, other = (path.read_bytes() for path in paths)
    assert first == again and first != other


def test_cli_shards_leave_the_data_unchanged(corpus, vocabulary, tmp_path, capsys):
    """Two shards (round robin) hold the records of one file; --preset gives the same vocabulary."""
    single = create_pretraining_data([corpus], tmp_path / "single.tfrecord", vocabulary, dupe_factor=2,
                                     document_pool_size=10, progress=False)
    status = main(["create-pretraining-data", "--input-file", f"{corpus.parent}/*.txt",
                   "--output-file", str(tmp_path / "sharded.tfrecord"), "--preset", DEFAULT_PRESET,
                   "--dupe-factor", "2", "--document-pool-size", "10", "--num-shards", "2", "--num-workers", "1"])
    assert status == 0
    assert "create-pretraining-data: wrote" in capsys.readouterr().err
    shards = [tmp_path / "sharded-00000-of-00002.tfrecord", tmp_path / "sharded-00001-of-00002.tfrecord"]
    expected = [r.numpy() for r in tf.data.TFRecordDataset(single["files"])]
    got = [[r.numpy() for r in tf.data.TFRecordDataset(str(shard))] for shard in shards]
    assert len(got[0]) + len(got[1]) == len(expected) == single["instances"]
    assert got[0] == expected[0::2] and got[1] == expected[1::2]


def counted_pools(corpus, pulled, size=2):
    for index, pool in enumerate(pretraining_data.batched(read_documents(iter_lines([corpus])), size)):
        pulled.append(index)
        yield index, pool


def test_two_workers_build_the_same_pools_in_order_reading_ahead_at_most_four(corpus, vocabulary):
    arguments = (vocabulary, True, InstanceOptions(), 3, 2)
    expected = list(map_in_order(arguments, counted_pools(corpus, []), num_workers=1))
    pulled = []
    results = map_in_order(arguments, counted_pools(corpus, pulled), num_workers=2)
    first = next(results)
    assert len(pulled) == 4  # 12 pools in the file; 2 per worker in flight
    second = next(results)
    assert len(pulled) == 5
    assert [first, second, *results] == expected and len(expected) == 12


def test_streaming_reads_lazily_with_bounded_buffers(corpus, vocabulary):
    """Pools are pulled only as results are taken, and the shuffle window holds `buffer_size`."""
    pulled = []
    results = map_in_order((vocabulary, True, InstanceOptions(), 1, 1), counted_pools(corpus, pulled), num_workers=1)
    next(results)
    next(results)
    assert len(pulled) == 2

    def endless():
        count = 0
        while True:
            pulled.append(count)
            count += 1
            yield count

    pulled.clear()
    window = shuffled(endless(), 50, random.Random(0))
    outputs = [next(window) for _ in range(1000)]
    assert len(pulled) == 1050 and len(set(outputs)) == 1000 and outputs != sorted(outputs)

    lines = iter(["a", "b", "", "c", "", "", "d"])
    documents = read_documents(lines)
    assert next(documents) == ["a", "b"] and next(lines) == "c"


def test_bad_input_is_refused_with_the_file_named(tmp_path, vocabulary, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    for flags, message in (
        (["--input-file", str(tmp_path / "missing-*.txt"), "--vocab-file", str(vocabulary)], "matches no file"),
        (["--input-file", str(empty), "--vocab-file", str(vocabulary)], "holds no text"),
        (["--input-file", str(empty)], "Pass --vocab-file"),
        (["--input-file", str(empty), "--vocab-file", str(vocabulary), "--max-seq-length", "4"], "at least 5"),
        (["--input-file", str(empty), "--vocab-file", str(vocabulary), "--dupe-factor", "0"], "--dupe-factor"),
    ):
        status = main(["create-pretraining-data", "--output-file", str(tmp_path / "out.tfrecord"), *flags])
        assert status == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out.tfrecord").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt"]
