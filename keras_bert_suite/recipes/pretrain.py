"""pretrain BERT (masked LM + next sentence), from scratch or from a preset, as run_pretraining.py

`--input-file` takes comma-separated globs of either kind of data, told apart by content:
TFRecord files of `kbs create-pretraining-data` / the original `create_pretraining_data.py`
(static masks), or raw text, one sentence per line and a blank line between documents,
pretrained with dynamic masking (new pairs and masks every step, keyed on `--seed` and the
step: see `preprocessing/pretraining_text.py`). `--preset` continues a checkpoint (its
released heads too); `--bert-config-file` with `--vocab-file` starts from scratch.

Training runs `--num-train-steps` steps of `--train-batch-size`, the learning rate warmed up
over `--num-warmup-steps` then decayed linearly to 0 (the original schedule). Every
`--save-checkpoints-steps` the state (model, optimizer, step) is kept in
`OUTPUT_DIR/training_state`: the same command run again after a crash continues from the
last one. At the end `OUTPUT_DIR/preset` holds the backbone, vocabulary and both heads
(`BertMaskedLM.from_preset` and `BertPreTraining.from_preset` load them), `--eval-file`
is scored into `eval_results.txt` (the original's keys), and `logs/`, `history.json` and
`training_curves.png` show masked-LM and next-sentence loss and accuracy.

Example:
    $ kbs pretrain --input-file "data/*.tfrecord" --bert-config-file bert_config.json \
        --vocab-file vocab.txt --output-dir out/bert --num-train-steps 100000 --num-warmup-steps 10000
    $ kbs pretrain --input-file corpus.txt --preset bert_base_uncased --output-dir out/adapted \
        --num-train-steps 2000 --learning-rate 2e-5 --eval-file held_out.txt
"""

import argparse
import pathlib

import keras

from keras_bert_suite.models import BertBackbone, BertPreTraining
from keras_bert_suite.preprocessing import BertPreTrainingPreprocessor
from keras_bert_suite.preprocessing.pretraining_records import is_tfrecord_file, pretraining_records
from keras_bert_suite.preprocessing.pretraining_text import dynamic_pretraining_batches, read_text_documents
from keras_bert_suite.recipes.common import (
    JIT_COMPILE,
    STATE_DIR,
    add_training_arguments,
    positive_int,
    recipe_strategy,
    training_callbacks,
)
from keras_bert_suite.recipes.text_files import expand_input_files
from keras_bert_suite.tokenizers import WordPieceTokenizer
from keras_bert_suite.training import bert_optimizer
from keras_bert_suite.training.resume import TrainingState
from keras_bert_suite.utils import atomic_write_text

PRESET_DIR = "preset"
EVAL_FILE = "eval_results.txt"
EVAL_SEED_OFFSET = 1  # held-out text is masked with `--seed + 1`, never the training stream's keys
# Flags a resumed run must share with the run it continues.
RESUME_SETTINGS = ("input_file", "preset", "bert_config_file", "vocab_file", "do_lower_case", "train_batch_size",
                   "max_seq_length", "max_predictions_per_seq", "masked_lm_prob", "num_train_steps",
                   "num_warmup_steps", "learning_rate", "save_checkpoints_steps", "seed",
                   "gradient_accumulation_steps")


