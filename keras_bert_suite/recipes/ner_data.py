"""CoNLL-2003 style NER data: readers, tag-scheme conversion, label list, prediction files.

The CoNLL text format has one token per line, columns separated by whitespace, the
NER tag in the last column ("EU NNP B-NP B-ORG" or "EU B-ORG"); a blank line ends a
sentence and `-DOCSTART-` lines separate documents. The JSON Lines format has one
sentence per line, `{"words": [...], "ner": [...]}`, tags as strings or as integer ids.
The original CoNLL-2003 files use IOB1 tags; `iob1_to_iob2` gives the B-first scheme
most models are trained on.

Example:
    >>> iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC"])
    ['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC']
    >>> label_list([(["EU", "rejects"], ["B-ORG", "O"]), (["Peter"], ["B-PER"])])
    ['O', 'B-ORG', 'B-PER']
"""

from typing import NamedTuple

from keras_bert_suite.preprocessing.token_classifier import OUTSIDE
from keras_bert_suite.recipes.errors import DataFileError
from keras_bert_suite.recipes.errors import iter_json_lines
from keras_bert_suite.utils import atomic_path

DOCUMENT_START = "-DOCSTART-"
PREFIXES = ("B", "I", "E", "S")


class TaggedSentence(NamedTuple):
    """A sentence's words and their NER tags, one tag per word."""

    words: list[str]
    tags: list[str]


def split_tag(tag):
    """Splits "B-PER" into ("B", "PER"); "O" gives ("O", "").

    Raises:
        ValueError: the tag is neither "O" nor PREFIX-TYPE with PREFIX in B, I, E, S.
    """
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, dash, entity_type = tag.partition("-")
    if not dash or prefix not in PREFIXES or not entity_type:
        raise ValueError(f"Tag {tag!r} is neither 'O' nor PREFIX-TYPE with PREFIX in {PREFIXES} (e.g. 'B-PER').")
    return prefix, entity_type


def read_conll(path):
    """Reads a CoNLL text file into `TaggedSentence`s (the tag is the last column).

    Raises:
        DataFileError: a token line has a single column (no tag).
    """
    sentences = []
    words, tags = [], []

    def end_sentence():
        if words:
            sentences.append(TaggedSentence(list(words), list(tags)))
            words.clear()
            tags.clear()

    with open(path, encoding="utf-8-sig") as handle:
        for line_number, line in enumerate(handle, start=1):
            columns = line.split()
            if not columns or columns[0] == DOCUMENT_START:
                end_sentence()
                continue
            if len(columns) == 1:
                raise DataFileError(
                    path,
                    line_number,
                    f"expected a word and its tag (e.g. 'EU NNP B-NP B-ORG'), found one column {columns[0]!r}",
                )
            words.append(columns[0])
            tags.append(columns[-1])
    end_sentence()
    return sentences


def read_ner_jsonl(path, words_key="words", tags_key="ner", label_names=None):
    """Reads JSON Lines sentences `{"words": [...], "ner": [...]}` into `TaggedSentence`s.

    Tags may be strings, or integer ids when `label_names` (id -> tag) is given.

    Raises:
        DataFileError: a key is missing, tags and words differ in length, or an integer
            tag has no `label_names` entry.
    """
    sentences = []
    for line, record in iter_json_lines(path):
        for key in (words_key, tags_key):
            if not isinstance(record.get(key), list):
                raise DataFileError(path, line, f"expected key {key!r} holding a list; found keys {sorted(record)}")
        words, raw_tags = record[words_key], record[tags_key]
        if len(words) != len(raw_tags):
            raise DataFileError(
                path, line, f"{len(words)} words but {len(raw_tags)} tags; every word needs exactly one tag"
            )
        tags = [_tag_name(tag, label_names, path, line) for tag in raw_tags]
        sentences.append(TaggedSentence([str(word) for word in words], tags))
    return sentences


def _tag_name(tag, label_names, path, line):
    if isinstance(tag, str):
        return tag
    if isinstance(tag, int) and not isinstance(tag, bool):
        if label_names is None:
            raise DataFileError(path, line, f"tag {tag} is an integer id; pass label_names to map ids to tags")
        if not 0 <= tag < len(label_names):
            raise DataFileError(path, line, f"tag id {tag} is outside label_names (0..{len(label_names) - 1})")
        return label_names[tag]
    raise DataFileError(path, line, f"expected tags as strings or integer ids, found {tag!r}")


def _iob_parts(tag):
    prefix, entity_type = split_tag(tag)
    if prefix not in (OUTSIDE, "B", "I"):
        raise ValueError(f"Tag {tag!r} is not an IOB tag (O, B-TYPE, I-TYPE).")
    return prefix, entity_type


def _inside_starts_entity(previous, prefix, entity_type):
    """An I- tag opens a new entity when the previous tag is O or of another type."""
    previous_prefix, previous_type = previous
    return prefix == "I" and (previous_prefix == OUTSIDE or previous_type != entity_type)


def tag_scheme(tag_sequences):
    """Returns "IOB1" if any entity opens with an I- tag, else "IOB2".

    In IOB2 every entity opens with B-; IOB1 uses B- only between two adjacent entities
    of one type, so an I- tag after O (or after another type) marks IOB1.
    """
    for tags in tag_sequences:
        previous = (OUTSIDE, "")
        for tag in tags:
            prefix, entity_type = _iob_parts(tag)
            if _inside_starts_entity(previous, prefix, entity_type):
                return "IOB1"
            previous = (prefix, entity_type)
    return "IOB2"


def iob1_to_iob2(tags):
    """Rewrites the I- tag that opens each entity as B-; IOB2 input comes back unchanged."""
    converted = []
    previous = (OUTSIDE, "")
    for tag in tags:
        prefix, entity_type = _iob_parts(tag)
        converted.append(f"B-{entity_type}" if _inside_starts_entity(previous, prefix, entity_type) else tag)
        previous = (prefix, entity_type)
    return converted


def label_list(sentences):
    """All tags of `(words, tags)` sentences: "O" first, then the others sorted."""
    found = {tag for _, tags in sentences for tag in tags}
    found.discard(OUTSIDE)
    return [OUTSIDE] + sorted(found)


def write_conll_predictions(path, sentences, gold_tags, predicted_tags):
    """Writes "word gold predicted" lines, a blank line after each sentence (conlleval input).

    Args:
        path: output file, written atomically.
        sentences: word lists, e.g. `[s.words for s in read_conll(...)]`.
        gold_tags: tag lists, one per sentence.
        predicted_tags: tag lists, one per sentence.
    """
    if not len(sentences) == len(gold_tags) == len(predicted_tags):
        raise ValueError(
            f"Expected one gold and one predicted tag list per sentence; found {len(sentences)} sentences, "
            f"{len(gold_tags)} gold and {len(predicted_tags)} predicted tag lists."
        )
    lines = []
    for index, (words, gold, predicted) in enumerate(zip(sentences, gold_tags, predicted_tags)):
        if not len(words) == len(gold) == len(predicted):
            raise ValueError(
                f"Sentence {index}: {len(words)} words, {len(gold)} gold tags, {len(predicted)} predicted tags; "
                "expected one of each per word."
            )
        for word, gold_tag, predicted_tag in zip(words, gold, predicted):
            if not word or any(ch.isspace() for ch in word):
                raise ValueError(
                    f"Sentence {index}: word {word!r} is empty or holds whitespace; CoNLL columns would shift."
                )
            lines.append(f"{word} {gold_tag} {predicted_tag}\n")
        lines.append("\n")
    with atomic_path(path) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")
