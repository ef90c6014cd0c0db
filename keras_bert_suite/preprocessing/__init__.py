"""Preprocessors: raw text -> packed tensors for each task (run in tf.data)."""

from keras_bert_suite.preprocessing.base import TaskPreprocessor
from keras_bert_suite.preprocessing.classifier import BertClassifierPreprocessor
from keras_bert_suite.preprocessing.masked_lm import BertMaskedLMPreprocessor
from keras_bert_suite.preprocessing.multiple_choice import BertMultipleChoicePreprocessor
from keras_bert_suite.preprocessing.pretraining import BertPreTrainingPreprocessor
from keras_bert_suite.preprocessing.question_answerer import BertQuestionAnswererPreprocessor
from keras_bert_suite.preprocessing.token_classifier import BertTokenClassifierPreprocessor
