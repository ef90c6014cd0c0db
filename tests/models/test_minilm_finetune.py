"""The embedded MiniLM checkpoint fine-tunes to clearly above chance on real SST-2 sentences.

Trains on 192 sentences of the GLUE SST-2 dev file (../shared/data/sst2) and scores the
next 192: a test-sized run (48 steps) that still separates a working pipeline — tokenizer,
checkpoint, head, schedule — from a broken one, which stays near 50%.
"""

import keras
import numpy as np

import keras_bert_suite as kbs
from keras_bert_suite.recipes.glue_data import read_glue
from tests.helpers.shared_data import shared


def test_minilm_learns_sst2_well_above_chance():
    examples = read_glue("sst-2", shared("sst2"), "dev")
    train, held_out = examples[:192], examples[192:384]
    keras.utils.set_random_seed(0)
    model = kbs.BertClassifier.from_preset(kbs.DEFAULT_PRESET, num_classes=2, sequence_length=48)
    model.compile(learning_rate=1.5e-4)
    model.fit([e.text_a for e in train], [int(e.label) for e in train], epochs=4, batch_size=16, verbose=0)
    labels = np.array([int(e.label) for e in held_out])
    predictions = model.predict([e.text_a for e in held_out], verbose=0).argmax(-1)
    accuracy = float((predictions == labels).mean())
    majority = max(labels.mean(), 1 - labels.mean())
    assert majority < 0.56
    assert accuracy >= 0.70, f"held-out accuracy {accuracy:.3f} (majority class {majority:.3f})"
