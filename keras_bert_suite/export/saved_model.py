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

Every export also has the signature `serving_packed`: the model's packed int32 inputs
(`token_ids`, `segment_ids`, `padding_mask` [b, sequence], and `mask_positions` [b, m] for a
masked LM or pretraining model; [b, num_choices, sequence] for multiple choice) -> the head's
outputs as `predict` gives them on packed input, float32: `logits` for a single-output head,
`start_logits`/`end_logits` (question answering), `mlm_logits`/`nsp_logits` (pretraining). The
text-level outputs above need the raw strings, so only `serving_default` has them. A task
without a raw-text serving function (`BertPreTraining`) exports `serving_packed` alone, which
is then also its `serving_default`.

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
import tensorflow as tf

from keras_bert_suite.models.task import BertTask, has_postprocessor, register_exporter, served_tasks
from keras_bert_suite.utils import atomic_directory, is_occupied

SERVING_ENDPOINT = "serve"
PACKED_ENDPOINT = "serving_packed"


@register_exporter("tf_saved_model")
def export_saved_model(model, path, *, overwrite=False, verbose=False, **serving_options):
    """Writes `model` (with its preprocessor) to `path` as a SavedModel serving raw strings.

    `model.export(path)` calls it (`format="tf_saved_model"`, the default).

    Args:
        model: a task model (`BertClassifier`, `BertTokenClassifier`, `BertMultipleChoice`,
            `BertQuestionAnswerer`, `BertMaskedLM` with a preprocessor, e.g. built by
            `from_preset`; or `BertPreTraining`, packed inputs only).
        path: the SavedModel folder to write. It is written beside `path` first and
            renamed into place only when complete.
        overwrite: replace an existing non-empty `path`.
        verbose: print the variables written.
        **serving_options: the task's serving options (see the module docstring), e.g.
            `pairs=True` for a classifier or `top_k=3` for a masked LM.

    Returns:
        `path` as a `pathlib.Path`. Load it with `tf.saved_model.load(path)` and call
        `.signatures["serving_default"]` (also available as `.serve`) or
        `.signatures["serving_packed"]` with keyword inputs.
    """
    path = pathlib.Path(path)
    if not isinstance(model, BertTask):
        raise TypeError(
            f"export_saved_model serves {', '.join(served_tasks())} and BertPreTraining; found "
            f"{type(model).__name__}. Save other models with model.save('model.keras')."
        )
    raw = model.serving_function(**serving_options) if has_postprocessor(model) or serving_options else None
    if is_occupied(path) and not overwrite:
        raise FileExistsError(
            f"{path} already exists and is not empty. Pass overwrite=True to replace it, "
            "or export to a new path."
        )
    archive = keras.export.ExportArchive()
    # The endpoints save the variables they read. Tracking the Keras model as well would
    # store every weight a second time; the preprocessor is tracked for any lookup table.
    if raw is not None:
        archive.track(model.preprocessor)
        input_signature, serve = raw
        archive.add_endpoint(SERVING_ENDPOINT, *serving_empty_batches(serve, input_signature))
    archive.add_endpoint(PACKED_ENDPOINT, *serving_empty_batches(*packed_serving_function(model)))
    with atomic_directory(path) as staging:
        archive.write_out(str(staging), verbose=verbose)
    return path


def packed_serving_function(model):
    """`(fn, input_signature)`: `fn` takes the model's packed int tensors in the order of
    `input_signature` (named after the model's inputs, so the signature takes them by name)
    and returns the head's outputs (`predict` on packed input) as a dict of float32 tensors.

    Example:
        >>> fn, signature = packed_serving_function(classifier)
        >>> [spec.name for spec in signature]   # ['token_ids', 'segment_ids', 'padding_mask']
        >>> fn(ids, segments, mask)["logits"]
    """
    names = list(model.input)
    specs = [tf.TensorSpec(model.input[name].shape, model.input[name].dtype, name=name) for name in names]

    def serve(*tensors):
        outputs = model(dict(zip(names, tensors)), training=False)
        outputs = outputs if isinstance(outputs, dict) else {"logits": outputs}
        return {name: tf.cast(value, tf.float32) for name, value in outputs.items()}

    return serve, specs


def serving_empty_batches(serve, input_signature):
    """`(fn, input_signature)`: `fn` is `serve`, except that a batch of 0 examples runs as one
    blank example ("" or 0 in each input) and returns 0 rows of each output, instead of
    reaching ops that fail on an empty batch (the masked-LM head's gather does). Every output
    has one row per example.

    Example:
        >>> fn, signature = serving_empty_batches(serve, [string_spec("text")])
        >>> fn(tf.constant([], tf.string))["logits"].shape   # [0, classes]
    """
    def guarded(*inputs):
        examples = tf.shape(inputs[0])[0]
        blank_example = [tf.zeros([1] + [1 if size is None else size for size in spec.shape[1:]], spec.dtype)
                         for spec in input_signature]
        inputs = tf.cond(examples > 0, lambda: list(inputs), lambda: blank_example)
        return tf.nest.map_structure(lambda output: output[:examples], serve(*inputs))

    return guarded, input_signature
