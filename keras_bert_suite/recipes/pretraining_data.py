"""Write BERT pre-training TFRecords (masked LM + next sentence) from plain-text files.

The `kbs create-pretraining-data` recipe, with the flags and the record format of
google-research/bert `create_pretraining_data.py`, so its files feed the original
`run_pretraining.py` and vice versa. Input: one sentence per line, a blank line between
documents. Each record holds the int64 features `input_ids`, `input_mask`, `segment_ids`
(`[max_seq_length]`), `masked_lm_positions`, `masked_lm_ids` (`[max_predictions_per_seq]`),
`next_sentence_labels` (`[1]`, 1 = random next) and the float `masked_lm_weights`
(`[max_predictions_per_seq]`), zero-padded. The pair and mask rules are in
`pretraining_instances.py`; docs/pretraining_data.md describes them.

Where it deviates from the original, and why (the original holds the corpus and every
instance in memory, so its memory grows with the corpus):
- Documents are read lazily in pools of `--document-pool-size` consecutive documents;
  a random-next segment comes from another document of the same pool, not of the whole
  corpus. Each pool is one unit of work: tokenized in one batch, all `--dupe-factor`
  passes built from it.
- Instances are shuffled in a buffer of `--shuffle-buffer-size` records, not globally.
- Pool `k`, pass `d` draws from `random.Random("{seed}/{d}/{k}")` and the shuffle buffer
  from its own seed, and pools are consumed in order: the output depends on the seed
  and flags only, not on `--num-workers` or timing. It differs from the original's for
  the same seed (the original has one generator for everything).
- The original has no shards beyond a comma-separated `--output-file`; `--num-shards N`
  writes `NAME-00000-of-0000N.SUFFIX` ... beside it. Records go round robin, as the
  original's writers do. Files are written atomically.

Example:
    $ kbs create-pretraining-data --input-file "corpus/*.txt" --output-file data/pretrain.tfrecord \\
        --preset bert_base_uncased --max-seq-length 128 --dupe-factor 10 --num-shards 8
"""

import argparse
import collections
import contextlib
import itertools
import multiprocessing
import os
import pathlib
import random
import sys
import time

import tensorflow as tf

from keras_bert_suite.presets import resolve_preset
from keras_bert_suite.recipes.pretraining_instances import InstanceOptions, TokenSpec, pool_instances
from keras_bert_suite.recipes.text_files import expand_input_files, iter_lines
from keras_bert_suite.tokenizers import WordPieceTokenizer
from keras_bert_suite.utils import atomic_path

LOG_EVERY_DOCUMENTS = 10000


def read_documents(lines):
    """Yields each document (list of non-empty lines) of an iterable of stripped lines, lazily."""
    document = []
    for line in lines:
        if line:
            document.append(line)
        elif document:
            yield document
            document = []
    if document:
        yield document


def batched(items, size):
    """Yields lists of `size` consecutive items (the last may be shorter), reading lazily."""
    items = iter(items)
    while batch := list(itertools.islice(items, size)):
        yield batch


class PoolBuilder:
    """Turns one pool of raw documents into serialized records: `builder((k, docs))`.

    Args:
        vocabulary_file, lowercase: the tokenizer (`WordPieceTokenizer`).
        options: `InstanceOptions`.
        random_seed, dupe_factor: as the original's flags.
    """

    def __init__(self, vocabulary_file, lowercase, options, random_seed, dupe_factor):
        self.tokenizer = WordPieceTokenizer(str(vocabulary_file), lowercase=lowercase)
        vocabulary = self.tokenizer.get_vocabulary()
        self.spec = TokenSpec(
            cls_id=self.tokenizer.cls_token_id, sep_id=self.tokenizer.sep_token_id,
            mask_id=self.tokenizer.mask_token_id, vocab_size=len(vocabulary),
            continuation_ids=frozenset(i for i, token in enumerate(vocabulary)
                                       if token.startswith(self.tokenizer.suffix_indicator)),
        )
        self.options = options
        self.random_seed = random_seed
        self.dupe_factor = dupe_factor

    def tokenize(self, documents):
        """Documents of lines -> documents of piece-id sentences; empty ones dropped, as the original."""
        lines = [line for document in documents for line in document]
        pieces = iter(self.tokenizer(lines).to_list()) if lines else iter(())
        tokenized = ([ids for ids in itertools.islice(pieces, len(document)) if ids] for document in documents)
        return [document for document in tokenized if document]

    def __call__(self, task):
        """`(records, documents kept)` for `task = (pool index, documents)`."""
        index, documents = task
        documents = self.tokenize(documents)
        records = []
        for dupe in range(self.dupe_factor):
            rng = random.Random(f"{self.random_seed}/{dupe}/{index}")
            for instance in pool_instances(documents, self.spec, self.options, rng):
                records.append(serialize_instance(instance, self.options))
        return records, len(documents)


