"""Memory of `kbs create-pretraining-data` as the corpus grows: it streams, so the peak stays flat.

Builds a corpus from SQuAD paragraphs (one sentence per line, a paragraph per document;
`../shared/data/squad_v1.1` when present, else the bundled sample), repeats it 1x and 10x,
runs the CLI on each in a subprocess, and samples the resident memory of the whole process
tree (the main process and its workers) every 0.1 s from /proc. Prints a table and writes
benchmarks/results/pretraining_data_memory.json. Linux only (reads /proc).

Example:
    $ python benchmarks/pretraining_data_memory.py --factors 1,10 --dupe-factor 2 --num-workers 2
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "squad_v1.1" / "dev-v1.1-part1.json"
BUNDLED = ROOT / "examples" / "data" / "squad_v1.1" / "dev-v1.1-part1.json"
PAGE = os.sysconf("SC_PAGE_SIZE")


def squad_documents():
    source = SHARED if SHARED.exists() else BUNDLED
    data = json.loads(source.read_text(encoding="utf-8"))["data"]
    documents = []
    for article in data:
        for paragraph in article["paragraphs"]:
            documents.append("".join(s + "\n" for s in re.split(r"(?<=[.!?])\s+", paragraph["context"].strip())))
    return source, documents


def tree_rss(pid):
    """Resident bytes of `pid` and all its descendants (0 for processes that just ended)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            total += int(pathlib.Path(f"/proc/{current}/statm").read_text().split()[1]) * PAGE
            for task in pathlib.Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def process_rss(pid):
    """Resident bytes of `pid` alone."""
    try:
        return int(pathlib.Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except FileNotFoundError:
        return 0


def measure(command):
    """(wall seconds, peak tree RSS bytes, peak main-process RSS bytes, stderr tail) of `command`."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks = {"tree": 0, "main": 0}

    def sample():
        while process.poll() is None:
            peaks["tree"] = max(peaks["tree"], tree_rss(process.pid))
            peaks["main"] = max(peaks["main"], process_rss(process.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, stderr = process.communicate()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    return time.monotonic() - started, peaks["tree"], peaks["main"], stderr.strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", default="1,10", help="corpus sizes, as repeats of the SQuAD paragraphs")
    parser.add_argument("--dupe-factor", type=int, default=2)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--document-pool-size", type=int, default=1000)
    parser.add_argument("--shuffle-buffer-size", type=int, default=10000)
    parser.add_argument("--preset", default="minilm_l6_h384_uncased")
    args = parser.parse_args()
    source, documents = squad_documents()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for factor in (int(f) for f in args.factors.split(",")):
            corpus = pathlib.Path(folder) / f"corpus_x{factor}.txt"
            corpus.write_text("\n".join(documents * factor), encoding="utf-8")
            command = [sys.executable, "-m", "keras_bert_suite.cli", "create-pretraining-data",
                       "--input-file", str(corpus), "--output-file", str(pathlib.Path(folder) / f"x{factor}.tfrecord"),
                       "--preset", args.preset, "--dupe-factor", str(args.dupe_factor),
                       "--num-workers", str(args.num_workers), "--document-pool-size", str(args.document_pool_size),
                       "--shuffle-buffer-size", str(args.shuffle_buffer_size)]
            wall, tree, main_rss, last = measure(command)
            instances = int(re.search(r"wrote (\d+) instances", last).group(1))
            rows.append({"factor": factor, "corpus_mb": corpus.stat().st_size / 2**20,
                         "documents": len(documents) * factor, "instances": instances, "wall_s": wall,
                         "peak_tree_rss_mb": tree / 2**20, "peak_main_rss_mb": main_rss / 2**20})
    header = ("corpus", "MB", "documents", "instances", "wall s", "peak RSS, all processes (MB)",
              "peak RSS, main process (MB)")
    print(f"source: {source}; dupe factor {args.dupe_factor}, {args.num_workers} workers, pool "
          f"{args.document_pool_size} documents, shuffle buffer {args.shuffle_buffer_size}")
    print(" | ".join(header))
    for row in rows:
        print(f"x{row['factor']} | {row['corpus_mb']:.1f} | {row['documents']} | {row['instances']} | "
              f"{row['wall_s']:.0f} | {row['peak_tree_rss_mb']:.0f} | {row['peak_main_rss_mb']:.0f}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "pretraining_data_memory.json").write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
