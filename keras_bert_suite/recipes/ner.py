"""Fine-tune and score a named-entity tagger on CoNLL-2003 style files (CoNLL text or JSON Lines).

The `kbs ner` recipe: `--do-train` learns one tag per word with a `BertTokenClassifier`
(each word scored at its first piece; the tags are those of `--train-file`, "O" first)
and saves `output_dir/model.keras`. `--do-eval` tags `--dev-file` and `--do-predict`
tags `--test-file`; each writes `<split>_predictions.conll` ("word gold predicted" per
line, a blank line after each sentence: `conlleval`'s input) and `<split>_results.txt`
with entity-level precision, recall and F1, overall and per type, by `conlleval`'s
rules, plus token accuracy (`split` is `eval` for dev, `test` for test). Tags are
scored in the scheme the files use (IOB1, IOB2 or IOBES). Without `--do-train`, the
tagger is `output_dir/model.keras`.

Example:
    $ kbs ner --preset bert_base_cased --train-file conll2003/train.txt \\
        --dev-file conll2003/valid.txt --test-file conll2003/test.txt \\
        --output-dir out/ner --do-train --do-eval --do-predict
"""

import pathlib

from keras_bert_suite.models.token_classifier import BertTokenClassifier
from keras_bert_suite.recipes.classification_metrics import format_eval_results, write_eval_results
from keras_bert_suite.recipes.common import (
    MODEL_FILE,
    add_common_arguments,
    build_task_model,
    check_sequence_length,
    finished_training,
    load_task_model,
    train_and_save,
)
from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.ner_data import (
    label_list,
    read_conll,
    read_ner_jsonl,
    split_tag,
    write_conll_predictions,
)
from keras_bert_suite.recipes.ner_metrics import classification_report, evaluate_ner

JSON_LINES_SUFFIXES = (".jsonl", ".json")
# (flag enabling a scored split, its file flag, prefix of the files and metric keys written for it)
SCORED_SPLITS = (("do_eval", "dev_file", "eval"), ("do_predict", "test_file", "test"))


def add_arguments(parser):
    """Adds the `kbs ner` flags."""
    data = parser.add_argument_group(
        "NER data: CoNLL text (one 'word ... tag' line per word, blank line between sentences) "
        "or JSON Lines ({\"words\": [...], \"ner\": [...]} per sentence, .jsonl/.json)"
    )
    data.add_argument("--train-file", type=pathlib.Path,
                      help="tagged sentences to fine-tune on; their tags are the labels")
    data.add_argument("--dev-file", type=pathlib.Path, help="tagged sentences to score with --do-eval")
    data.add_argument("--test-file", type=pathlib.Path, help="tagged sentences to tag and score with --do-predict")
    add_common_arguments(parser)


# === Data ===

def read_sentences(path, flag):
    """`TaggedSentence`s of a CoNLL or JSON Lines file, every tag checked to be O or PREFIX-TYPE."""
    if path is None:
        raise ValueError(f"This run needs {flag}: a CoNLL or JSON Lines file of tagged sentences.")
    is_json_lines = pathlib.Path(path).suffix.lower() in JSON_LINES_SUFFIXES
    sentences = read_ner_jsonl(path) if is_json_lines else read_conll(path)
    if not sentences:
        raise DataFileError(path, None, "holds no sentences; expected tagged words")
    for number, sentence in enumerate(sentences, start=1):
        for tag in sentence.tags:
            try:
                split_tag(tag)
            except ValueError as error:
                where = f"sentence {number} ({' '.join(sentence.words[:6])} ...)"
                raise DataFileError(path, None, f"{where}: {error}") from None
    return sentences


def words_and_tags(sentences):
    return [sentence.words for sentence in sentences], [sentence.tags for sentence in sentences]


# === Model ===

def build_model(args, labels):
    """A `BertTokenClassifier` over `labels`, compiled with BERT's optimizer at `--learning-rate`."""
    return build_task_model(BertTokenClassifier, args, num_classes=len(labels), labels=labels)


def load_model(args):
    """The tagger saved in `output_dir/model.keras`, cutting sentences at `--max-seq-length`."""
    path = args.output_dir / MODEL_FILE
    if not path.is_file():
        raise ValueError(f"No {path} to tag with: pass --do-train (with --train-file), or the --output-dir of a "
                         "trained tagger.")
    return load_task_model(BertTokenClassifier, args, wanted="and tag names",
                           suits=lambda model: model.labels is not None)


def tag_ids(tags, labels):
    index = {label: i for i, label in enumerate(labels)}
    return [[index[tag] for tag in sentence_tags] for sentence_tags in tags]


# === Recipe ===

def train(args, sentences, dev_sentences):
    """Fine-tunes on `sentences` (dev loss tracked when dev uses only training tags); saves the model."""
    labels = label_list(sentences)
    print(f"Tags ({len(labels)}): {' '.join(labels)}")
    model = build_model(args, labels)
    check_sequence_length(model, args)
    words, tags = words_and_tags(sentences)
    validation = None
    if dev_sentences:
        dev_words, dev_tags = words_and_tags(dev_sentences)
        if {tag for sentence_tags in dev_tags for tag in sentence_tags} <= set(labels):
            validation = (dev_words, tag_ids(dev_tags, labels))
    return train_and_save(model, args, words, tag_ids(tags, labels), validation_data=validation)


def score(model, sentences, prefix, args):
    """Tags `sentences`, writes `<prefix>_predictions.conll` and `<prefix>_results.txt`; returns the scores."""
    words, gold = words_and_tags(sentences)
    predicted = model.tag(words, batch_size=args.eval_batch_size or args.batch_size)
    write_conll_predictions(args.output_dir / f"{prefix}_predictions.conll", words, gold, predicted)
    results = {f"{prefix}_{key}": value for key, value in evaluate_ner(gold, predicted).as_dict().items()}
    write_eval_results(args.output_dir / f"{prefix}_results.txt", results)
    print(f"***** {prefix} results *****")
    print(classification_report(gold, predicted), end="")
    print(format_eval_results(results), end="")
    return results


def run(args):
    """Runs the recipe from parsed flags; returns the entity scores (keys `eval_*`, `test_*`)."""
    if not (args.do_train or args.do_eval or args.do_predict):
        raise ValueError("Nothing to do: pass --do-train, --do-eval and/or --do-predict.")
    # Read every file first, so bad data stops the run before any training.
    train_sentences = read_sentences(args.train_file, "--train-file") if args.do_train else []
    scored = {prefix: read_sentences(getattr(args, file_flag), "--" + file_flag.replace("_", "-"))
              for do_flag, file_flag, prefix in SCORED_SPLITS if getattr(args, do_flag)}

    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.do_train and not finished_training(args):
        model = train(args, train_sentences, scored.get("eval"))
    else:
        model = load_model(args)
        check_sequence_length(model, args)
    metrics = {}
    for prefix, sentences in scored.items():
        metrics.update(score(model, sentences, prefix, args))
    return metrics
