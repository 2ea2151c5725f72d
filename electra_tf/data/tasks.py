"""Fine-tuning data: classification TSV and CoNLL tagging files, and their `tf.data` pipelines.

* Classification TSV: `label<TAB>text` or `label<TAB>text_a<TAB>text_b`, one
  example a line, every line with the same number of columns. A first line
  whose first field is `label` is a header (or say `header=True/False`).
  Empty lines are skipped and counted (`ClassificationData.skipped_lines`).
* CoNLL: `token<TAB>tag` a line, a blank line between sentences; extra
  columns between token and tag are ignored (the tag is the last field).

Errors name the file and the line. Labels (tags) are checked against
`label_names` (`tag_names`) when given, so a dev or test file cannot bring a
label the model never saw; otherwise they are collected from the file, sorted.
`ClassificationData.dataset` and `tagging_dataset` turn the examples into
batches of raw strings (words) and label (tag) ids for a task's `fit`.

Example:
```python
import pathlib, tempfile
from electra_tf.data import tasks

path = pathlib.Path(tempfile.mkdtemp()) / "train.tsv"
path.write_text("label\\ttext\\npos\\t很好\\nneg\\t很差\\n", encoding="utf-8")
data = tasks.read_classification_tsv(path)
data.label_names, data.labels  # -> (['neg', 'pos'], [1, 0])
```
"""

import dataclasses
import pathlib

import tensorflow as tf


class DataFormatError(ValueError):
    """A data file does not follow its format; the message names the file and line."""


@dataclasses.dataclass
class ClassificationData:
    texts: list
    labels: list
    label_names: list
    texts_b: list | None = None  # second segments of sentence pairs
    skipped_lines: int = 0

    @property
    def inputs(self):
        """What `ElectraClassifier.fit` / `predict` take: strings or a pair of string tensors."""
        if self.texts_b is None:
            return self.texts
        return (tf.constant(self.texts), tf.constant(self.texts_b))

    def dataset(self, batch_size, shuffle_seed=None):
        """A `tf.data` pipeline of raw strings and label ids (shuffled when a seed is given)."""
        features = self.texts if self.texts_b is None else (self.texts, self.texts_b)
        ds = tf.data.Dataset.from_tensor_slices((features, self.labels))
        return _shuffled(ds, len(self.labels), shuffle_seed).batch(batch_size)


@dataclasses.dataclass
class TaggingData:
    tokens: list  # list of sentences, each a list of words (or characters)
    tags: list  # same shape as tokens, tag strings
    tag_names: list


def read_classification_tsv(path, label_names=None, header=None) -> ClassificationData:
    """Reads a classification TSV file (see the module docstring)."""
    path = pathlib.Path(path)
    rows, skipped, num_columns = [], 0, None
    for number, line in _numbered_lines(path):
        if not line.strip():
            skipped += 1
            continue
        fields = line.split("\t")
        if number == 1 and (header or (header is None and fields[0].strip().lower() == "label")):
            continue
        if len(fields) not in (2, 3):
            raise DataFormatError(
                f"{path}:{number}: expected label<TAB>text or label<TAB>text_a<TAB>text_b, "
                f"got {len(fields)} tab-separated field(s)."
            )
        if num_columns is None:
            num_columns = len(fields)
        elif len(fields) != num_columns:
            raise DataFormatError(
                f"{path}:{number}: {len(fields)} fields, but earlier lines have {num_columns}; "
                "a file holds either single texts or pairs."
            )
        rows.append((number, [f.strip() for f in fields]))
    if not rows:
        raise DataFormatError(f"{path}: no examples (the file is empty or only a header).")
    names = _label_names(path, [(n, f[0]) for n, f in rows], label_names, "label")
    ids = {name: i for i, name in enumerate(names)}
    return ClassificationData(
        texts=[f[1] for _, f in rows],
        labels=[ids[f[0]] for _, f in rows],
        label_names=names,
        texts_b=[f[2] for _, f in rows] if num_columns == 3 else None,
        skipped_lines=skipped,
    )


def read_conll(path, tag_names=None) -> TaggingData:
    """Reads `token<TAB>tag` lines, sentences separated by blank lines."""
    path = pathlib.Path(path)
    sentences, current = [], []
    for number, line in _numbered_lines(path):
        if not line.strip():
            if current:
                sentences.append(current)
                current = []
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[-1].strip():
            raise DataFormatError(
                f"{path}:{number}: expected token<TAB>tag, got {line!r}; every token needs "
                "exactly one tag (a blank line separates sentences)."
            )
        current.append((number, fields[0].strip(), fields[-1].strip()))
    if current:
        sentences.append(current)
    if not sentences:
        raise DataFormatError(f"{path}: no sentences.")
    names = _label_names(
        path, [(n, tag) for s in sentences for n, _, tag in s], tag_names, "tag"
    )
    return TaggingData(
        tokens=[[token for _, token, _ in s] for s in sentences],
        tags=[[tag for _, _, tag in s] for s in sentences],
        tag_names=names,
    )


def check_tagging_data(tokens, tags, tag_names=None, source="data"):
    """Validates in-memory tagging data: one tag per token, known tags."""
    for index, (words, labels) in enumerate(zip(tokens, tags, strict=True)):
        if len(words) != len(labels):
            raise DataFormatError(
                f"{source}: sentence {index} has {len(words)} tokens but {len(labels)} tags."
            )
        if tag_names is not None:
            unknown = sorted(set(labels) - set(tag_names))
            if unknown:
                raise DataFormatError(
                    f"{source}: sentence {index} has unknown tag(s) {unknown}; known: {tag_names}."
                )


def tagging_dataset(tokens, tags, tag_names, windows, batch_size=32, shuffle_seed=None):
    """`tf.data` of raw `(words, tag ids)` ragged batches, one element per window.

    `windows(tokens)` cuts the sentences to a model's length, as
    `ElectraTaggerPreprocessor.windows` does: `(words, sentence index, first
    word)` per window; each window gets its words' tags. Shuffled when a
    seed is given. Map it through the preprocessor to get the model's
    `(x, token tags, sample weights)`.
    """
    check_tagging_data(tokens, tags, tag_names)
    ids = {name: i for i, name in enumerate(tag_names)}
    words, tag_ids = [], []
    for window, index, start in windows(tokens):
        words.append(list(window))
        tag_ids.append([ids[t] for t in tags[index][start:start + len(window)]])
    ds = tf.data.Dataset.from_tensor_slices(
        (tf.ragged.constant(words, dtype=tf.string), tf.ragged.constant(tag_ids, dtype=tf.int32))
    )
    return _shuffled(ds, len(words), shuffle_seed).ragged_batch(batch_size)


def _shuffled(ds, size, seed):
    if seed is None:
        return ds
    return ds.shuffle(size, seed=seed, reshuffle_each_iteration=True)


def _numbered_lines(path):
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist.")
    with open(path, encoding="utf-8") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\n").rstrip("\r")
        except UnicodeDecodeError as error:
            raise DataFormatError(f"{path}: not UTF-8 text ({error}).") from None


def _label_names(path, numbered_labels, known, what):
    if known is None:
        return sorted({label for _, label in numbered_labels})
    known = list(known)
    for number, label in numbered_labels:
        if label not in known:
            raise DataFormatError(
                f"{path}:{number}: unknown {what} {label!r}; the model knows {known}."
            )
    return known
