"""The pair and mask rules of `create_pretraining_data.py` on synthetic documents whose ids
say where they came from (document * 1000 + sentence * 10 + position), so every piece of an
instance can be traced back."""

import random

import pytest

from keras_bert_suite.recipes.pretraining_instances import (
    InstanceOptions,
    TokenSpec,
    document_instances,
    mask_tokens,
    pool_instances,
    truncate_pair,
)

CLS, SEP, MASK = 1, 2, 3
SPEC = TokenSpec(cls_id=CLS, sep_id=SEP, mask_id=MASK, vocab_size=100_000, continuation_ids=frozenset())


def synthetic_documents(count, sentences, length):
    """`count` documents of `sentences` sentences of `length` pieces, ids 1000*(d+1) + 10*s + p."""
    return [[[1000 * (d + 1) + 10 * s + p for p in range(length)] for s in range(sentences)] for d in range(count)]


def unmasked(instance):
    tokens = list(instance.tokens)
    for position, original in zip(instance.masked_lm_positions, instance.masked_lm_ids):
        tokens[position] = original
    return tokens


def segments(instance):
    tokens = unmasked(instance)
    first_sep = tokens.index(SEP)
    return tokens[1:first_sep], tokens[first_sep + 1:-1]


def document_of(token):
    return token // 1000 - 1


def test_random_next_is_half_and_from_another_document():
    """The coin is fair; only a chunk of one sentence (here: at a document's end) is always random."""
    documents = synthetic_documents(30, 60, 6)
    options = InstanceOptions(max_seq_length=32, short_seq_prob=0.0)
    instances, coin_flips = [], []
    for dupe in range(10):
        rng = random.Random(dupe)
        for index in range(len(documents)):
            built = document_instances(documents, index, SPEC, options, rng)
            instances.extend(built)
            coin_flips.extend(instance.is_random_next for instance in built[:-1])
    assert len(coin_flips) > 2500
    share = sum(coin_flips) / len(coin_flips)
    print(f"random-next share {share:.3f} over {len(coin_flips)} instances")
    assert abs(share - 0.5) < 0.03
    for instance in instances:
        tokens_a, tokens_b = segments(instance)
        source = {document_of(token) for token in tokens_a}
        assert len(source) == 1  # A is always one document's consecutive text
        b_documents = {document_of(token) for token in tokens_b}
        assert len(b_documents) == 1
        assert (b_documents != source) == instance.is_random_next


def test_unused_sentences_are_put_back_and_every_sentence_is_used_once():
    """Each sentence of the document is in A or in an actual-next B of exactly one instance, in order.

    Overshooting the target costs at most 3 pieces of truncation, less than a sentence of 4."""
    documents = synthetic_documents(5, 30, 4)
    options = InstanceOptions(max_seq_length=40, short_seq_prob=0.0)
    for seed in range(5):
        instances = document_instances(documents, 2, SPEC, options, random.Random(seed))
        used = []
        for instance in instances:
            tokens_a, tokens_b = segments(instance)
            own = tokens_a + ([] if instance.is_random_next else tokens_b)
            assert {document_of(token) for token in own} == {2}
            used.extend(sorted({token % 1000 // 10 for token in own}))
        assert used == list(range(30))
        assert any(instance.is_random_next for instance in instances[:-1])


def test_lengths_segments_and_short_targets():
    documents = synthetic_documents(20, 20, 3)
    options = InstanceOptions(max_seq_length=32, short_seq_prob=0.5)
    instances = pool_instances(documents, SPEC, options, random.Random(3))
    lengths = [len(instance.tokens) for instance in instances]
    assert max(lengths) == 32 and min(lengths) < 20  # truncated to the limit; some short targets
    for instance in instances:
        tokens_a, tokens_b = segments(instance)
        assert tokens_a and tokens_b
        assert instance.segment_ids == [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
        assert instance.tokens[0] == CLS and instance.tokens[-1] == SEP


def test_truncation_trims_the_longer_side_from_both_ends():
    fronts = backs = 0
    for seed in range(200):
        tokens_a, tokens_b = list(range(10)), [100, 101]
        truncate_pair(tokens_a, tokens_b, 8, random.Random(seed))
        assert tokens_b == [100, 101] and len(tokens_a) == 6
        assert tokens_a == list(range(tokens_a[0], tokens_a[0] + 6))  # a contiguous window
        fronts += tokens_a[0] > 0
        backs += tokens_a[-1] < 9
    assert fronts > 150 and backs > 150


def test_mask_count_skips_specials_and_keeps_whole_words_together():
    # Words of 1-3 pieces; continuation pieces are the ids >= 50000.
    rng = random.Random(7)
    spec = SPEC._replace(continuation_ids=frozenset(range(50_000, 60_000)))
    options = InstanceOptions(do_whole_word_mask=True)
    partial_without_wwm = 0
    for trial in range(300):
        tokens, word_of = [CLS], [None]
        for word in range(rng.randint(5, 60)):
            for piece in range(rng.randint(1, 3)):
                tokens.append(10_000 + word if piece == 0 else 50_000 + word)
                word_of.append(word)
        tokens.append(SEP)
        word_of.append(None)
        limit = min(options.max_predictions_per_seq, max(1, round(len(tokens) * options.masked_lm_prob)))
        for whole_words in (True, False):
            output, positions, labels = mask_tokens(
                tokens, spec, InstanceOptions(do_whole_word_mask=whole_words), random.Random(trial))
            assert [tokens[p] for p in positions] == labels and positions == sorted(set(positions))
            assert 0 not in positions and len(tokens) - 1 not in positions
            masked_words = {word_of[p] for p in positions}
            complete = all(sum(word_of[p] == w for p in positions) == word_of.count(w) for w in masked_words)
            if whole_words:
                assert complete and len(positions) <= limit
            else:
                assert len(positions) == limit
                partial_without_wwm += not complete
    assert partial_without_wwm > 100  # the grouping is what keeps words whole


@pytest.mark.parametrize("bad", [dict(max_seq_length=4), dict(masked_lm_prob=0.0), dict(short_seq_prob=1.5),
                                 dict(max_predictions_per_seq=0)])
def test_bad_options_are_refused(bad):
    with pytest.raises(ValueError, match="must be"):
        InstanceOptions(**bad)