def add_arguments(parser):
    parser.add_argument("--input-file", required=True,
                        help="training data: comma-separated globs of TFRecord files (create-pretraining-data) or "
                        "of text files (one sentence per line, blank line between documents: dynamic masking)")
    parser.add_argument("--eval-file", default=None,
                        help="held-out data of either kind, scored at the end into eval_results.txt")
    parser.add_argument("--output-dir", required=True, type=pathlib.Path,
                        help="folder for the training state, logs, eval_results.txt and the final preset/")
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--preset", default=None, help="continue pretraining this preset (name, folder or URL)")
    start.add_argument("--bert-config-file", type=pathlib.Path, default=None,
                       help="start from scratch with this architecture (Google's bert_config.json)")
    parser.add_argument("--vocab-file", type=pathlib.Path, default=None,
                        help="with --bert-config-file: the WordPiece vocab.txt (e.g. from kbs build-vocab)")
    parser.add_argument("--do-lower-case", action=argparse.BooleanOptionalAction, default=True,
                        help="with --bert-config-file: lowercase and strip accents (an uncased vocabulary)")
    parser.add_argument("--train-batch-size", type=positive_int, default=32, help="GLOBAL batch per step")
    parser.add_argument("--eval-batch-size", type=positive_int, default=8, help="batch when scoring --eval-file")
    parser.add_argument("--max-eval-steps", type=positive_int, default=100, help="at most this many eval batches")
    parser.add_argument("--max-seq-length", type=positive_int, default=128,
                        help="word pieces per sequence (TFRecords: the length they were written with)")
    parser.add_argument("--max-predictions-per-seq", type=positive_int, default=20,
                        help="masked positions per sequence (TFRecords: as written)")
    parser.add_argument("--masked-lm-prob", type=float, default=0.15, help="text input: share of pieces masked")
    parser.add_argument("--num-train-steps", type=positive_int, default=100000, help="training steps")
    parser.add_argument("--num-warmup-steps", type=int, default=10000, help="steps of linear learning-rate warmup")
    parser.add_argument("--learning-rate", type=float, default=5e-5, help="peak AdamW learning rate")
    parser.add_argument("--save-checkpoints-steps", type=positive_int, default=1000,
                        help="keep the training state every N steps (a divisor of --num-train-steps); "
                        "a killed run started again continues from the last one")
    parser.add_argument("--seed", type=int, default=12345, help="seed for weights, dropout, data order and masks")
    add_training_arguments(parser)


def data_kind(files):
    """"records" or "text": what every one of `files` holds; a ValueError for a mix."""
    kinds = {path: "records" if is_tfrecord_file(path) else "text" for path in files}
    if len(set(kinds.values())) > 1:
        listed = ", ".join(f"{path} ({kind})" for path, kind in kinds.items())
        raise ValueError(f"--input-file mixes TFRecord and text files: {listed}; pass one kind.")
    return next(iter(kinds.values()))


def build_model(args):
    """`BertPreTraining` on `--preset` or a fresh `--bert-config-file` backbone, compiled with
    the original optimizer settings, inside the strategy's scope."""
    strategy = recipe_strategy(args)
    keras.utils.set_random_seed(args.seed)
    masking = dict(sequence_length=args.max_seq_length, mask_selection_length=args.max_predictions_per_seq,
                   mask_selection_rate=args.masked_lm_prob, seed=args.seed)
    with strategy.scope():
        if args.preset is not None:
            preprocessor = BertPreTrainingPreprocessor.from_preset(args.preset, **masking)
            model = BertPreTraining.from_preset(args.preset, preprocessor=preprocessor, dtype=args.precision,
                                                remat=args.remat)
        else:
            if args.vocab_file is None or not args.vocab_file.is_file():
                raise ValueError(f"--bert-config-file needs --vocab-file, an existing vocab.txt (found "
                                 f"{args.vocab_file}); make one with kbs build-vocab.")
            backbone = BertBackbone.from_config_file(args.bert_config_file, dtype=args.precision, remat=args.remat)
            tokenizer = WordPieceTokenizer(str(args.vocab_file), lowercase=args.do_lower_case)
            if tokenizer.vocabulary_size() != backbone.vocabulary_size:
                raise ValueError(f"{args.vocab_file} has {tokenizer.vocabulary_size()} tokens but "
                                 f"{args.bert_config_file} says vocab_size {backbone.vocabulary_size}; set "
                                 "vocab_size to the vocabulary's size.")
            model = BertPreTraining(backbone, BertPreTrainingPreprocessor(tokenizer, **masking))
        updates = args.num_train_steps // args.gradient_accumulation_steps
        optimizer = bert_optimizer(args.learning_rate, num_train_steps=updates, schedule="google",
                                   warmup_ratio=min(1.0, args.num_warmup_steps / args.num_train_steps),
                                   epsilon=1e-6, gradient_accumulation_steps=args.gradient_accumulation_steps)
        model.compile(optimizer=optimizer, jit_compile=JIT_COMPILE[args.jit_compile],
                      steps_per_execution=args.steps_per_execution)
    if args.max_seq_length > model.backbone.max_sequence_length:
        raise ValueError(f"--max-seq-length {args.max_seq_length} exceeds the model's "
                         f"{model.backbone.max_sequence_length} positions.")
    return model


