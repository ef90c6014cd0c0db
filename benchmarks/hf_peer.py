"""The peer of `quality.py`: HF transformers (PyTorch, CPU) fine-tuning, as its example scripts do.

Runs in its own process (PyTorch and TensorFlow in one process crash on this stack), reads
a JSON job on stdin and writes predictions to the job's `output` path. Each task follows
the matching HF example script: `run_qa.py` (fast-tokenizer windows with `stride` overlap,
n-best span post-processing), `run_glue.py`, `run_ner.py` (label on the first piece of each
word, -100 elsewhere) and `run_swag.py`. Training is what HF's `Trainer` does by default:
`torch.optim.AdamW` (weight decay 0, eps 1e-8), linear warmup then linear decay from the end
of warmup, gradient norm clipped to 1.0, a seeded random order each epoch, dropout on.

Example:
    $ echo '{"task": "mrpc", ...}' | python benchmarks/hf_peer.py
"""

import json
import math
import sys

import numpy as np
import torch
import transformers


def train(model, batches_per_epoch, epochs, learning_rate, warmup_ratio, seed):
    """Trainer's default loop over `batches_per_epoch(epoch) -> [dict of tensors]`."""
    torch.manual_seed(seed)
    steps = epochs * len(batches_per_epoch(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0, eps=1e-8)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, math.ceil(warmup_ratio * steps), steps)
    model.train()
    losses = []
    for epoch in range(epochs):
        for batch in batches_per_epoch(epoch):
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    model.eval()
    return losses


def shuffled_batches(arrays, batch_size, seed):
    """`batches(epoch)`: the rows of `arrays` in a fresh seeded order each epoch, as tensors."""
    count = len(next(iter(arrays.values())))

    def batches(epoch):
        order = np.random.RandomState(seed + epoch).permutation(count)
        return [{name: torch.as_tensor(values[order[i:i + batch_size]]) for name, values in arrays.items()}
                for i in range(0, count, batch_size)]
    return batches


def predict(model, arrays, batch_size=64):
    """Logits of every row, as numpy (one array, or a tuple for start/end)."""
    outputs = []
    with torch.no_grad():
        count = len(next(iter(arrays.values())))
        for i in range(0, count, batch_size):
            result = model(**{name: torch.as_tensor(values[i:i + batch_size]) for name, values in arrays.items()})
            outputs.append((result.start_logits.numpy(), result.end_logits.numpy())
                           if hasattr(result, "start_logits") else result.logits.numpy())
    if isinstance(outputs[0], tuple):
        return tuple(np.concatenate(part) for part in zip(*outputs))
    return np.concatenate(outputs)


# === SQuAD (run_qa.py) ===

