"""Every task model exported once per test session (exports are the slow part of these tests).

`exported[name]` is `(model, folder)`; the classifier's vocabulary file is deleted after the
export, so its SavedModel must carry the vocabulary.
"""

import shutil

import numpy as np
import pytest

from keras_bert_suite import (
    BertClassifier,
    BertClassifierPreprocessor,
    BertMaskedLM,
    BertMaskedLMPreprocessor,
    BertMultipleChoice,
    BertMultipleChoicePreprocessor,
    BertPreTraining,
    BertPreTrainingPreprocessor,
    BertQuestionAnswerer,
    BertQuestionAnswererPreprocessor,
    BertTokenClassifier,
    BertTokenClassifierPreprocessor,
    WordPieceTokenizer,
)
from tests.helpers.minilm import minilm_folder
from tests.helpers.tasks import minilm_tokenizer, tiny_backbone

# The serving options each export is written with.
SERVING_OPTIONS = {"question_answerer": {"max_answer_length": 4, "n_best_size": 32}, "masked_lm": {"top_k": 3}}


def spread_head(layer, seed=0):
    """Random head weights large enough that the logits of different inputs differ clearly."""
    rng = np.random.default_rng(seed)
    layer.kernel.assign(rng.normal(scale=3.0, size=layer.kernel.shape).astype("float32"))


def classifier(tokenizer, num_classes=3, **kwargs):
    model = BertClassifier(tiny_backbone(), num_classes, preprocessor=BertClassifierPreprocessor(tokenizer, 16),
                           **kwargs)
    spread_head(model.get_layer("logits"))
    return model


def question_answerer():
    preprocessor = BertQuestionAnswererPreprocessor(
        minilm_tokenizer(), sequence_length=32, max_query_length=8, doc_stride=8
    )
    model = BertQuestionAnswerer(tiny_backbone(), preprocessor=preprocessor)
    spread_head(model.span_dense)
    return model


def masked_lm(sequence_length=16):
    model = BertMaskedLM(tiny_backbone(), preprocessor=BertMaskedLMPreprocessor(minilm_tokenizer(), sequence_length))
    # A large layer-norm scale gives peaked, context-dependent predictions (clear top-k gaps).
    model.mlm_head.transform_layer_norm.gamma.assign(np.full((32,), 100.0, np.float32))
    return model


def _models(vocab_file):
    tokenizer = minilm_tokenizer()
    tagger = BertTokenClassifier(tiny_backbone(), 3, labels=["B-PER", "O", "B-LOC"],
                                 preprocessor=BertTokenClassifierPreprocessor(tokenizer, sequence_length=8))
    spread_head(tagger.get_layer("logits"))
    chooser = BertMultipleChoice(tiny_backbone(), 3, preprocessor=BertMultipleChoicePreprocessor(
        tokenizer, sequence_length=16, num_choices=3))
    spread_head(chooser.get_layer("choice_score"))
    return {
        "classifier": classifier(WordPieceTokenizer(str(vocab_file))),
        "token_classifier": tagger,
        "multiple_choice": chooser,
        "question_answerer": question_answerer(),
        "masked_lm": masked_lm(),
        "pretraining": BertPreTraining(tiny_backbone(), preprocessor=BertPreTrainingPreprocessor(
            tokenizer, sequence_length=16)),
    }


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("exported")
    vocab_file = root / "vocab.txt"
    shutil.copy(minilm_folder() / "vocab.txt", vocab_file)
    result = {}
    for name, model in _models(vocab_file).items():
        folder = model.export(root / name, **SERVING_OPTIONS.get(name, {}))
        assert folder == root / name
        result[name] = (model, folder)
    vocab_file.unlink()
    assert sorted(p.name for p in root.iterdir()) == sorted(result)  # No staging folder left.
    return result
