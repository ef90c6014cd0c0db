"""Tokenizers: Google's BERT WordPiece tokenization as a Keras layer of TensorFlow ops.

Example:
    >>> from keras_bert_suite.tokenizers import WordPieceTokenizer
    >>> tokenizer = WordPieceTokenizer("vocab.txt")
    >>> ids, starts, ends = tokenizer.tokenize_with_offsets("Héllo, World!")
"""

from keras_bert_suite.tokenizers.wordpiece import WordPieceTokenizer

__all__ = ["WordPieceTokenizer"]
