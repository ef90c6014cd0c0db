"""keras_bert_suite: Google's BERT behind Keras 3's fit / predict / save.

Example:
    >>> import keras_bert_suite as kbs
    >>> model = kbs.BertClassifier.from_preset("minilm_l6_h384_uncased", num_classes=2)
    >>> model.fit(["a fine film", "a dull film"], [1, 0], epochs=2)
"""

from keras_bert_suite.version import __version__

from keras_bert_suite.config import BertConfig
from keras_bert_suite.models import (
    BertBackbone,
    BertClassifier,
    BertMaskedLM,
    BertMultipleChoice,
    BertPreTraining,
    BertQuestionAnswerer,
    BertTokenClassifier,
)
from keras_bert_suite.preprocessing import (
    BertClassifierPreprocessor,
    BertMaskedLMPreprocessor,
    BertMultipleChoicePreprocessor,
    BertPreTrainingPreprocessor,
    BertQuestionAnswererPreprocessor,
    BertTokenClassifierPreprocessor,
)
from keras_bert_suite.presets import DEFAULT_PRESET, list_presets
from keras_bert_suite.tokenizers import WordPieceTokenizer
from keras_bert_suite import training
from keras_bert_suite import postprocessing  # registers each task's post-processing and serving
from keras_bert_suite import export  # registers model.export's raw-string SavedModel
