"""Fine-tune and score extractive question answering on SQuAD v1.1 / v2.0 files.

The `kbs squad` recipe, as google-research/bert's `run_squad.py`: `--do-train` cuts
every question of `--train-file` into windows of `--max-seq-length` pieces (every
`--doc-stride`), fine-tunes a `BertQuestionAnswerer` and saves `output_dir/model.keras`;
`--do-predict` (or `--do-eval`, the same thing here) decodes `--predict-file` into
`predictions.json`, `nbest_predictions.json` and, with `--version-2-with-negative`,
`null_odds.json`, in the original's layouts. When the predict file holds gold answers,
the official evaluation scores them into `eval_results.json`. Without `--do-train`,
predictions use `output_dir/model.keras` if present, else the preset. The windows of both
files are kept in `output_dir/feature_cache` (`--feature-cache-dir`), as the original's
`FeatureWriter` records: a rerun (after a kill, or to predict again) reads them back
instead of tokenizing again, and any change of file, tokenizer or window flag makes new ones.

Example:
    $ kbs squad --preset bert_base_uncased --train-file train-v1.1.json \\
        --predict-file dev-v1.1.json --output-dir out/squad --do-train --do-predict
    $ kbs squad --version-2-with-negative --predict-file dev-v2.0.json \\
        --output-dir out/squad2 --do-predict   # scores out/squad2/model.keras
"""

import json
import pathlib
import warnings

from tqdm import tqdm

from keras_bert_suite.models.question_answerer import BertQuestionAnswerer
from keras_bert_suite.preprocessing.feature_cache import FeatureCache
from keras_bert_suite.preprocessing.question_answerer import BertQuestionAnswererPreprocessor
from keras_bert_suite.preprocessing.squad_examples import answer_word_chars
from keras_bert_suite.recipes.common import (
    add_common_arguments,
    build_task_model,
    check_sequence_length,
    finished_training,
    load_task_model,
    train_and_save,
)
from keras_bert_suite.recipes.squad_data import read_squad_file
from keras_bert_suite.recipes.squad_decode import squad_predictions, write_prediction_files
from keras_bert_suite.recipes.squad_eval import evaluate_file
from keras_bert_suite.utils import atomic_write_text

EVAL_FILE = "eval_results.json"
FEATURE_CACHE_DIR = "feature_cache"


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
    data.add_argument("--feature-cache-dir", type=pathlib.Path, default=None,
                      help="where the training and prediction windows are kept, keyed by the questions, the "
                      "tokenizer and the window flags, so a rerun does not tokenize again (default: "
                      "OUTPUT_DIR/feature_cache)")
    data.add_argument("--no-feature-cache", action="store_true", help="cut the windows afresh and keep nothing")
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


# === Model ===

def build_model(args):
    """A `BertQuestionAnswerer` on the preset, compiled with BERT's optimizer at `--learning-rate`.

    Its preprocessor carries the window settings, so the saved model's `answer()` cuts
    contexts as the recipe did.
    """
    preprocessor = BertQuestionAnswererPreprocessor.from_preset(
        args.preset, sequence_length=args.max_seq_length, doc_stride=args.doc_stride,
        max_query_length=args.max_query_length,
    )
    return build_task_model(BertQuestionAnswerer, args, preprocessor=preprocessor)


def load_model(args):
    """`output_dir/model.keras` if present (windows cut by this run's flags), else a fresh
    question answerer on the preset."""
    model = load_task_model(BertQuestionAnswerer, args, lambda: build_model(args), doing="answering with")
    model.preprocessor.doc_stride = args.doc_stride
    model.preprocessor.max_query_length = args.max_query_length
    return model


# === Recipe ===

def train(model, examples, args):
    """Fine-tunes on the windows of `examples` (start/end positions; `[CLS]` when not inside)."""
    x = ([example.question for example in examples], [example.context for example in examples])
    y = {"answer_chars": answer_word_chars(examples),
         "answer_texts": [example.answers[0]["text"] if not example.is_impossible else "" for example in examples]}
    train_and_save(model, args, x, y, shuffle=True)


def predict(model, examples, args):
    """Decodes every question and writes the prediction files; returns their paths by name."""
    with tqdm(total=len(examples), desc="answering", unit="question") as bar:
        decoded = model.postprocessor.decode(
            [example.question for example in examples], [example.context for example in examples],
            n_best_size=args.n_best_size, max_answer_length=args.max_answer_length,
            version_2_with_negative=args.version_2_with_negative,
            null_score_diff_threshold=args.null_score_diff_threshold,
            batch_size=args.eval_batch_size or args.batch_size, progress=bar.update,
        )
    paths = write_prediction_files(args.output_dir, *squad_predictions(examples, decoded))
    print(f"Wrote {', '.join(str(path) for path in paths)}")
    return {path.name: path for path in paths}


def report_cache(cache, which):
    """Says which windows came from the cache and which were written to it (and empties the lists)."""
    if cache is None:
        return
    for verb, paths in (("Read", cache.read), ("Wrote", cache.written)):
        if paths:
            print(f"{verb} {which} windows {'from' if verb == 'Read' else 'to'} the feature cache: "
                  f"{', '.join(str(path) for path in paths)}")
        paths.clear()


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
    training = args.do_train and not finished_training(args)
    model = build_model(args) if training else load_model(args)
    check_sequence_length(model, args)
    if not args.no_feature_cache:
        model.feature_cache = FeatureCache(args.feature_cache_dir or args.output_dir / FEATURE_CACHE_DIR)
    if training:
        train(model, train_examples, args)
        report_cache(model.feature_cache, "training")
    if not predicting:
        return {}
    paths = predict(model, predict_examples, args)
    report_cache(model.feature_cache, "prediction")
    if not any(example.answers for example in predict_examples):
        print(f"{args.predict_file} holds no gold answers: predictions written, nothing to score.")
        return {}
    return evaluate(args, paths)
