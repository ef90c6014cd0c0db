"""Vocabularies with a blank line, a repeated token or no [MASK] load with a warning that
names the line; only the tasks that need [MASK] refuse a vocabulary without it."""

import warnings

import numpy as np
import pytest

from keras_bert_suite import BertClassifierPreprocessor, BertMaskedLMPreprocessor, WordPieceTokenizer
from tests.tokenizers.google_reference import GoogleFullTokenizer

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _write(tmp_path, name, tokens):
    path = tmp_path / name
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return str(path)


def test_repeated_token_maps_to_its_last_line_as_google_does(tmp_path):
    tokens = SPECIALS + ["a", "b", "a", "##b"]
    with pytest.warns(UserWarning, match=r"duplicate.txt, line 8: token 'a' repeats line 6; text maps to this "
                      r"later id 7"):
        tokenizer = WordPieceTokenizer(_write(tmp_path, "duplicate.txt", tokens))
    oracle = GoogleFullTokenizer(tokens)
    for text in ["a", "a b ab", "ba", "c a"]:
        assert tokenizer(text).numpy().tolist() == oracle.ids(text)
    assert tokenizer("a ab").numpy().tolist() == [7, 7, 8]
    # Every id keeps its line; the earlier id still names its token.
    assert tokenizer.get_vocabulary() == tokens and tokenizer.id_to_token(5) == "a"
    assert tokenizer.detokenize([5, 6, 7]).numpy() == b"a b a"


def test_blank_line_keeps_its_id(tmp_path):
    tokens = SPECIALS + ["a", "", "b", ""]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokenizer = WordPieceTokenizer(_write(tmp_path, "blank.txt", tokens))
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2 and "blank.txt, line 7: empty token; its id 6 stays unused" in messages[0]
    assert "blank.txt, line 9: empty token" in messages[1]
    assert tokenizer("b a   c").numpy().tolist() == [7, 5, 1] == GoogleFullTokenizer(tokens).ids("b a   c")
    assert tokenizer.vocabulary_size() == 9


def test_repeated_token_in_a_list_warns_with_its_index():
    with pytest.warns(UserWarning, match=r"the vocabulary list, index 6: token 'x' repeats index 5"):
        tokenizer = WordPieceTokenizer(SPECIALS + ["x", "x"])
    assert tokenizer("x").numpy().tolist() == [6]


def test_without_mask_only_masked_lm_tasks_refuse(tmp_path):
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "fine", "film"]
    with pytest.warns(UserWarning, match=r"no_mask.txt has no \[MASK\] token: classification.*masked-LM and "
                      "pretraining tasks refuse it"):
        tokenizer = WordPieceTokenizer(_write(tmp_path, "no_mask.txt", tokens))
    packed = BertClassifierPreprocessor(tokenizer, sequence_length=6)(["fine film", "a"])
    assert np.asarray(packed["token_ids"]).tolist() == [[2, 4, 5, 3, 0, 0], [2, 1, 3, 0, 0, 0]]
    with pytest.raises(ValueError, match=r"no_mask.txt has no \[MASK\] token, which masked-LM and pretraining "
                       "tasks need"):
        tokenizer.mask_token_id
    with pytest.raises(ValueError, match=r"has no \[MASK\] token"):
        BertMaskedLMPreprocessor(tokenizer, sequence_length=6)(["fine film"])


def test_missing_pad_cls_sep_or_unknown_is_still_refused(tmp_path):
    with pytest.raises(ValueError, match=r"lacks the special token\(s\) \['\[SEP\]'\]"):
        WordPieceTokenizer(_write(tmp_path, "no_sep.txt", ["[PAD]", "[UNK]", "[CLS]", "[MASK]"]))
