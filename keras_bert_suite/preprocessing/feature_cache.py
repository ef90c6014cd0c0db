"""Preprocessed features kept on disk, so a second run does not tokenize the same text again.

`FeatureCache(folder)` stores what a preprocessor made from some inputs (nested dicts,
tuples and lists of arrays, tensors or one-level ragged tensors) in one `.npz` file named by
a SHA-256 key of: the inputs (every text and label), the preprocessor's class and full
config (its tokenizer's vocabulary and casing, sequence length, SQuAD window settings, ...)
and the package version. Any change to one of them gives another key, so a stale file is
never read; the original `run_squad.py` kept its `FeatureWriter` records the same way,
except that it trusted the file name. Files are written atomically and read without
pickle; one that cannot be read is made again, with a warning naming it.

Example:
    >>> cache = FeatureCache("out/squad/feature_cache")
    >>> windows = cache.load_or_make(preprocessor, (questions, contexts),
    ...                              lambda: preprocessor.windows(questions, contexts))
"""

import hashlib
import json
import pathlib
import warnings
import zipfile

import keras
import numpy as np
import tensorflow as tf

from keras_bert_suite.utils import atomic_path
from keras_bert_suite.version import __version__

FORMAT = 1  # bump when the file layout changes
_STRUCTURE = "__structure__"


class FeatureCache:
    """A folder of preprocessed features, keyed by inputs and preprocessor (see the module).

    Args:
        directory: the folder; created on the first write.

    Example:
        >>> model.feature_cache = FeatureCache("out/feature_cache")  # fit/decode reuse windows
    """

    def __init__(self, directory):
        self.directory = pathlib.Path(directory)
        self.read = []  # the files read back so far, in order
        self.written = []  # the files written so far

    def key(self, preprocessor, inputs):
        """The hex SHA-256 of `inputs` (any nesting of texts, numbers, arrays and tensors;
        a list and an array of the same values hash alike) and of the preprocessor's class,
        config (less layer names, which Keras numbers per process) and the package version."""
        digest = hashlib.sha256()
        settings = {"format": FORMAT, "version": __version__, "class": type(preprocessor).__qualname__,
                    "config": _without_names(preprocessor.get_config())}
        digest.update(json.dumps(settings, sort_keys=True, default=str).encode("utf-8"))
        _hash(digest, inputs)
        return digest.hexdigest()

    def path(self, preprocessor, inputs):
        """The file that holds (or will hold) the features of `inputs`."""
        return self.directory / f"{self.key(preprocessor, inputs)}.npz"

    def load_or_make(self, preprocessor, inputs, make):
        """The features stored for `inputs`, else `make()`'s result, stored for next time.

        Loaded features come back as `make` gave them: tensors as `tf.Tensor` (ragged ones as
        `tf.RaggedTensor`), arrays as numpy arrays, in the same nesting.
        """
        path = self.path(preprocessor, inputs)
        if path.exists():
            try:
                features = _read(path)
                self.read.append(path)
                return features
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
                warnings.warn(f"Feature cache file {path} could not be read ({error}); making the features again.",
                              stacklevel=2)
        features = make()
        with atomic_path(path) as tmp:
            _write(tmp, features)
        self.written.append(path)
        return features


def _without_names(config):
    if isinstance(config, dict):
        return {key: _without_names(value) for key, value in config.items() if key != "name"}
    if isinstance(config, (list, tuple)):
        return [_without_names(value) for value in config]
    return config


def _hash(digest, node):
    """Feeds `node` to `digest`, marking each text, number block, list and dict entry."""
    if isinstance(node, tf.RaggedTensor):
        node = node.to_list()
    elif isinstance(node, tf.Tensor):
        node = node.numpy()
    if isinstance(node, dict):
        for name in sorted(node):
            digest.update(b"k" + str(name).encode("utf-8", "surrogatepass"))
            _hash(digest, node[name])
    elif isinstance(node, (str, bytes)):
        text = node if isinstance(node, bytes) else node.encode("utf-8", "surrogatepass")
        digest.update(b"t" + len(text).to_bytes(8, "little") + text)
    elif node is None:
        digest.update(b"z")
    else:
        numbers = _as_numbers(node)
        if numbers is not None:
            digest.update(f"n{numbers.shape}".encode() + numbers.astype("float64").tobytes())
        else:
            digest.update(b"l" + len(node).to_bytes(8, "little"))
            for item in node:
                _hash(digest, item)


def _as_numbers(node):
    """`node` as a numeric numpy array, or None when it holds texts, None or uneven lists."""
    try:
        array = np.asarray(node)
    except ValueError:  # uneven nested lists
        return None
    return array if array.dtype.kind in "biuf" else None


def _write(path, features):
    """`features` flattened to arrays, with a JSON skeleton that rebuilds the nesting."""
    arrays = {}

    def encode(node):
        if isinstance(node, dict):
            return {"dict": {str(name): encode(value) for name, value in node.items()}}
        if isinstance(node, (tuple, list)):
            return {type(node).__name__: [encode(value) for value in node]}
        name = f"a{len(arrays)}"
        if isinstance(node, tf.RaggedTensor):
            if node.ragged_rank != 1:
                raise ValueError(f"FeatureCache stores ragged tensors of ragged rank 1, found {node.ragged_rank}.")
            arrays[f"{name}_values"] = node.flat_values.numpy()
            arrays[f"{name}_splits"] = node.row_splits.numpy()
            return {"ragged": name}
        kind = "tensor" if isinstance(node, tf.Tensor) else "array"
        arrays[name] = np.asarray(node)
        if arrays[name].dtype == object:
            raise ValueError("FeatureCache stores numeric and string arrays, not Python objects.")
        return {kind: name}

    skeleton = encode(features)
    with open(path, "wb") as file:
        np.savez_compressed(file, **arrays, **{_STRUCTURE: np.array(json.dumps(skeleton))})


def _read(path):
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}

    def decode(node):
        (kind, value), = node.items()
        if kind == "dict":
            return {name: decode(child) for name, child in value.items()}
        if kind in ("tuple", "list"):
            children = [decode(child) for child in value]
            return tuple(children) if kind == "tuple" else children
        if kind == "ragged":
            return tf.RaggedTensor.from_row_splits(arrays[f"{value}_values"], arrays[f"{value}_splits"])
        return tf.convert_to_tensor(arrays[value]) if kind == "tensor" else arrays[value]

    return decode(json.loads(str(arrays.pop(_STRUCTURE))))
