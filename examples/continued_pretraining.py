"""Continue BERT's pretraining (masked LM + next sentence) on your own text with `kbs pretrain`, then fine-tune.

Domain-adaptive pretraining: the backbone keeps learning BERT's two original objectives
on in-domain text before any task. This script writes the Wikipedia paragraphs of a SQuAD
file (`--squad-file`; by default the bundled sample
`examples/data/squad_v1.1/dev-v1.1-part1.json`, origin and licence in
`examples/data/SOURCES`) in the original pretraining text format (one sentence per line, a
blank line between paragraphs; one paragraph in five held out), then runs

    kbs pretrain --preset PRESET --input-file train.txt --eval-file held_out.txt --output-dir OUT

which pretrains with dynamic masking (new sentence pairs and masks every step), keeps a
resumable state every `--save-checkpoints-steps`, and leaves `OUT/preset` with the backbone
and both heads. The held-out masked-LM loss and accuracy are printed before and after
(the same held-out batches); then a classifier and a fill-mask model load the new preset.

The embedded MiniLM ships without the masked-LM and NSP heads, so here they start
untrained and much of the early gain is the heads learning; a Google preset (e.g.
`--preset bert_base_uncased`, a 408 MB download) starts from its released heads.

Run:
    python examples/continued_pretraining.py --output-dir adapted_minilm   # the bundled sample
    python examples/continued_pretraining.py --output-dir adapted_minilm --squad-file FILE   # any SQuAD JSON
    # a smoke test:
    python examples/continued_pretraining.py --output-dir smoke_out --num-train-steps 4 --batch-size 4 \
        --eval-steps 2 --sequence-length 32
"""

import argparse
import json
import os
import pathlib
import re
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite.cli import build_parser, main as kbs_main  # noqa: E402
from keras_bert_suite.recipes import pretrain  # noqa: E402

BUNDLED_SQUAD = pathlib.Path(__file__).resolve().parent / "data" / "squad_v1.1" / "dev-v1.1-part1.json"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def write_text_corpus(squad_file, folder):
    """train.txt and held_out.txt (every fifth paragraph): one sentence per line, paragraphs
    separated by blank lines. Returns (paragraphs, train, held out)."""
    data = json.loads(squad_file.read_text(encoding="utf-8"))["data"]
    paragraphs = list(dict.fromkeys(p["context"].strip() for article in data for p in article["paragraphs"]))
    documents = ["\n".join(SENTENCE_END.split(paragraph)) for paragraph in paragraphs]
    folder.mkdir(parents=True, exist_ok=True)
    train, held_out = folder / "train.txt", folder / "held_out.txt"
    train.write_text("\n\n".join(d for i, d in enumerate(documents) if i % 5) + "\n", encoding="utf-8")
    held_out.write_text("\n\n".join(d for i, d in enumerate(documents) if not i % 5) + "\n", encoding="utf-8")
    return len(documents), train, held_out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--output-dir", type=pathlib.Path, required=True, help="where kbs pretrain writes")
    parser.add_argument("--squad-file", type=pathlib.Path, default=BUNDLED_SQUAD,
                        help="SQuAD JSON whose paragraphs are the in-domain text")
    parser.add_argument("--num-train-steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--eval-steps", type=int, default=20, help="held-out batches of 8 pairs scored")
    parser.add_argument("--sequence-length", type=int, default=96)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--preset", default=kbs.DEFAULT_PRESET)
    args = parser.parse_args()
    if not args.squad_file.is_file():
        sys.exit(f"{args.squad_file} not found: pass --squad-file, any SQuAD-format JSON of your domain.")
    started = time.time()
    paragraphs, train, held_out = write_text_corpus(args.squad_file, args.output_dir / "text")
    print(f"{paragraphs} paragraphs from {args.squad_file.name}: {train.name} and {held_out.name} "
          f"(one in five held out)")

    command = ["pretrain", "--preset", args.preset, "--input-file", str(train), "--eval-file", str(held_out),
               "--output-dir", str(args.output_dir), "--max-seq-length", str(args.sequence_length),
               "--train-batch-size", str(args.batch_size), "--num-train-steps", str(args.num_train_steps),
               "--num-warmup-steps", str(args.num_train_steps // 10), "--learning-rate", str(args.learning_rate),
               "--save-checkpoints-steps", str(args.num_train_steps), "--max-eval-steps", str(args.eval_steps)]
    print("kbs " + " ".join(command))
    # The preset as it is, on the held-out batches kbs pretrain scores at its end.
    flags = build_parser().parse_args(command)
    model = pretrain.build_model(flags)
    before = model.evaluate(pretrain.batches(flags.eval_file, model, flags, flags.eval_batch_size, training=False),
                            return_dict=True, verbose=0)
    if kbs_main(command) != 0:
        sys.exit("kbs pretrain failed (see above).")
    after = dict(line.split(" = ") for line in (args.output_dir / "eval_results.txt").read_text().splitlines())
    print(f"before   masked-LM accuracy {before['mlm_logits_accuracy']:.3f}   loss {before['mlm_logits_loss']:.3f}")
    print(f"after    masked-LM accuracy {float(after['masked_lm_accuracy']):.3f}   "
          f"loss {float(after['masked_lm_loss']):.3f}")

    preset = args.output_dir / "preset"
    classifier = kbs.BertClassifier.from_preset(preset, num_classes=2, sequence_length=args.sequence_length)
    fill = kbs.BertMaskedLM.from_preset(preset, sequence_length=args.sequence_length)
    best = fill.fill_mask(["The university is located in the [MASK] of the city."], top_k=3)[0][0]
    print(f"\nsaved the adapted model to {preset}; e.g. BertClassifier.from_preset({str(preset)!r}, "
          f"num_classes=2) -> {classifier.count_params():,} parameters; fill-mask with the trained head: "
          + ", ".join(candidate["token"] for candidate in best))
    print(f"done in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
