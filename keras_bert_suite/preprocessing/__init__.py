"""Preprocessors: raw text -> packed tensors for each task (run in tf.data)."""

from keras_bert_suite.preprocessing.base import BertPreprocessor
from keras_bert_suite.preprocessing.classifier import BertClassifierPreprocessor
from keras_bert_suite.preprocessing.masked_lm import BertMaskedLMPreprocessor
from keras_bert_suite.preprocessing.pretraining import BertPreTrainingPreprocessor
