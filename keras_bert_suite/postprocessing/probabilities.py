"""`softmax`: probabilities from scores, in NumPy, for the Python-side helpers.

Example:
    >>> softmax(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]], dtype=float32)
"""

import numpy as np


def softmax(scores, dtype=np.float32):
    """Probabilities along the last axis, computed stably (max subtracted first).

    Args:
        scores: an array (or list) of scores.
        dtype: the result's dtype; float64 keeps full precision for n-best lists.
    """
    scores = np.asarray(scores, dtype=np.float64)
    exponentials = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (exponentials / exponentials.sum(axis=-1, keepdims=True)).astype(dtype)
