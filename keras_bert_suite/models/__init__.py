"""Backbone and task models."""

from keras_bert_suite.models.backbone import BertBackbone
from keras_bert_suite.models.classifier import BertClassifier
from keras_bert_suite.models.masked_lm import BertMaskedLM
from keras_bert_suite.models.pretraining import BertPreTraining
from keras_bert_suite.models.task import BertTask
