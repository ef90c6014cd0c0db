"""`--schedule` and the other optimizer flags reach every recipe's optimizer."""

import pytest

from keras_bert_suite.cli import build_parser
from keras_bert_suite.recipes.common import recipe_optimizer


@pytest.mark.parametrize("command", ["classify", "squad", "ner", "swag"])
@pytest.mark.parametrize(
    "flags, expected",
    [([], ("linear", 1e-8)), (["--schedule", "google", "--adam-epsilon", "1e-6"], ("google", 1e-6))],
)
def test_schedule_and_epsilon_flags_reach_the_optimizer(command, flags, expected):
    args = build_parser().parse_args([command, "--output-dir", "out", "--learning-rate", "4e-5",
                                      "--warmup-ratio", "0.2", *flags])
    optimizer = recipe_optimizer(args)
    schedule = optimizer._learning_rate
    assert (schedule.schedule, optimizer.epsilon) == expected
    assert (schedule.peak_learning_rate, schedule.warmup_ratio) == (4e-5, 0.2)


def test_unknown_schedule_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["squad", "--output-dir", "out", "--schedule", "cosine"])
    assert "invalid choice: 'cosine' (choose from 'linear', 'google')" in capsys.readouterr().err