def batches(patterns, model, args, batch_size, start_step=0, training=True):
    """`(x, y, sample_weight)` batches of the files of `patterns`: endless for training
    (from batch `start_step`), one pass (text: `--max-eval-steps` batches) otherwise."""
    files = expand_input_files(patterns)
    if data_kind(files) == "records":
        records = pretraining_records(files, args.max_seq_length, args.max_predictions_per_seq, batch_size,
                                      repeat=training, seed=args.seed)
        return records.skip(start_step) if training else records.take(args.max_eval_steps)
    seed = args.seed if training else args.seed + EVAL_SEED_OFFSET
    stream = dynamic_pretraining_batches(read_text_documents(files), model.preprocessor, batch_size, seed,
                                         start_step=start_step)
    return stream if training else stream.take(args.max_eval_steps)


def run(args):
    if args.num_train_steps % args.save_checkpoints_steps:
        raise ValueError(f"--save-checkpoints-steps {args.save_checkpoints_steps} must divide --num-train-steps "
                         f"{args.num_train_steps}: the run is {args.num_train_steps} // N periods of N steps.")
    model = build_model(args)
    settings = {name: str(value) if isinstance(value, pathlib.Path) else value
                for name, value in vars(args).items() if name in RESUME_SETTINGS}
    # One Keras epoch per checkpoint period; the state is saved at each epoch's end only.
    state = TrainingState(args.output_dir / STATE_DIR, save_steps=None, save_seconds=float("inf"), settings=settings)
    periods = args.num_train_steps // args.save_checkpoints_steps
    preset = args.output_dir / PRESET_DIR
    if state.is_finished() and preset.is_dir():
        print(f"{args.output_dir} holds a finished run: scoring its {PRESET_DIR}/ without training again.")
        model = BertPreTraining.from_preset(preset, preprocessor=model.preprocessor)
        model.compile()
    else:
        initial_epoch, _ = state.restore(model)
        done = initial_epoch * args.save_checkpoints_steps
        train = batches(args.input_file, model, args, args.train_batch_size, start_step=done)
        model.fit(train, epochs=periods, steps_per_epoch=args.save_checkpoints_steps, initial_epoch=initial_epoch,
                  callbacks=training_callbacks(args.output_dir, state))
        model.save_to_preset(preset)
        state.mark_finished()
    results = {"global_step": args.num_train_steps}  # a run that gets here trained to its end
    if args.eval_file is not None:
        scores = model.evaluate(batches(args.eval_file, model, args, args.eval_batch_size, training=False),
                                return_dict=True, verbose=0)
        results.update(loss=scores["loss"], masked_lm_accuracy=scores["mlm_logits_accuracy"],
                       masked_lm_loss=scores["mlm_logits_loss"], next_sentence_accuracy=scores["nsp_logits_accuracy"],
                       next_sentence_loss=scores["nsp_logits_loss"])
        atomic_write_text(args.output_dir / EVAL_FILE, "".join(f"{key} = {value}\n" for key, value in results.items()))
        print("".join(f"{key} = {value}\n" for key, value in results.items()), end="")
    print(f"Saved the pretrained backbone and heads to {preset}.")
    return results
