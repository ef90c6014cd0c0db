"""Backbone and task models."""

from keras_bert_suite.models.backbone import BertBackbone
from keras_bert_suite.models.classifier import BertClassifier
from keras_bert_suite.models.masked_lm import BertMaskedLM
from keras_bert_suite.models.multiple_choice import BertMultipleChoice
from keras_bert_suite.models.pretraining import BertPreTraining
from keras_bert_suite.models.question_answerer import BertQuestionAnswerer
from keras_bert_suite.models.task import BertTask
from keras_bert_suite.models.token_classifier import BertTokenClassifier
