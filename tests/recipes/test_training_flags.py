"""The training flags every recipe shares (recipes/common.py): parsed and checked, documented
in --help, and passed on to the strategy, `from_preset`, the optimizer and `compile`."""

import types

import pytest
import tensorflow as tf

from keras_bert_suite import BertClassifier
from keras_bert_suite.cli import build_parser, main
from keras_bert_suite.recipes import common
from keras_bert_suite.training import get_strategy
from tests.helpers.tasks import tiny_backbone

COMMANDS = ["classify", "squad", "ner", "swag"]


def parse(*flags):
    return build_parser().parse_args([*flags, "--output-dir", "out"])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_training_recipe_has_the_flags_with_plain_defaults(command):
    args = parse(command)
    assert (args.strategy, args.tpu, args.precision, args.gradient_accumulation_steps, args.remat,
            args.jit_compile, args.steps_per_execution) == ("auto", None, "float32", 1, False, "auto", 1)


def test_help_says_the_batch_size_is_global_and_names_each_choice(capsys):
    assert main(["classify", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--batch-size BATCH_SIZE GLOBAL batch: examples per training step over all devices and machines" in text
    for choice in ("{auto,one_device,mirrored,multi_worker,tpu}", "{float32,mixed_float16,mixed_bfloat16}",
                   "{auto,true,false}", "TF_CONFIG", "--gradient-accumulation-steps", "--remat",
                   "--steps-per-execution"):
        assert choice in text


@pytest.mark.parametrize("flags, message", [
    (["--strategy", "gpus"], "argument --strategy: invalid choice: 'gpus'"),
    (["--precision", "float16"], "argument --precision: invalid choice: 'float16'"),
    (["--jit-compile", "yes"], "argument --jit-compile: invalid choice: 'yes'"),
    (["--gradient-accumulation-steps", "0"],
     "argument --gradient-accumulation-steps: expected an integer >= 1, found '0'"),
    (["--steps-per-execution", "two"], "argument --steps-per-execution: expected an integer >= 1, found 'two'"),
    (["--batch-size", "-8"], "argument --batch-size: expected an integer >= 1, found '-8'"),
])
def test_bad_flags_are_refused_naming_them(flags, message, capsys):
    assert main(["swag", "--output-dir", "out", *flags]) == 2
    assert message in capsys.readouterr().err


def test_tpu_without_the_tpu_strategy_exits_2_naming_both_flags(tmp_path, capsys):
    data = tmp_path / "train.csv"
    data.write_text("text,label\ngood film,1\nbad film,0\n", encoding="utf-8")
    code = main(["classify", "--train-file", str(data), "--text-a", "text", "--output-dir", str(tmp_path / "out"),
                 "--do-train", "--tpu", "my-tpu"])
    assert code == 2
    assert ("kbs classify: error: tpu='my-tpu' names a TPU, which only the 'tpu' strategy uses; the strategy is "
            "'auto'. Pass --strategy tpu, or leave out --tpu.") in capsys.readouterr().err


@pytest.mark.parametrize("remat", [False, True])
def test_flags_reach_the_strategy_from_preset_the_optimizer_and_compile(monkeypatch, remat):
    seen = {}

    def from_preset(preset, **kwargs):
        seen.update(kwargs, strategy=tf.distribute.get_strategy())
        return BertClassifier(tiny_backbone(), num_classes=2, compile=False)

    monkeypatch.setattr(BertClassifier, "from_preset", from_preset)
    args = parse("classify", "--strategy", "one_device", "--precision", "mixed_bfloat16", "--max-seq-length", "16",
                 "--gradient-accumulation-steps", "4", "--jit-compile", "true", "--steps-per-execution", "3",
                 *(["--remat"] if remat else []))
    model = common.build_task_model(BertClassifier, args, num_classes=2)
    strategy = get_strategy("one_device")
    assert seen == {"sequence_length": 16, "dtype": "mixed_bfloat16", "remat": remat, "num_classes": 2,
                    "strategy": strategy}
    assert model.distribute_strategy is strategy
    assert model.optimizer.gradient_accumulation_steps == 4
    config = model.get_compile_config()
    assert (config["jit_compile"], config["steps_per_execution"]) == (True, 3)


def test_a_saved_model_loads_inside_the_strategy_scope(monkeypatch, tmp_path):
    (tmp_path / common.MODEL_FILE).write_bytes(b"")
    seen = []

    def load(*arguments):
        seen.append(tf.distribute.get_strategy())
        return types.SimpleNamespace(preprocessor=types.SimpleNamespace(sequence_length=None))

    monkeypatch.setattr(common, "load_trained_model", load)
    common.load_task_model(BertClassifier, build_parser().parse_args(
        ["classify", "--output-dir", str(tmp_path), "--strategy", "one_device"]))
    assert seen == [get_strategy("one_device")]
