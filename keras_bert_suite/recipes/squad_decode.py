"""SQuAD prediction files: `predictions.json`, `nbest_predictions.json`, `null_odds.json`.

`QuestionAnswererPostprocessor.decode` gives one `DecodedAnswer` per question (the rule is in
`keras_bert_suite.postprocessing`); this module keys them by question id and writes the
original `run_squad.py` files, which the official evaluation scripts read.

Example:
    >>> decoded = model.postprocessor.decode(questions, contexts)
    >>> paths = write_prediction_files("out", *squad_predictions(examples, decoded))
"""

import collections
import json
import pathlib

from keras_bert_suite.utils import atomic_write_text

SquadPredictions = collections.namedtuple("SquadPredictions", ["predictions", "nbest", "null_odds"])
SquadPredictions.__doc__ = """What `squad_predictions` returns (unpacks as a 3-tuple).

Attributes:
    predictions: `{qas_id: answer text}` ("" = no answer, SQuAD 2.0 only).
    nbest: `{qas_id: [{"text", "probability", "start_logit", "end_logit", "start", "end"}]}`,
        best first; `start`/`end` are character offsets of the answer in the context.
    null_odds: `{qas_id: null score - best answer score}` for SQuAD 2.0, else `None`.
"""

_NBEST_FILE_KEYS = ("text", "probability", "start_logit", "end_logit")


def squad_predictions(examples, decoded):
    """`SquadPredictions` keyed by question id, from one `DecodedAnswer` per example."""
    if len(examples) != len(decoded):
        raise ValueError(f"got {len(decoded)} decoded answers for {len(examples)} examples; pass one per example")
    predictions = {example.qas_id: answer.prediction for example, answer in zip(examples, decoded)}
    nbest = {example.qas_id: answer.nbest for example, answer in zip(examples, decoded)}
    null_odds = None
    if decoded and decoded[0].null_odds is not None:
        null_odds = {example.qas_id: answer.null_odds for example, answer in zip(examples, decoded)}
    return SquadPredictions(predictions, nbest, null_odds)


def write_prediction_files(output_dir, predictions, nbest, null_odds=None):
    """Writes `predictions.json`, `nbest_predictions.json` and (SQuAD 2.0) `null_odds.json`.

    The layouts are those of `run_squad.py` (4-space indent; n-best entries carry text,
    probability, start_logit, end_logit), so the official evaluation scripts read them.

    Returns:
        The paths written.
    """
    output_dir = pathlib.Path(output_dir)
    files = {
        "predictions.json": predictions,
        "nbest_predictions.json": {
            qas_id: [{key: entry[key] for key in _NBEST_FILE_KEYS} for entry in entries]
            for qas_id, entries in nbest.items()
        },
    }
    if null_odds is not None:
        files["null_odds.json"] = null_odds
    paths = []
    for name, content in files.items():
        atomic_write_text(output_dir / name, json.dumps(content, indent=4) + "\n")
        paths.append(output_dir / name)
    return paths
