"""A small, self-written sentiment dataset for `make demo` and the examples.

Review sentences are composed from templates (subject, verb phrase, opinion), so
the data needs no download and is the same on every machine. It is written in the
GLUE SST-2 layout (`sentence<TAB>label`, header), so `kbs classify --task sst2` reads it.

Example:
    >>> folder = write_demo_dataset("demo_data")   # train.tsv, dev.tsv, test.tsv
"""

import pathlib
import random

from keras_bert_suite.utils import atomic_write_text

_SUBJECTS = [
    "the film", "this movie", "the acting", "the soundtrack", "the plot", "the ending",
    "the director's new work", "the script", "the cast", "this documentary", "the sequel",
    "the animation", "the dialogue", "the story", "the photography",
]
_POSITIVE = [
    "was wonderful", "felt warm and moving", "is a delight from start to finish", "was brilliant",
    "left me smiling", "is beautifully made", "was genuinely funny", "is a real pleasure",
    "kept me gripped", "was superb", "is charming and clever", "deserves every award",
]
_NEGATIVE = [
    "was dull", "felt lifeless and flat", "is a chore to sit through", "was terrible",
    "left me bored", "is badly made", "was painfully unfunny", "is a waste of time",
    "dragged on forever", "was awful", "is clumsy and confused", "deserves to be forgotten",
]
_ENDINGS = ["", ".", "!", ", honestly.", ", in my opinion.", " overall.", ", to be fair."]


def demo_examples(count, seed):
    """`count` (sentence, label) pairs, label 1 = positive, balanced and shuffled."""
    rng = random.Random(seed)
    examples = []
    for index in range(count):
        label = index % 2
        opinion = rng.choice(_POSITIVE if label else _NEGATIVE)
        sentence = f"{rng.choice(_SUBJECTS)} {opinion}{rng.choice(_ENDINGS)}"
        examples.append((sentence[0].upper() + sentence[1:], label))
    rng.shuffle(examples)
    return examples


def write_demo_dataset(folder, train_size=320, dev_size=80, test_size=8):
    """Writes train.tsv / dev.tsv (with labels) and test.tsv (index, sentence) into `folder`."""
    folder = pathlib.Path(folder)
    splits = {"train": (train_size, 1), "dev": (dev_size, 2)}
    for split, (size, seed) in splits.items():
        rows = [f"{sentence}\t{label}" for sentence, label in demo_examples(size, seed)]
        atomic_write_text(folder / f"{split}.tsv", "sentence\tlabel\n" + "\n".join(rows) + "\n")
    test = [f"{i}\t{sentence}" for i, (sentence, _) in enumerate(demo_examples(test_size, 3))]
    atomic_write_text(folder / "test.tsv", "index\tsentence\n" + "\n".join(test) + "\n")
    return folder
