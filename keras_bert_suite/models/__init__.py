"""Backbone and task models."""

from keras_bert_suite.models.backbone import BertBackbone
