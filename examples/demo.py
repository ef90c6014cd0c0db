"""`make demo`: the whole job on the embedded MiniLM checkpoint, in a few CPU minutes.

1. Loads the default preset (a real BERT, shipped as a pip package) and prints the
   cosine similarities of a few sentences (mean-pooled `sequence_output`).
2. Writes a small sentiment dataset (GLUE SST-2 layout) and fine-tunes a
   `BertClassifier` on it with the BERT recipe (AdamW, warmup, linear decay).
3. Evaluates on the dev split, saves the model to `.keras` and reloads it.
4. Exports a SavedModel that serves raw strings, reloads it with plain TensorFlow and
   predicts a few new sentences with it.

Run: `make demo` (or `.venv/bin/python examples/demo.py --output-dir demo_output`).
A smoke test: `python examples/demo.py --smoke`, every step on 32 training and 16 dev
sentences for one epoch (a check that everything works, not a trained model).
"""

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.export import export_saved_model  # noqa: E402
from keras_bert_suite.recipes.demo_data import write_demo_dataset  # noqa: E402
from keras_bert_suite.recipes.glue_data import read_glue  # noqa: E402

SIMILARITY_SENTENCES = [
    "A man is playing a guitar.",
    "Someone is playing an instrument.",
    "The stock market fell sharply today.",
    "Shares dropped steeply this afternoon.",
]
NEW_REVIEWS = [
    "The acting was wonderful and the story kept me gripped.",
    "A dull, lifeless film that dragged on forever.",
    "The soundtrack is a real pleasure.",
    "Honestly, the script was a chore to sit through.",
]


def banner(text):
    print(f"\n=== {text} ===", flush=True)


def sentence_similarities(preset):
    """Cosine similarities of mean-pooled MiniLM embeddings (how the checkpoint was trained)."""
    backbone = kbs.BertBackbone.from_preset(preset)
    preprocessor = kbs.BertClassifierPreprocessor.from_preset(preset, sequence_length=32)
    inputs = preprocessor(SIMILARITY_SENTENCES)
    hidden = backbone(inputs)["sequence_output"]
    mask = tf.cast(inputs["padding_mask"], hidden.dtype)[..., None]
    embeddings = tf.reduce_sum(hidden * mask, axis=1) / tf.reduce_sum(mask, axis=1)
    embeddings = tf.math.l2_normalize(embeddings, axis=-1).numpy()
    similarities = embeddings @ embeddings.T
    width = max(len(s) for s in SIMILARITY_SENTENCES)
    for sentence, row in zip(SIMILARITY_SENTENCES, similarities):
        print(f"{sentence:<{width}}  " + "  ".join(f"{value:5.2f}" for value in row))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--output-dir", type=pathlib.Path, default=pathlib.Path("demo_output"))
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=32)
    parser.add_argument("--smoke", action="store_true", help="32 training and 16 dev sentences, 1 epoch")
    args = parser.parse_args()
    if args.smoke:
        args.epochs = 1
    started = time.time()
    keras.utils.set_random_seed(0)

    banner(f"1. Sentence similarities with the embedded preset {args.preset!r}")
    sentence_similarities(args.preset)

    banner("2. Fine-tuning a classifier on a small bundled sentiment dataset")
    sizes = {"train_size": 32, "dev_size": 16} if args.smoke else {}
    data = write_demo_dataset(args.output_dir / "data", **sizes)
    train, dev = read_glue("sst-2", data, "train"), read_glue("sst-2", data, "dev")
    print(f"{len(train)} training and {len(dev)} dev sentences written to {data}")
    model = kbs.BertClassifier.from_preset(args.preset, num_classes=2, sequence_length=args.sequence_length)
    model.compile(learning_rate=args.learning_rate)  # AdamW, 10% warmup, linear decay to 0
    model.fit([e.text_a for e in train], [int(e.label) for e in train],
              epochs=args.epochs, batch_size=args.batch_size)

    banner("3. Evaluating, saving and reloading")
    dev_texts, dev_labels = [e.text_a for e in dev], np.array([int(e.label) for e in dev])
    loss, accuracy = model.evaluate(dev_texts, dev_labels, verbose=0)
    print(f"dev loss {loss:.4f}, dev accuracy {accuracy:.4f} ({len(dev)} sentences)")
    model_path = args.output_dir / "demo_classifier.keras"
    model.save(model_path)
    reloaded = keras.saving.load_model(model_path)
    same = np.allclose(reloaded.predict(dev_texts[:8], verbose=0), model.predict(dev_texts[:8], verbose=0))
    print(f"saved {model_path}; reloaded predictions identical: {same}")

    banner("4. Exporting a SavedModel that serves raw strings, and predicting with it")
    export_path = args.output_dir / "demo_classifier_savedmodel"
    export_saved_model(model, export_path, overwrite=True)
    serve = tf.saved_model.load(str(export_path)).signatures["serving_default"]
    outputs = serve(text=tf.constant(NEW_REVIEWS))
    for review, probabilities in zip(NEW_REVIEWS, outputs["probabilities"].numpy()):
        label = "positive" if probabilities[1] > 0.5 else "negative"
        print(f"{label:8s} p(positive)={probabilities[1]:.3f}  {review}")
    print(f"\nDone in {time.time() - started:.0f} s. Files are in {args.output_dir}/.")


if __name__ == "__main__":
    main()
