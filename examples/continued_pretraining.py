"""Continue BERT's pretraining (masked LM + next sentence) on your own text, then fine-tune from it.

Domain-adaptive pretraining: the backbone keeps learning BERT's two original objectives
on in-domain text before any task. This script takes the Wikipedia paragraphs of a
SQuAD file (`--squad-file`; by default the bundled sample
`examples/data/squad_v1.1/dev-v1.1-part1.json`, 24 paragraphs, origin and licence in
`examples/data/SOURCES`), splits them into sentences and builds next-sentence pairs as the
original `create_pretraining_data.py` does (half the second sentences follow the first,
half are drawn from another paragraph; label 0 = IsNext). `BertPreTraining` masks 15% of
the pieces afresh every epoch. 200 held-out pairs (a fifth of them, from a file with
fewer than 1,000) are scored before and after; the adapted backbone is saved as a preset
that every task model loads.

The embedded MiniLM ships without the masked-LM and NSP heads, so here they start
untrained and most of the gain is the heads learning; a Google preset (e.g.
`--preset bert_base_uncased`, a 408 MB download) starts from its released heads.

Takes about 6 minutes on 2 CPU cores with the defaults on the whole 24-article SQuAD v1.1
dev subset (1,200 training pairs, 2 epochs); measured there: masked-LM accuracy 0.000 ->
0.115 and loss 11.5 -> 7.5 on the held-out pairs, while next-sentence accuracy stays near
chance (0.52): NSP needs far more steps. The bundled sample gives only 108 pairs (87 to
train on, 21 held out; about 1 minute, masked-LM accuracy 0.000 -> 0.073).

Run:
    python examples/continued_pretraining.py --output-dir adapted_minilm   # the bundled sample
    python examples/continued_pretraining.py --output-dir adapted_minilm --squad-file FILE   # any SQuAD JSON
    # a smoke test:
    python examples/continued_pretraining.py --output-dir smoke_preset --max-pairs 32 --epochs 1 --sequence-length 32
"""

import argparse
import os
import pathlib
import random
import re
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.recipes.squad_data import read_squad_file  # noqa: E402

BUNDLED_SQUAD = pathlib.Path(__file__).resolve().parent / "data" / "squad_v1.1" / "dev-v1.1-part1.json"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def paragraphs_as_sentences(path):
    """Each distinct context of a SQuAD file as its list of sentences (those with 2 or more)."""
    contexts = dict.fromkeys(example.context for example in read_squad_file(path))
    paragraphs = [SENTENCE_END.split(context.strip()) for context in contexts]
    return [sentences for sentences in paragraphs if len(sentences) >= 2]


def next_sentence_pairs(paragraphs, rng):
    """(first, second, label) for every adjacent pair of sentences; half the seconds replaced
    by a sentence of another paragraph (label 1 = NotNext)."""
    pairs = []
    for index, sentences in enumerate(paragraphs):
        for first, second in zip(sentences, sentences[1:]):
            if rng.random() < 0.5:
                other = rng.choice([p for i, p in enumerate(paragraphs) if i != index])
                pairs.append((first, rng.choice(other), 1))
            else:
                pairs.append((first, second, 0))
    rng.shuffle(pairs)
    return pairs


def as_inputs(pairs):
    firsts, seconds, labels = zip(*pairs)
    return (list(firsts), list(seconds)), list(labels)


def score(model, pairs, title):
    keras.utils.set_random_seed(1)  # the same masks before and after training
    results = model.evaluate(*as_inputs(pairs), batch_size=32, verbose=0, return_dict=True)
    print(f"{title:<8} masked-LM accuracy {results['mlm_logits_accuracy']:.3f}   "
          f"next-sentence accuracy {results['nsp_logits_accuracy']:.3f}   loss {results['loss']:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--output-dir", type=pathlib.Path, required=True, help="where the adapted preset goes")
    parser.add_argument("--squad-file", type=pathlib.Path, default=BUNDLED_SQUAD,
                        help="SQuAD JSON whose paragraphs are the in-domain text")
    parser.add_argument("--max-pairs", type=int, default=1200, help="training pairs (up to 200 more are held out)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=96)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    args = parser.parse_args()
    if not args.squad_file.is_file():
        sys.exit(f"{args.squad_file} not found: pass --squad-file, any SQuAD-format JSON of your domain.")
    started = time.time()
    keras.utils.set_random_seed(0)

    pairs = next_sentence_pairs(paragraphs_as_sentences(args.squad_file), random.Random(0))
    held_out_size = min(200, len(pairs) // 5)
    held_out, train = pairs[:held_out_size], pairs[held_out_size: held_out_size + args.max_pairs]
    print(f"{len(pairs)} sentence pairs from {args.squad_file.name}: {len(train)} to train on, "
          f"{len(held_out)} held out")

    model = kbs.BertPreTraining.from_preset(args.preset, sequence_length=args.sequence_length)
    score(model, held_out, "before")
    model.fit(*as_inputs(train), epochs=args.epochs, batch_size=args.batch_size)
    score(model, held_out, "after")

    model.backbone.save_to_preset(args.output_dir, tokenizer=model.preprocessor.tokenizer)
    classifier = kbs.BertClassifier.from_preset(args.output_dir, num_classes=2)
    print(f"\nsaved the adapted backbone to {args.output_dir}; e.g. "
          f"BertClassifier.from_preset({str(args.output_dir)!r}, num_classes=2) -> "
          f"{classifier.count_params():,} parameters")
    print(f"done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
