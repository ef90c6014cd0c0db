"""Export: task models as SavedModels that serve raw strings (`.keras` files: `model.save`).

Example:
    >>> from keras_bert_suite.export import export_saved_model
    >>> export_saved_model(classifier, "exported/sentiment")
"""

from keras_bert_suite.export.saved_model import export_saved_model
