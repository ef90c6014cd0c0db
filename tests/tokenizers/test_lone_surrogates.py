"""A Python str with a lone surrogate tokenizes as Google's tokenizer reads it: the
surrogate is an ordinary character no piece matches, so its word is [UNK]."""

import numpy as np
import pytest

from keras_bert_suite import BertClassifier, BertClassifierPreprocessor
from keras_bert_suite.tokenizers.wordpiece import SURROGATE_STAND_IN, encode_python_text
from tests.helpers.minilm import minilm_folder
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone
from tests.tokenizers.google_reference import GoogleFullTokenizer

TEXTS = ["a\ud800b", "hello \udfff world", "\ud83d\ude00 smile", "café\ud800, ok", "中\ud800文", "\ud800"]


@pytest.fixture(scope="module")
def oracle():
    return GoogleFullTokenizer((minilm_folder() / "vocab.txt").read_text(encoding="utf-8").splitlines())


def test_ids_and_offsets_match_google(oracle):
    tokenizer = minilm_tokenizer()
    unk = tokenizer.unk_token_id
    assert tokenizer(TEXTS[0]).numpy().tolist() == [unk] == oracle.ids(TEXTS[0])
    assert tokenizer(TEXTS).to_list() == [oracle.ids(text) for text in TEXTS]
    assert tokenizer(np.array(TEXTS, dtype=object)).to_list() == tokenizer(TEXTS).to_list()
    # Offsets count the surrogate as one character, as Python does.
    _, starts, ends = tokenizer.tokenize_with_offsets(TEXTS[1])
    assert list(zip(starts.numpy().tolist(), ends.numpy().tolist())) == [(0, 5), (6, 7), (8, 13)]


def test_encode_python_text_keeps_the_structure():
    stand_in = SURROGATE_STAND_IN.encode("utf-8")
    assert encode_python_text((["a\ud800"], [1, 2])) == ([b"a" + stand_in], [1, 2])
    assert encode_python_text(np.array(["x\udfff"])).tolist() == [b"x" + stand_in]
    assert encode_python_text(b"\xff") == b"\xff" and encode_python_text(3) == 3


def test_preprocessor_and_predict_take_lone_surrogates():
    tokenizer = minilm_tokenizer()
    preprocessor = BertClassifierPreprocessor(tokenizer, sequence_length=8)
    model = BertClassifier(tiny_backbone(), 2, preprocessor=preprocessor)
    packed = preprocessor(TEXTS[:2])
    assert np.asarray(packed["token_ids"])[0, :3].tolist() == [tokenizer.cls_token_id, tokenizer.unk_token_id,
                                                              tokenizer.sep_token_id]
    logits = model.predict(TEXTS[:2], verbose=0)
    # The same as the texts with the surrogates' stand-in, and not as the texts without them.
    stand_ins = ["a" + SURROGATE_STAND_IN + "b", "hello " + SURROGATE_STAND_IN + " world"]
    np.testing.assert_allclose(logits, model.predict(stand_ins, verbose=0), atol=1e-6)
    assert np.abs(logits - model.predict(["ab", "hello  world"], verbose=0)).max() > 1e-5
