"""`BertAdamW` clips on the global norm of the dense gradient: an embedding's sparse gradient
with a row repeated (a token seen twice in the batch) clips as its dense sum does. Keras
squared each repeat on its own: here 2 x 3^2 = 18 instead of 6^2 = 36."""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.training import bert_optimizer


def step(gradient):
    table = keras.Variable(np.ones((4, 2), "float32"), name="embeddings")
    optimizer = bert_optimizer(1.0, num_train_steps=10, warmup_ratio=0.0, weight_decay=0.0, clipnorm=1.0)
    optimizer.apply([gradient], [table])
    return np.asarray(optimizer._momentums[0])  # (1 - beta_1) x the clipped gradient


def test_repeated_rows_of_a_sparse_gradient_clip_as_their_dense_sum():
    repeated = tf.IndexedSlices(tf.constant([[3.0, 0.0], [3.0, 0.0]]), tf.constant([1, 1]), tf.constant([4, 2]))
    dense = tf.convert_to_tensor(repeated)  # row 1 = [6, 0]: norm 6
    np.testing.assert_allclose(step(repeated), step(dense), rtol=1e-6)
    np.testing.assert_allclose(step(dense)[1], [0.1, 0.0], rtol=1e-6)  # clipped to norm 1
