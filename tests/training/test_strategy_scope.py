"""Every task model from_preset and keras.saving.load_model inside a mirrored scope (two
logical CPUs, so in a fresh process: see `distributed_jobs.py`)."""

import json

from tests.helpers.tasks import minilm_tokenizer, tiny_backbone
from tests.training.distributed_jobs import run_jobs


def test_every_task_model_builds_and_loads_inside_a_mirrored_scope(tmp_path):
    preset = tmp_path / "tiny"
    tiny_backbone().save_to_preset(preset, tokenizer=minilm_tokenizer())
    (output,) = run_jobs((["tasks", str(preset), str(tmp_path)], {"LOGICAL_CPUS": "2"}))
    done = [json.loads(line) for line in output.splitlines() if line.startswith('{"task"')]
    assert [record["task"] for record in done] == ["BertClassifier", "BertTokenClassifier", "BertQuestionAnswerer",
                                                   "BertMultipleChoice", "BertMaskedLM", "BertPreTraining"]
    assert all(record["replicas"] == 2 for record in done)
    # The masked LM trained there (2 epochs of one batch) and came back with its step count.
    assert {record["task"]: record["trained"] for record in done if record["trained"]} == {"BertMaskedLM": 2}
