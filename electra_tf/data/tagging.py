"""Tagging's rules in plain Python: words of a text, windows, BIO / BIOES entities.

`ElectraTagger` reads text and tags by these rules: `split_words` cuts raw
text into words with character offsets, `cut_windows` cuts word lists into
windows that fit the encoder (`word_windows`: no word is left untagged),
and `entities_from_tags` / `entity_spans` read entities from word tags.
`electra_tf.export.tagging` runs the same rules in graph ops, tested equal.

Example:
```python
from electra_tf.data import tagging

text = "John lives in 北京"
words, offsets = tagging.split_words(text)
words  # -> ['John', 'lives', 'in', '北', '京']
tagging.entity_spans(text, offsets, ["B-PER", "O", "O", "B-LOC", "I-LOC"])
# -> [{'type': 'PER', 'start': 0, 'end': 4, 'text': 'John'},
#     {'type': 'LOC', 'start': 14, 'end': 16, 'text': '北京'}]
tagging.cut_windows([words], counts=[2, 1, 1, 1, 1], budget=3)
# -> [(['John', 'lives'], 0, 0), (['in', '北', '京'], 0, 2)]
```
"""

import re

from electra_tf import tokenization

_CJK = tokenization.cjk_ranges()
# Words as BERT's basic tokenizer sees them: one CJK character, one
# punctuation mark, or a run of other word characters.
_WORD = re.compile(rf"[{_CJK}]|[^\w\s]|[^\W{_CJK}]+")


def split_words(text):
    """`(words, offsets)`: the words of `text` and their `(start, end)` character offsets."""
    matches = list(_WORD.finditer(text))
    return [m.group() for m in matches], [m.span() for m in matches]


def word_windows(counts, budget):
    """Per word of `counts` WordPiece pieces: `(window, slot)`, its window and the
    position of its first piece after `[CLS]`.

    Greedy: a word that does not fit the current window's `budget` pieces
    starts the next window; a word of more than `budget` pieces fills one
    alone and keeps its first pieces. `electra_tf.export.tagging.
    assign_windows` is the same rule in graph ops (tested equal).
    """
    placed, window, used = [], 0, 0
    for count in counts:
        count = min(count, budget)
        if used + count > budget:
            window, used = window + 1, 0
        placed.append((window, used + 1))
        used += count
    return placed


def cut_windows(sentences, counts, budget):
    """Cuts word lists by `word_windows`: `(words, sentence index, first word)` per window.

    `counts` are the WordPiece counts of all the words, sentence after
    sentence; an empty sentence gives one empty window.
    """
    counts = iter(counts)
    windows = []
    for index, words in enumerate(sentences):
        placed = word_windows([next(counts) for _ in words], budget)
        starts = [i for i, (window, _) in enumerate(placed)
                  if i == 0 or window != placed[i - 1][0]] or [0]
        for start, end in zip(starts, starts[1:] + [len(words)]):
            windows.append((words[start:end], index, start))
    return windows


def entity_spans(text, offsets, tags):
    """Entities of word `tags` as `{type, start, end, text}` character spans of `text`."""
    spans = []
    for type_, first, last in entities_from_tags(tags):
        start, end = offsets[first][0], offsets[last][1]
        spans.append({"type": type_, "start": start, "end": end, "text": text[start:end]})
    return spans


def entities_from_tags(tags):
    """`(type, first, last)` word spans of a BIO / BIOES sequence (inclusive ends).

    The same lenient reading as seqeval's default mode (and conlleval): an
    `I-` after `O` or after another type starts an entity, `E-` / `S-` end one.
    """
    entities, previous, previous_type, begin = [], "O", "", 0
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, type_ = tag[0], tag[1:].split("-", maxsplit=1)[-1] or "_"
        if _ends(previous, prefix, previous_type, type_):
            entities.append((previous_type, begin, i - 1))
        if _starts(previous, prefix, previous_type, type_):
            begin = i
        previous, previous_type = prefix, type_
    return entities


def _ends(previous, tag, previous_type, type_):
    return (
        previous in "ES"
        or (previous in "BI" and tag in "BSO")
        or (previous not in "O." and previous_type != type_)
    )


def _starts(previous, tag, previous_type, type_):
    return (
        tag in "BS"
        or (previous in "ESO" and tag in "EI")
        or (tag not in "O." and previous_type != type_)
    )