def squad_train_features(tokenizer, examples, max_length, stride):
    """run_qa's `prepare_train_features`: overflowing windows, answer tokens from offsets."""
    encoded = tokenizer([e["question"].lstrip() for e in examples], [e["context"] for e in examples],
                        truncation="only_second", max_length=max_length, stride=stride,
                        return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")
    starts, ends = [], []
    for i, offsets in enumerate(encoded["offset_mapping"]):
        example = examples[encoded["overflow_to_sample_mapping"][i]]
        sequence_ids = encoded.sequence_ids(i)
        answer_start = example["answer_start"]
        answer_end = answer_start + len(example["answer_text"])
        first = sequence_ids.index(1)
        last = len(sequence_ids) - 1 - sequence_ids[::-1].index(1)
        if not (offsets[first][0] <= answer_start and offsets[last][1] >= answer_end):
            starts.append(0)
            ends.append(0)
            continue
        start = first
        while start <= last and offsets[start][0] <= answer_start:
            start += 1
        end = last
        while end >= first and offsets[end][1] >= answer_end:
            end -= 1
        starts.append(start - 1)
        ends.append(end + 1)
    arrays = {name: np.asarray(encoded[name]) for name in ("input_ids", "token_type_ids", "attention_mask")}
    arrays["start_positions"] = np.asarray(starts)
    arrays["end_positions"] = np.asarray(ends)
    return arrays


def squad_answers(tokenizer, model, examples, max_length, stride, n_best=20, max_answer_length=30):
    """run_qa's `prepare_validation_features` + `postprocess_qa_predictions` (SQuAD 1.1)."""
    encoded = tokenizer([e["question"].lstrip() for e in examples], [e["context"] for e in examples],
                        truncation="only_second", max_length=max_length, stride=stride,
                        return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")
    arrays = {name: np.asarray(encoded[name]) for name in ("input_ids", "token_type_ids", "attention_mask")}
    start_logits, end_logits = predict(model, arrays)
    best = {}
    for i, offsets in enumerate(encoded["offset_mapping"]):
        example = examples[encoded["overflow_to_sample_mapping"][i]]
        context_offsets = [o if s == 1 else None for o, s in zip(offsets, encoded.sequence_ids(i))]
        for start in np.argsort(start_logits[i])[-1:-n_best - 1:-1]:
            for end in np.argsort(end_logits[i])[-1:-n_best - 1:-1]:
                if context_offsets[start] is None or context_offsets[end] is None:
                    continue
                if end < start or end - start + 1 > max_answer_length:
                    continue
                score = start_logits[i][start] + end_logits[i][end]
                if example["id"] not in best or score > best[example["id"]][0]:
                    text = example["context"][context_offsets[start][0]:context_offsets[end][1]]
                    best[example["id"]] = (score, text)
    return {e["id"]: best.get(e["id"], (0, ""))[1] for e in examples}


def run_squad(job, tokenizer, model):
    features = squad_train_features(tokenizer, job["train"], job["max_seq_length"], job["doc_stride"])
    renamed = {"input_ids": "input_ids", "token_type_ids": "token_type_ids", "attention_mask": "attention_mask",
               "start_positions": "start_positions", "end_positions": "end_positions"}
    batches = shuffled_batches({renamed[k]: v for k, v in features.items()}, job["batch_size"], job["seed"])
    losses = train(model, batches, job["epochs"], job["learning_rate"], job["warmup_ratio"], job["seed"])
    return squad_answers(tokenizer, model, job["predict"], job["max_seq_length"], job["doc_stride"]), losses


# === Classification (run_glue.py), NER (run_ner.py), multiple choice (run_swag.py) ===

def encode(tokenizer, texts, texts_b, max_length):
    encoded = tokenizer(texts, texts_b, truncation=True, max_length=max_length, padding="max_length")
    return {name: np.asarray(encoded[name]) for name in ("input_ids", "token_type_ids", "attention_mask")}


def run_classify(job, tokenizer, model):
    train_x = encode(tokenizer, job["train"]["a"], job["train"].get("b"), job["max_seq_length"])
    train_x["labels"] = np.asarray(job["train"]["labels"])
    losses = train(model, shuffled_batches(train_x, job["batch_size"], job["seed"]), job["epochs"],
                   job["learning_rate"], job["warmup_ratio"], job["seed"])
    logits = predict(model, encode(tokenizer, job["predict"]["a"], job["predict"].get("b"), job["max_seq_length"]))
    return logits.argmax(-1).tolist(), losses


def encode_words(tokenizer, sentences, tags, max_length):
    """run_ner's `tokenize_and_align_labels` (label_all_tokens=False)."""
    encoded = tokenizer(sentences, is_split_into_words=True, truncation=True, max_length=max_length,
                        padding="max_length")
    labels = []
    for i in range(len(sentences)):
        previous, row = None, []
        for word in encoded.word_ids(i):
            row.append(-100 if word is None or word == previous else (tags[i][word] if tags else 0))
            previous = word
        labels.append(row)
    arrays = {name: np.asarray(encoded[name]) for name in ("input_ids", "token_type_ids", "attention_mask")}
    return arrays, np.asarray(labels), encoded


def run_ner(job, tokenizer, model):
    train_x, train_labels, _ = encode_words(tokenizer, job["train"]["words"], job["train"]["tags"], job["max_seq_length"])
    train_x["labels"] = train_labels
    losses = train(model, shuffled_batches(train_x, job["batch_size"], job["seed"]), job["epochs"],
                   job["learning_rate"], job["warmup_ratio"], job["seed"])
    arrays, _, encoded = encode_words(tokenizer, job["predict"]["words"], None, job["max_seq_length"])
    predicted = predict(model, arrays).argmax(-1)
    tags = []
    for i, words in enumerate(job["predict"]["words"]):
        row, previous = [0] * len(words), None
        for position, word in enumerate(encoded.word_ids(i)):
            if word is not None and word != previous:
                row[word] = int(predicted[i][position])
            previous = word
        tags.append(row)
    return tags, losses


def encode_choices(tokenizer, contexts, choices, max_length):
    count = len(choices[0])
    flat = encode(tokenizer, [c for c in contexts for _ in range(count)],
                  [ending for row in choices for ending in row], max_length)
    return {name: values.reshape(len(contexts), count, -1) for name, values in flat.items()}


def run_swag(job, tokenizer, model):
    train_x = encode_choices(tokenizer, job["train"]["contexts"], job["train"]["choices"], job["max_seq_length"])
    train_x["labels"] = np.asarray(job["train"]["labels"])
    losses = train(model, shuffled_batches(train_x, job["batch_size"], job["seed"]), job["epochs"],
                   job["learning_rate"], job["warmup_ratio"], job["seed"])
    logits = predict(model, encode_choices(tokenizer, job["predict"]["contexts"], job["predict"]["choices"],
                                           job["max_seq_length"]))
    return logits.argmax(-1).tolist(), losses


TASKS = {
    "squad": (run_squad, lambda job: transformers.BertForQuestionAnswering.from_pretrained(job["model"])),
    "classify": (run_classify, lambda job: transformers.BertForSequenceClassification.from_pretrained(
        job["model"], num_labels=job["num_labels"])),
    "ner": (run_ner, lambda job: transformers.BertForTokenClassification.from_pretrained(
        job["model"], num_labels=job["num_labels"])),
    "swag": (run_swag, lambda job: transformers.BertForMultipleChoice.from_pretrained(job["model"])),
}


def main():
    job = json.load(sys.stdin)
    torch.set_num_threads(job.get("threads", torch.get_num_threads()))
    transformers.set_seed(job["seed"])
    transformers.logging.set_verbosity_error()
    tokenizer = transformers.BertTokenizerFast.from_pretrained(job["model"])
    run, build = TASKS[job["task"]]
    predictions, losses = run(job, tokenizer, build(job))
    with open(job["output"], "w") as file:
        json.dump({"predictions": predictions, "losses": losses}, file)


if __name__ == "__main__":
    main()
