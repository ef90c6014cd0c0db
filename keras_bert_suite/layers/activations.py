"""Activation functions by the names checkpoints use.

Google's original release and HF's "gelu" mean the exact erf GELU; "gelu_new" /
"gelu_approximate" the tanh form. Using the wrong one moves real outputs by ~5e-3.

Example:
    >>> fn = get_activation("gelu")
"""

from keras import ops

_EXACT_GELU = ("gelu", "gelu_exact", "gelu_python")
_TANH_GELU = ("gelu_new", "gelu_approximate", "gelu_pytorch_tanh", "gelu_fast")

SUPPORTED_ACTIVATIONS = _EXACT_GELU + _TANH_GELU + ("relu", "silu", "swish", "tanh")


def _gelu_exact(x):
    return ops.gelu(x, approximate=False)


def _gelu_tanh(x):
    return ops.gelu(x, approximate=True)


def get_activation(name):
    """Returns the activation function called `name` (see SUPPORTED_ACTIVATIONS)."""
    if name in _EXACT_GELU:
        return _gelu_exact
    if name in _TANH_GELU:
        return _gelu_tanh
    if name == "relu":
        return ops.relu
    if name in ("silu", "swish"):
        return ops.silu
    if name == "tanh":
        return ops.tanh
    raise ValueError(
        f"Unknown hidden activation {name!r}. Supported: {', '.join(SUPPORTED_ACTIVATIONS)}."
    )