def serialize_instance(instance, options):
    """A `tf.train.Example` (bytes) with the original's feature names, shapes and dtypes."""
    def ints(values, length):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values) + [0] * (length - len(values))))

    seq, predictions = options.max_seq_length, options.max_predictions_per_seq
    count = len(instance.masked_lm_positions)
    features = {
        "input_ids": ints(instance.tokens, seq),
        "input_mask": ints([1] * len(instance.tokens), seq),
        "segment_ids": ints(instance.segment_ids, seq),
        "masked_lm_positions": ints(instance.masked_lm_positions, predictions),
        "masked_lm_ids": ints(instance.masked_lm_ids, predictions),
        "masked_lm_weights": tf.train.Feature(
            float_list=tf.train.FloatList(value=[1.0] * count + [0.0] * (predictions - count))),
        "next_sentence_labels": ints([int(instance.is_random_next)], 1),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(deterministic=True)


_WORKER_BUILDER = None


def _start_worker(builder_arguments):
    """Pool initializer: one tokenizer and builder per worker process, kept for all its pools."""
    global _WORKER_BUILDER
    _WORKER_BUILDER = PoolBuilder(*builder_arguments)


def _build_in_worker(task):
    return _WORKER_BUILDER(task)


def map_in_order(builder_arguments, tasks, num_workers):
    """`PoolBuilder(*builder_arguments)(task)` for each task, in task order, reading `tasks`
    lazily: at most `2 * num_workers` tasks are in flight, so memory stays bounded."""
    if num_workers == 1:
        builder = PoolBuilder(*builder_arguments)
        yield from map(builder, tasks)
        return
    context = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork.
    with context.Pool(num_workers, initializer=_start_worker, initargs=(builder_arguments,)) as pool:
        pending = collections.deque()
        for task in tasks:
            pending.append(pool.apply_async(_build_in_worker, (task,)))
            if len(pending) >= 2 * num_workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def shuffled(records, buffer_size, rng):
    """`records` in random order within a window of `buffer_size` (all of them when it is larger)."""
    buffer = []
    for record in records:
        if len(buffer) < buffer_size:
            buffer.append(record)
            continue
        slot = rng.randrange(buffer_size)
        yield buffer[slot]
        buffer[slot] = record
    rng.shuffle(buffer)
    yield from buffer


def output_files(output_file, num_shards):
    """The files to write: a comma-separated `--output-file` as given, or `num_shards` names beside it."""
    names = [pathlib.Path(name.strip()) for name in str(output_file).split(",") if name.strip()]
    if num_shards < 1:
        raise ValueError(f"--num-shards must be at least 1, found {num_shards}.")
    if num_shards == 1:
        return names
    if len(names) != 1:
        raise ValueError(f"--num-shards {num_shards} names the shards after one --output-file; found "
                         f"{len(names)} comma-separated files. Pass one file name, or drop --num-shards.")
    stem, suffix = names[0].name.split(".", 1) if "." in names[0].name else (names[0].name, "")
    suffix = f".{suffix}" if suffix else ""
    return [names[0].with_name(f"{stem}-{shard:05d}-of-{num_shards:05d}{suffix}") for shard in range(num_shards)]


def create_pretraining_data(input_files, output_file, vocabulary_file, lowercase=True, options=InstanceOptions(),
                            random_seed=12345, dupe_factor=10, num_shards=1, num_workers=1,
                            document_pool_size=1000, shuffle_buffer_size=100000, progress=True):
    """Writes the TFRecords; returns `{"documents", "instances", "files"}`.

    `input_files` is a list of paths (see `text_files.expand_input_files`). With `progress`,
    a line goes to stderr every 10000 documents, and one at the end.
    """
    for name, value, least in (("--dupe-factor", dupe_factor, 1), ("--num-workers", num_workers, 1),
                               ("--document-pool-size", document_pool_size, 2),
                               ("--shuffle-buffer-size", shuffle_buffer_size, 1)):
        if value < least:
            raise ValueError(f"{name} must be at least {least}, found {value}.")
    files = output_files(output_file, num_shards)
    pools = enumerate(batched(read_documents(iter_lines(input_files)), document_pool_size))
    results = map_in_order((vocabulary_file, lowercase, options, random_seed, dupe_factor), pools, num_workers)
    totals = {"documents": 0, "instances": 0}
    started, next_log = time.monotonic(), LOG_EVERY_DOCUMENTS

    def records():
        nonlocal next_log
        for pool_records, kept in results:
            totals["documents"] += kept
            yield from pool_records
            if progress and totals["documents"] >= next_log:
                next_log = (totals["documents"] // LOG_EVERY_DOCUMENTS + 1) * LOG_EVERY_DOCUMENTS
                elapsed = time.monotonic() - started
                print(f"create-pretraining-data: {totals['documents']} documents read, {elapsed:.0f} s "
                      f"({totals['documents'] / elapsed:.0f} documents/s)", file=sys.stderr, flush=True)

    with contextlib.ExitStack() as stack:
        temporary = [stack.enter_context(atomic_path(path)) for path in files]
        writers = [stack.enter_context(tf.io.TFRecordWriter(str(path))) for path in temporary]
        mixed = shuffled(records(), shuffle_buffer_size, random.Random(f"{random_seed}/shuffle"))
        for number, record in enumerate(mixed):
            writers[number % len(writers)].write(record)
            totals["instances"] += 1
        if not totals["instances"]:
            raise ValueError(f"--input-file {', '.join(map(str, input_files))} holds no text to build "
                             "instances from; pass files with one sentence per line.")
    if progress:
        print(f"create-pretraining-data: wrote {totals['instances']} instances from {totals['documents']} "
              f"documents to {len(files)} file(s) in {time.monotonic() - started:.0f} s",
              file=sys.stderr, flush=True)
    return {**totals, "files": [str(path) for path in files]}


def add_arguments(parser):
    """Adds the `kbs create-pretraining-data` flags (the original's names and defaults, plus streaming ones)."""
    parser.add_argument("--input-file", required=True,
                        help="text file(s), one sentence per line, blank line between documents: "
                             "a path or glob, or several joined by commas")
    parser.add_argument("--output-file", required=True,
                        help="TFRecord file to write (or comma-separated files, records go round robin)")
    vocabulary = parser.add_mutually_exclusive_group()
    vocabulary.add_argument("--vocab-file", type=pathlib.Path, default=None, help="WordPiece vocab.txt")
    vocabulary.add_argument("--preset", default=None,
                            help="take vocab.txt and casing from a preset (name, folder or URL)")
    parser.add_argument("--do-lower-case", action=argparse.BooleanOptionalAction, default=None,
                        help="lowercase and strip accents (uncased); unset: the preset's casing, "
                             "or lowercase with --vocab-file as the original")
    parser.add_argument("--max-seq-length", type=int, default=128, help="pieces per instance, [CLS]/[SEP] included")
    parser.add_argument("--max-predictions-per-seq", type=int, default=20, help="most masked pieces per instance")
    parser.add_argument("--masked-lm-prob", type=float, default=0.15, help="share of pieces to mask")
    parser.add_argument("--random-seed", type=int, default=12345, help="seed of every random choice")
    parser.add_argument("--dupe-factor", type=int, default=10, help="passes over the data, each with new masks")
    parser.add_argument("--short-seq-prob", type=float, default=0.1,
                        help="probability of a shorter target length for a document")
    parser.add_argument("--do-whole-word-mask", action="store_true",
                        help="mask every piece of a word together")
    parser.add_argument("--num-shards", type=int, default=1, help="write NAME-00000-of-N.SUFFIX ... shards")
    parser.add_argument("--num-workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes that tokenize and build instances (output does not depend on it)")
    parser.add_argument("--document-pool-size", type=int, default=1000,
                        help="documents read and built together; random-next text comes from the same pool")
    parser.add_argument("--shuffle-buffer-size", type=int, default=100000,
                        help="instances shuffled together before writing")


def run(args):
    """Runs the recipe from parsed flags; returns {"documents", "instances", "files"}."""
    if args.vocab_file is not None:
        vocabulary_file, lowercase = args.vocab_file, True if args.do_lower_case is None else args.do_lower_case
    elif args.preset is not None:
        resolved = resolve_preset(args.preset)
        vocabulary_file = resolved.vocabulary_file
        lowercase = resolved.lowercase if args.do_lower_case is None else args.do_lower_case
    else:
        raise ValueError("Pass --vocab-file (a WordPiece vocab.txt) or --preset (its vocab.txt and casing).")
    options = InstanceOptions(args.max_seq_length, args.max_predictions_per_seq, args.masked_lm_prob,
                              args.short_seq_prob, args.do_whole_word_mask)
    result = create_pretraining_data(
        expand_input_files(args.input_file), args.output_file, vocabulary_file, lowercase, options,
        args.random_seed, args.dupe_factor, args.num_shards, args.num_workers, args.document_pool_size,
        args.shuffle_buffer_size)
    print(f"Wrote {result['instances']} instances to {', '.join(result['files'])}")
    return result
