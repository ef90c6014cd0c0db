"""kbs pretrain: a tiny BERT from scratch on text (dynamic masking) and on TFRecords, the
preset it leaves (both heads), eval_results.txt, and a SIGKILLed run that resumes."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from keras_bert_suite import BertMaskedLM, BertPreTraining
from keras_bert_suite.cli import main
from tests.preprocessing.test_pretraining_data_inputs import record_row, write_records

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORDS = "red blue green cat dog bird runs sleeps eats big small old".split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
EVAL_KEYS = ["global_step", "loss", "masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy",
             "next_sentence_loss"]


def corpus(path, documents=6, seed=0):
    """Documents of patterned sentences ("the ADJ NOUN VERB ."), so a tiny model learns fast."""
    rng = np.random.default_rng(seed)
    text = []
    for _ in range(documents):
        noun = rng.choice(WORDS[3:6])
        text.append("\n".join(f"{rng.choice(WORDS[:3])} {noun} {rng.choice(WORDS[6:9])} ." for _ in range(4)))
    path.write_text("\n\n".join(text) + "\n")
    return path


def tiny_setup(folder, hidden=32):
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(SPECIALS + WORDS + ["."]) + "\n")
    config = folder / "bert_config.json"
    config.write_text(json.dumps({
        "vocab_size": len(SPECIALS) + len(WORDS) + 1, "hidden_size": hidden, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 2 * hidden, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 64, "type_vocab_size": 2,
        "initializer_range": 0.02}))
    return ["--bert-config-file", str(config), "--vocab-file", str(vocab), "--max-seq-length", "16",
            "--max-predictions-per-seq", "3"]


def read_eval(path):
    return {key: float(value) for key, value in (line.split(" = ") for line in path.read_text().splitlines())}


def test_records_train_and_bad_flags_are_clear_errors(tmp_path, capsys):
    rng = np.random.default_rng(0)  # ids of the tiny vocabulary
    write_records(tmp_path / "train.tfrecord", [dict(record_row(seed, length=16), input_ids=rng.integers(5, 18, 16).tolist(),
                                                     masked_lm_ids=rng.integers(5, 18, 3).tolist()) for seed in range(8)])
    out = tmp_path / "out"
    flags = ["--input-file", str(tmp_path / "*.tfrecord"), "--output-dir", str(out), *tiny_setup(tmp_path),
             "--train-batch-size", "4", "--num-warmup-steps", "1"]
    assert main(["pretrain", *flags, "--num-train-steps", "4", "--save-checkpoints-steps", "3"]) == 2
    assert "--save-checkpoints-steps 3 must divide --num-train-steps 4" in capsys.readouterr().err
    assert main(["pretrain", *flags[:-8], "--max-seq-length", "32", "--num-train-steps", "2",
                 "--save-checkpoints-steps", "2", "--train-batch-size", "4", "--num-warmup-steps", "1",
                 "--bert-config-file", flags[5], "--vocab-file", flags[7]]) == 2
    assert "input_ids holds 16 values per record, expected 32" in capsys.readouterr().err
    assert main(["pretrain", *flags, "--num-train-steps", "4", "--save-checkpoints-steps", "2",
                 "--eval-file", str(tmp_path / "train.tfrecord")]) == 0
    assert read_eval(out / "eval_results.txt")["global_step"] == 4
    assert int(BertPreTraining.from_preset(out / "preset", sequence_length=16).backbone.num_layers) == 2


def test_from_scratch_a_killed_run_continues_learns_and_leaves_a_preset_with_both_heads(tmp_path):
    text, held_out = corpus(tmp_path / "corpus.txt"), corpus(tmp_path / "held_out.txt", seed=1)
    out = tmp_path / "out"
    flags = ["pretrain", "--input-file", str(text), "--eval-file", str(held_out), "--output-dir", str(out),
             *tiny_setup(tmp_path), "--train-batch-size", "16", "--num-train-steps", "80", "--num-warmup-steps", "8",
             "--learning-rate", "3e-3", "--save-checkpoints-steps", "20"]
    command = [sys.executable, "-m", "keras_bert_suite.cli", *flags]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    state, history_file = out / "training_state" / "state.json", out / "history.json"
    first = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        # Killed once a checkpoint and the history up to it are written (the report writes after the state).
        while not (state.is_file() and history_file.is_file()) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait()
    saved = json.loads(state.read_text())
    assert first.returncode == -signal.SIGKILL and 20 <= saved["global_step"] < 80, saved
    second = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"({saved['global_step']} steps done)" in second.stdout
    history = json.loads(history_file.read_text())
    # The history goes on from the checkpoint: every step once, up to the last.
    assert history["global_step"] == list(range(1, 81))
    accuracy = history["steps"]["mlm_logits_accuracy"]  # running mean over each 20-step period
    assert accuracy[-1] > accuracy[0] + 0.2, (accuracy[0], accuracy[-1])
    results = read_eval(out / "eval_results.txt")
    assert list(results) == EVAL_KEYS and results["global_step"] == 80
    assert results["masked_lm_accuracy"] > 0.4  # held-out paragraphs of the same pattern
    assert json.loads(state.read_text())["finished"]
    assert (out / "training_curves.png").is_file() and any((out / "logs").rglob("*tfevents*"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        masked_lm = BertMaskedLM.from_preset(out / "preset", sequence_length=16)
        pretraining = BertPreTraining.from_preset(out / "preset", sequence_length=16)
    assert not [w for w in caught if "starts untrained" in str(w.message)]
    assert masked_lm.backbone.vocabulary_size == 18
    # Both task models read the trained masked-LM head: the same logits.
    x = masked_lm.preprocessor.pack_texts(["red cat runs ."])
    x["mask_positions"] = np.array([[2]], np.int32)
    np.testing.assert_allclose(masked_lm.predict(x, verbose=0), pretraining.predict(x, verbose=0)["mlm_logits"],
                               atol=1e-5)
    assert masked_lm.fill_mask(["red [MASK] runs ."], top_k=1)[0][0][0]["token"] in WORDS[3:6]
    # Started again, a finished run is scored, not retrained.
    assert main(flags) == 0
    assert read_eval(out / "eval_results.txt") == pytest.approx(results, abs=1e-4)
