"""Post-processing: model outputs -> answers, word tags, top-k tokens, probabilities.

Importing this package registers every task's post-processor (see `base.py`), in the order
error messages list the served tasks.
"""

from keras_bert_suite.postprocessing import classifier  # noqa: F401  (registers; isort: skip)
from keras_bert_suite.postprocessing import token_classifier  # noqa: F401  (isort: skip)
from keras_bert_suite.postprocessing import question_answerer  # noqa: F401  (isort: skip)
from keras_bert_suite.postprocessing import masked_lm  # noqa: F401  (isort: skip)
