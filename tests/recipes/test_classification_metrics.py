import math

import numpy as np
import pytest

from keras_bert_suite.recipes.classification_metrics import EVAL_RESULT_KEYS
from keras_bert_suite.recipes.classification_metrics import accuracy
from keras_bert_suite.recipes.classification_metrics import average_ranks
from keras_bert_suite.recipes.classification_metrics import f1
from keras_bert_suite.recipes.classification_metrics import format_eval_results
from keras_bert_suite.recipes.classification_metrics import glue_metrics
from keras_bert_suite.recipes.classification_metrics import matthews_corrcoef
from keras_bert_suite.recipes.classification_metrics import pearson
from keras_bert_suite.recipes.classification_metrics import spearman
from keras_bert_suite.recipes.classification_metrics import write_eval_results

PREDICTIONS = [1, 1, 0, 1, 0, 0]
LABELS = [1, 0, 0, 1, 1, 0]  # TP 2, FP 1, FN 1, TN 2


def test_hand_computed_binary_scores():
    assert accuracy(PREDICTIONS, LABELS) == pytest.approx(4 / 6)
    assert f1(PREDICTIONS, LABELS) == pytest.approx(2 * 2 / (3 + 3))
    # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = 3 / 9
    assert matthews_corrcoef(PREDICTIONS, LABELS) == pytest.approx(1 / 3)


def test_f1_positive_class_and_no_positives():
    assert f1([0, 0, 1], [0, 1, 1], positive=0) == pytest.approx(2 * 1 / (2 + 1))
    assert f1([0, 0], [0, 0]) == 0.0


def test_multiclass_matthews_by_hand():
    # true counts t=[2,1,1], predicted counts p=[2,0,2], correct c=3, n s=4:
    # (c*s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)) = (12 - 6) / sqrt(8 * 10)
    assert matthews_corrcoef([0, 2, 2, 0], [0, 1, 2, 0]) == pytest.approx(6 / math.sqrt(80))


def test_matthews_matches_direct_formula_on_random_binary_data():
    rng = np.random.default_rng(0)
    predictions = rng.integers(0, 2, size=500)
    labels = np.where(rng.random(500) < 0.7, predictions, 1 - predictions)
    tp = np.sum((predictions == 1) & (labels == 1))
    tn = np.sum((predictions == 0) & (labels == 0))
    fp = np.sum((predictions == 1) & (labels == 0))
    fn = np.sum((predictions == 0) & (labels == 1))
    expected = (tp * tn - fp * fn) / np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    assert matthews_corrcoef(predictions, labels) == pytest.approx(expected, abs=1e-12)


def test_degenerate_correlations():
    assert matthews_corrcoef([1, 1, 1], [0, 1, 1]) == 0.0
    assert math.isnan(pearson([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]))


def test_pearson_matches_numpy_on_random_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    y = 0.6 * x + rng.normal(size=300)
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)


def test_average_ranks_share_ties():
    np.testing.assert_array_equal(average_ranks([10, 20, 20, 5, 20]), [2.0, 4.0, 4.0, 1.0, 4.0])


def test_spearman_with_ties_by_hand():
    # ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]; centred dot 4.5 over sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(22.5))


def test_spearman_matches_rank_formula_on_random_data_with_ties():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 6, size=200).astype(float)  # many ties
    y = x + rng.integers(-2, 3, size=200)

    def naive_ranks(values):
        values = np.asarray(values)
        return np.array([np.sum(values < v) + (np.sum(values == v) + 1) / 2 for v in values])

    expected = np.corrcoef(naive_ranks(x), naive_ranks(y))[0, 1]
    assert spearman(x, y) == pytest.approx(expected, abs=1e-12)


def test_glue_metrics_names_per_task():
    assert glue_metrics("mrpc", [1, 1, 0, 1], [1, 0, 0, 1]) == {
        "acc": pytest.approx(0.75),
        "f1": pytest.approx(0.8),
        "acc_and_f1": pytest.approx(0.775),
    }
    assert glue_metrics("qqp", PREDICTIONS, LABELS) == {
        "acc": pytest.approx(4 / 6),
        "f1": pytest.approx(2 / 3),
        "acc_and_f1": pytest.approx(2 / 3),
    }
    assert glue_metrics("cola", PREDICTIONS, LABELS) == {"mcc": pytest.approx(1 / 3)}
    assert glue_metrics("sst2", PREDICTIONS, LABELS) == {"acc": pytest.approx(4 / 6)}
    assert glue_metrics("wnli", [0], [0]) == {"acc": 1.0}


def test_glue_metrics_stsb_reports_pearson_spearman_and_their_mean():
    predictions = [1.0, 2.0, 2.0, 3.0]
    labels = [1.0, 3.0, 2.0, 4.0]
    scores = glue_metrics("sts-b", predictions, labels)
    assert list(scores) == ["pearson", "spearmanr", "corr"]
    assert scores["pearson"] == pytest.approx(np.corrcoef(predictions, labels)[0, 1])
    assert scores["spearmanr"] == pytest.approx(4.5 / math.sqrt(22.5))
    assert scores["corr"] == pytest.approx((scores["pearson"] + scores["spearmanr"]) / 2)


def test_glue_metrics_accepts_label_strings():
    gold = ["entailment", "neutral", "contradiction", "neutral"]
    predicted_ids = [1, 2, 0, 1]  # contradiction=0, entailment=1, neutral=2
    assert glue_metrics("mnli", predicted_ids, gold) == {"acc": 0.75}
    assert glue_metrics("mrpc", ["1", "0", "1"], ["1", "1", "1"])["f1"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match=r"Labels \['maybe'\] are not rte labels \['entailment', 'not_entailment'\]"):
        glue_metrics("rte", ["maybe"], ["entailment"])


def test_shape_and_length_errors():
    with pytest.raises(ValueError, match=r"Expected as many predictions as labels, found 2 and 3"):
        accuracy([1, 0], [1, 0, 1])
    expected = r"found shapes \(2, 2\) and \(2,\); take the argmax of classifier logits first"
    with pytest.raises(ValueError, match=expected):
        glue_metrics("sst2", [[0.1, 0.9], [0.8, 0.2]], [1, 0])
    with pytest.raises(ValueError, match="Cannot score an empty set"):
        f1([], [])


def test_eval_results_text_as_the_original_writes_it(tmp_path):
    results = {
        "loss": np.float32(0.41261584),
        "global_step": 343,
        "eval_loss": np.float32(0.41261584),
        "eval_accuracy": np.float32(0.84313726),
    }
    assert tuple(sorted(results)) == EVAL_RESULT_KEYS
    expected = "eval_accuracy = 0.84313726\neval_loss = 0.41261584\nglobal_step = 343\nloss = 0.41261584\n"
    assert format_eval_results(results) == expected
    path = tmp_path / "out" / "eval_results.txt"
    write_eval_results(path, results)
    assert path.read_text(encoding="utf-8") == expected
