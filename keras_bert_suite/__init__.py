"""keras_bert_suite: Google's BERT behind Keras 3's fit / predict / save.

Example:
    >>> import keras_bert_suite as kbs
    >>> backbone = kbs.BertBackbone.from_preset("minilm_l6_h384_uncased")
    >>> tokenizer = kbs.WordPieceTokenizer.from_preset("minilm_l6_h384_uncased")
"""

__version__ = "0.1.0"

from keras_bert_suite.config import BertConfig
from keras_bert_suite.models import BertBackbone
