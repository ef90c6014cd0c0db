"""Fine-tune and score extractive question answering on SQuAD v1.1 / v2.0 files.

The `kbs squad` recipe, as google-research/bert's `run_squad.py`: `--do-train` cuts
every question of `--train-file` into windows of `--max-seq-length` pieces (every
`--doc-stride`), fine-tunes a `BertQuestionAnswerer` and saves `output_dir/model.keras`;
`--do-predict` (or `--do-eval`, the same thing here) decodes `--predict-file` into
`predictions.json`, `nbest_predictions.json` and, with `--version-2-with-negative`,
`null_odds.json`, in the original's layouts. When the predict file holds gold answers,
the official evaluation scores them into `eval_results.json`. Without `--do-train`,
predictions use `output_dir/model.keras` if present, else the preset.

Example:
    $ kbs squad --preset bert_base_uncased --train-file train-v1.1.json \\
        --predict-file dev-v1.1.json --output-dir out/squad --do-train --do-predict
    $ kbs squad --version-2-with-negative --predict-file dev-v2.0.json \\
        --output-dir out/squad2 --do-predict   # scores out/squad2/model.keras
"""

import json
import pathlib
import warnings

import keras
import tensorflow as tf
from tqdm import tqdm

from keras_bert_suite.models.backbone import INPUT_NAMES
from keras_bert_suite.preprocessing.question_answerer import OUTPUT_NAMES
from keras_bert_suite.recipes.common import (
    MODEL_FILE,
    add_common_arguments,
    check_sequence_length,
    load_trained_model,
    recipe_optimizer,
    save_model,
    training_callbacks,
)
from keras_bert_suite.recipes.squad_data import read_squad_file
from keras_bert_suite.recipes.squad_decode import decode_predictions, write_prediction_files
from keras_bert_suite.recipes.squad_eval import evaluate_file
from keras_bert_suite.recipes.squad_windows import features_to_arrays, make_windows
from keras_bert_suite.utils import atomic_write_text

EVAL_FILE = "eval_results.json"
TOKENIZE_BATCH = 4096


def add_arguments(parser):
    """Adds the `kbs squad` flags (names and defaults of `run_squad.py`)."""
    data = parser.add_argument_group("SQuAD data and decoding")
    data.add_argument("--train-file", type=pathlib.Path, help="SQuAD JSON for training (train-v1.1.json, ...)")
    data.add_argument("--predict-file", type=pathlib.Path,
                      help="SQuAD JSON to answer (dev-v1.1.json, ...); scored when it holds gold answers")
    data.add_argument("--version-2-with-negative", action="store_true",
                      help="SQuAD 2.0: questions may have no answer (train on them, predict \"\" when the "
                      "no-answer score wins, write null_odds.json)")
    data.add_argument("--skip-mismatched-answers", action="store_true",
                      help="leave out (with a warning) training questions whose answer text is not at its "
                      "answer_start, as the original does; by default such a question stops the run")
    data.add_argument("--doc-stride", type=int, default=128,
                      help="context pieces between the starts of consecutive windows of a long context")
    data.add_argument("--max-query-length", type=int, default=64, help="a question is cut to this many pieces")
    data.add_argument("--n-best-size", type=int, default=20,
                      help="top start and end pieces tried per window, and answers kept in nbest_predictions.json")
    data.add_argument("--max-answer-length", type=int, default=30, help="longest answer, in pieces")
    data.add_argument("--null-score-diff-threshold", type=float, default=0.0,
                      help="SQuAD 2.0: predict no answer when null score - best span score exceeds this")
    add_common_arguments(parser, max_seq_length=384, batch_size=12, learning_rate=3e-5, epochs=2)


# === Data ===

def read_examples(path, flag, is_training, args):
    """The `SquadExample`s of `path`, checked against `--version-2-with-negative`."""
    if path is None:
        raise ValueError(f"{'--do-train' if is_training else '--do-predict'} needs {flag}: a SQuAD JSON file.")
    dataset = read_squad_file(path, is_training=is_training, skip_mismatched=args.skip_mismatched_answers)
    if not dataset.examples:
        raise ValueError(f"{path} holds no questions.")
    impossible = sum(example.is_impossible for example in dataset.examples)
    if impossible and not args.version_2_with_negative:
        if is_training:
            raise ValueError(
                f"{path} holds {impossible} questions without an answer (SQuAD 2.0); pass "
                "--version-2-with-negative to train on them."
            )
        warnings.warn(
            f"{path} is SQuAD 2.0 ({impossible} questions without an answer) but --version-2-with-negative "
            "is off: every question gets a span and none can be right about having no answer.",
            stacklevel=2,
        )
    return dataset.examples


def piece_table(tokenizer, texts):
    """`{text: [(id, piece), ...]}` for every distinct text, tokenized in batches (with progress)."""
    distinct = list(dict.fromkeys(texts))
    vocabulary = tokenizer.get_vocabulary()
    table = {}
    with tqdm(total=len(distinct), desc="tokenizing", unit="text") as bar:
        for start in range(0, len(distinct), TOKENIZE_BATCH):
            chunk = distinct[start:start + TOKENIZE_BATCH]
            rows = tokenizer(tf.constant(chunk, tf.string)).to_list()
            table.update({text: [(i, vocabulary[i]) for i in row] for text, row in zip(chunk, rows)})
            bar.update(len(chunk))
    return table


