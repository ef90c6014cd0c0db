"""Keras layers that make up BERT (keras.ops only, backend-agnostic)."""

from keras_bert_suite.layers.activations import SUPPORTED_ACTIVATIONS, get_activation
from keras_bert_suite.layers.attention import BertSelfAttention
from keras_bert_suite.layers.embeddings import BertEmbeddings
from keras_bert_suite.layers.encoder_block import BertEncoderBlock
from keras_bert_suite.layers.masked_lm_head import BertMaskedLMHead
