"""Training stage: BERT's optimizer (AdamW without decay on LayerNorm/bias) and its
warmup-then-linear-decay learning-rate schedule.

Example:
    >>> from keras_bert_suite.training import bert_optimizer, set_num_train_steps
    >>> optimizer = bert_optimizer(learning_rate=2e-5)
    >>> set_num_train_steps(optimizer, 3 * 115)
"""

from keras_bert_suite.training.optimizer import BertAdamW
from keras_bert_suite.training.optimizer import bert_optimizer
from keras_bert_suite.training.optimizer import needs_num_train_steps
from keras_bert_suite.training.optimizer import set_num_train_steps
from keras_bert_suite.training.schedules import WarmupLinearDecay

__all__ = [
    "BertAdamW",
    "WarmupLinearDecay",
    "bert_optimizer",
    "needs_num_train_steps",
    "set_num_train_steps",
]
