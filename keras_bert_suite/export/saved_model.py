"""`export_saved_model`: a task model as a TensorFlow SavedModel that serves raw strings.

The serving signature runs the model's own preprocessor (WordPiece tokenizer and
packing, as TensorFlow ops) and then the model, so a server needs neither Python code
from this package nor the `vocab.txt`: the vocabulary is stored inside the SavedModel.

Signatures (inputs are `tf.string` tensors; outputs float32 unless noted; b = batch):
- `BertClassifier`: `text` [b], and `text_b` [b] with the option `pairs=True` ->
  `logits` [b, classes] and `probabilities` (softmax; sigmoid for multi_label; none for
  regression).
- `BertTokenClassifier`: `text` [b], split on whitespace -> `logits` [b, sequence, classes];
  per word, padded to the longest text: `words` [b, w] string, `predictions` [b, w] int32
  (-1 past the last word), and `tags` [b, w] string when the model has `labels`.
- `BertMultipleChoice`: `context` [b], `choices` [b, num_choices] -> `logits` and
  `probabilities` [b, num_choices].
- `BertQuestionAnswerer`: `question` [b], `context` [b] -> `answer_text` [b] string,
  `answer_start`, `answer_end` [b] int32, `score` and `null_score` [b] (options
  `max_answer_length=30`, `n_best_size=20`).
- `BertMaskedLM`: `text` [b] with `[MASK]`s -> per mask, left to right, the `top_k` best
  tokens (option `top_k=5`) as `BertMaskedLM.fill_mask` gives them: `tokens` [b, m, k] string, `token_ids`
  [b, m, k] int32, `scores` [b, m, k] (softmax probabilities), and `num_masks` [b] int32;
  m is the most masks of any text in the batch, k = min(top_k, vocabulary size).

Fill-mask reports only the masks within `sequence_length` (`fill_mask` raises on a mask cut
off, and on a text without one); `num_masks` says how many each text got, possibly 0, and
the slots past it hold token "", id -1 and score 0.

Question answering windows every context and picks its answer with the same code as
`BertQuestionAnswerer.answer` and `kbs squad` (`keras_bert_suite.preprocessing.squad_windows`,
`keras_bert_suite.postprocessing.spans`): `answer_text` is the best candidate span over all of
an example's windows, `score` its start + end logit, and `answer_start`/`answer_end` its
characters in the original context (casing kept, whole pieces; `answer` may trim a piece to
the answer's words). `null_score` is the lowest `[CLS]` start + end logit over the example's
windows, for SQuAD 2.0: predict "no answer" when `null_score - score` exceeds your
threshold. A context without pieces gets no window: answer "", offsets 0, `score` -inf and
`null_score` +inf. Per-window logits are not served; `answer` in Python gives the n-best list.

Each task model makes its own serving function (`model.serving_function(**options)`, from
its post-processor in `keras_bert_suite.postprocessing`); this module only writes it out.

The tokenizer runs TensorFlow Text ops, so the serving process must `import tensorflow_text`
before loading (TF Serving: a build with the TF Text ops); nothing else from this package
is needed.

Example:
    >>> model = BertClassifier.from_preset("minilm_l6_h384_uncased", num_classes=2)
    >>> export_saved_model(model, "exported/sentiment")
    >>> serve = tf.saved_model.load("exported/sentiment").signatures["serving_default"]
    >>> serve(text=tf.constant(["A fine film."]))["probabilities"]   # [1, 2]
"""

import pathlib

import keras

from keras_bert_suite.models.task import BertTask, served_tasks
from keras_bert_suite.utils import atomic_directory, is_occupied

SERVING_ENDPOINT = "serve"


def export_saved_model(model, path, *, overwrite=False, **serving_options):
    """Writes `model` (with its preprocessor) to `path` as a SavedModel serving raw strings.

    Args:
        model: a task model with a serving function and a preprocessor (e.g. built by
            `from_preset`): `BertClassifier`, `BertTokenClassifier`, `BertMultipleChoice`,
            `BertQuestionAnswerer` or `BertMaskedLM`.
        path: the SavedModel folder to write. It is written beside `path` first and
            renamed into place only when complete.
        overwrite: replace an existing non-empty `path`.
        **serving_options: the task's serving options (see the module docstring), e.g.
            `pairs=True` for a classifier or `top_k=3` for a masked LM.

    Returns:
        `path` as a `pathlib.Path`. Load it with `tf.saved_model.load(path)` and call
        `.signatures["serving_default"]` (also available as `.serve`) with keyword inputs.
    """
    path = pathlib.Path(path)
    if not isinstance(model, BertTask):
        raise TypeError(
            f"export_saved_model serves {', '.join(served_tasks())}; found {type(model).__name__}. "
            "Save other models with model.save('model.keras')."
        )
    input_signature, serve = model.serving_function(**serving_options)
    if is_occupied(path) and not overwrite:
        raise FileExistsError(
            f"{path} already exists and is not empty. Pass overwrite=True to replace it, "
            "or export to a new path."
        )
    archive = keras.export.ExportArchive()
    # The endpoint saves the variables it reads. Tracking the Keras model as well would
    # store every weight a second time; the preprocessor is tracked for any lookup table.
    archive.track(model.preprocessor)
    archive.add_endpoint(SERVING_ENDPOINT, serve, input_signature=input_signature)
    with atomic_directory(path) as staging:
        archive.write_out(str(staging), verbose=False)
    return path
