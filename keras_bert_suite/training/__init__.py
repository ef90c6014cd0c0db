"""Training stage: BERT's optimizer (AdamW without decay on LayerNorm/bias), its
warmup-then-linear-decay learning-rate schedule, and `tf.distribute` strategies.

Example:
    >>> from keras_bert_suite.training import bert_optimizer, get_strategy, set_num_train_steps
    >>> optimizer = bert_optimizer(learning_rate=2e-5)
    >>> set_num_train_steps(optimizer, 3 * 115)
    >>> strategy = get_strategy("auto")   # every local GPU, mirrored
"""

from keras_bert_suite.training.distribute import STRATEGIES
from keras_bert_suite.training.distribute import get_strategy
from keras_bert_suite.training.optimizer import BertAdamW
from keras_bert_suite.training.optimizer import bert_optimizer
from keras_bert_suite.training.optimizer import needs_num_train_steps
from keras_bert_suite.training.optimizer import set_num_train_steps
from keras_bert_suite.training.optimizer import updates_after
from keras_bert_suite.training.schedules import WarmupLinearDecay

__all__ = [
    "STRATEGIES",
    "BertAdamW",
    "WarmupLinearDecay",
    "bert_optimizer",
    "get_strategy",
    "needs_num_train_steps",
    "set_num_train_steps",
    "updates_after",
]
