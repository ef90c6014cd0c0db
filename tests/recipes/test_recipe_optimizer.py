"""`--schedule` and the other optimizer flags reach every recipe's optimizer."""

import pytest

from keras_bert_suite.cli import build_parser
from keras_bert_suite.recipes.common import recipe_optimizer


@pytest.mark.parametrize("command", ["classify", "squad", "ner", "swag"])
@pytest.mark.parametrize("flags, expected", [([], "linear"), (["--schedule", "google"], "google")])
def test_schedule_flag_reaches_the_optimizer(command, flags, expected):
    args = build_parser().parse_args([command, "--output-dir", "out", "--learning-rate", "4e-5",
                                      "--warmup-ratio", "0.2", *flags])
    schedule = recipe_optimizer(args)._learning_rate
    assert (schedule.schedule, schedule.peak_learning_rate, schedule.warmup_ratio) == (expected, 4e-5, 0.2)


def test_unknown_schedule_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["squad", "--output-dir", "out", "--schedule", "cosine"])
    assert "invalid choice: 'cosine' (choose from 'linear', 'google')" in capsys.readouterr().err