def make_features(examples, tokenizer, args, is_training):
    """The packed windows of every example, as `run_squad.py`'s `convert_examples_to_features`.

    Each context word is tokenized on its own (so each piece knows its word) with the
    model's own tokenizer; training windows carry their answer positions.
    """
    texts = [word for example in examples for word in example.doc_tokens]
    texts += [example.question for example in examples]
    if is_training:
        texts += [example.answers[0]["text"] for example in examples if not example.is_impossible]
    table = piece_table(tokenizer, texts)
    features = []
    for index, example in enumerate(tqdm(examples, desc="windows", unit="question")):
        features.extend(make_windows(
            example, table.__getitem__, cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id,
            pad_id=tokenizer.pad_token_id, max_seq_length=args.max_seq_length, doc_stride=args.doc_stride,
            max_query_length=args.max_query_length, is_training=is_training, example_index=index,
        ))
    print(f"{len(examples)} questions -> {len(features)} windows")
    return features


# === Model ===

def build_model(args):
    """A `BertQuestionAnswerer` on the preset, compiled with BERT's optimizer at `--learning-rate`.

    Its preprocessor carries the window settings, so the saved model's `answer()` cuts
    contexts as the recipe did.
    """
    from keras_bert_suite.models.question_answerer import BertQuestionAnswerer
    from keras_bert_suite.preprocessing.question_answerer import BertQuestionAnswererPreprocessor

    keras.utils.set_random_seed(args.seed)
    preprocessor = BertQuestionAnswererPreprocessor.from_preset(
        args.preset, sequence_length=args.max_seq_length, doc_stride=args.doc_stride,
        max_query_length=args.max_query_length,
    )
    model = BertQuestionAnswerer.from_preset(args.preset, sequence_length=args.max_seq_length,
                                             preprocessor=preprocessor)
    model.compile(optimizer=recipe_optimizer(args))
    return model


def load_model(args):
    """`output_dir/model.keras` if present, else a fresh question answerer on the preset."""
    from keras_bert_suite.models.question_answerer import BertQuestionAnswerer

    path = args.output_dir / MODEL_FILE
    if not path.is_file():
        print(f"No {path}: answering with the preset {args.preset} as it is.")
        return build_model(args)
    return load_trained_model(path, BertQuestionAnswerer)


def model_inputs(arrays):
    return {name: arrays[name] for name in INPUT_NAMES}


# === Recipe ===

def train(model, examples, args):
    """Fine-tunes on the windows of `examples` (start/end positions; `[CLS]` when not inside)."""
    arrays = features_to_arrays(make_features(examples, model.preprocessor.tokenizer, args, is_training=True))
    targets = dict(zip(OUTPUT_NAMES, (arrays["start_positions"], arrays["end_positions"])))
    model.fit(model_inputs(arrays), targets, batch_size=args.batch_size, epochs=args.epochs, shuffle=True,
              callbacks=training_callbacks(args.output_dir))
    save_model(model, args.output_dir / MODEL_FILE)


def predict(model, examples, args):
    """Decodes every question and writes the prediction files; returns their paths by name."""
    tokenizer = model.preprocessor.tokenizer
    features = make_features(examples, tokenizer, args, is_training=False)
    outputs = model.predict(model_inputs(features_to_arrays(features)),
                            batch_size=args.eval_batch_size or args.batch_size)
    decoded = decode_predictions(
        examples, features, outputs["start_logits"], outputs["end_logits"], n_best_size=args.n_best_size,
        max_answer_length=args.max_answer_length, version_2_with_negative=args.version_2_with_negative,
        null_score_diff_threshold=args.null_score_diff_threshold, do_lower_case=tokenizer.lowercase,
    )
    paths = write_prediction_files(args.output_dir, *decoded)
    print(f"Wrote {', '.join(str(path) for path in paths)}")
    return {path.name: path for path in paths}


def evaluate(args, paths):
    """The official SQuAD score of `predictions.json`, written to `eval_results.json`."""
    metrics = evaluate_file(args.predict_file, paths["predictions.json"], paths.get("null_odds.json"))
    atomic_write_text(args.output_dir / EVAL_FILE, json.dumps(metrics, indent=2) + "\n")
    print("***** Eval results *****")
    for key, value in metrics.items():
        print(f"  {key} = {value}")
    return metrics


def run(args):
    """Runs the recipe from parsed flags; returns the official metrics ({} when not scored)."""
    predicting = args.do_predict or args.do_eval
    if not (args.do_train or predicting):
        raise ValueError("Nothing to do: pass --do-train and/or --do-predict.")
    # Read every file first, so bad data stops the run before any training.
    train_examples = read_examples(args.train_file, "--train-file", True, args) if args.do_train else []
    predict_examples = read_examples(args.predict_file, "--predict-file", False, args) if predicting else []

    args.output_dir.mkdir(parents=True, exist_ok=True)
    model = build_model(args) if args.do_train else load_model(args)
    check_sequence_length(model, args)
    if args.do_train:
        train(model, train_examples, args)
    if not predicting:
        return {}
    paths = predict(model, predict_examples, args)
    if not any(example.answers for example in predict_examples):
        print(f"{args.predict_file} holds no gold answers: predictions written, nothing to score.")
        return {}
    return evaluate(args, paths)
