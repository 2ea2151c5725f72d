"""Baselines that say what a generation score means: each is what a model must beat.

* `TranslationMemory` — for each source, the target of the most similar
  training source (cosine of character n-gram TF-IDF vectors); `copy_sources`
  — the source itself as its translation. Score both with
  `generation.corpus_scores`, the BLEU / chrF the model gets.
* `NGramLM` — an interpolated Kneser-Ney n-gram language model over
  characters (or any symbols, e.g. a tokenizer's ids): the perplexity a
  seq2seq model's must go below on the same held-out text.
* `DigitSlotClassifier` — a logistic regression on the pixels of each digit
  slot of a composed digit image; `caption_scores` — exact match and
  per-digit accuracy of captions, for it and for a captioner alike.

Example:
```python
from electra_tf.training import baselines

pairs = [("Open File", "打开文件"), ("Save File", "保存文件"), ("Quit", "退出")]
memory = baselines.TranslationMemory(pairs)
memory.translate(["Open Files", "Quit now"])  # -> ['打开文件', '退出']
baselines.copy_sources(["Open Files"])  # -> ['Open Files']

lm = baselines.NGramLM(order=3).fit(["床前明月光", "疑是地上霜"])
lm.perplexity(["明月光"])  # per character, the end of the text included  # -> 4.14
```
"""

import collections
import math

import numpy as np

from electra_tf.data.captioning import DIGIT_NAMES

BEGIN, END, UNKNOWN = "<s>", "</s>", "<unk>"


class TranslationMemory:
    """Translates a source as the target of its nearest training source.

    Nearest = highest cosine similarity of TF-IDF vectors of character
    n-grams (scikit-learn's `TfidfVectorizer(analyzer, ngram_range)`), the
    classic fuzzy match of translation-memory tools. Ties go to the earlier
    training pair; a source sharing no n-gram with any training source gets
    the first training target.

    ```python
    memory = TranslationMemory([("Open File", "打开文件"), ("Quit", "退出")])
    memory.nearest(["Open a file"])  # -> [0]
    memory.translate(["Open a file"])  # -> ['打开文件']
    ```
    """

    def __init__(self, pairs, analyzer="char_wb", ngram_range=(1, 3), lowercase=True):
        from sklearn.feature_extraction.text import TfidfVectorizer  # electra_tf[generation]

        if not pairs:
            raise ValueError("a translation memory needs at least one training pair.")
        self.sources = [source for source, _ in pairs]
        self.targets = [target for _, target in pairs]
        self.vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range,
                                          lowercase=lowercase)
        self.matrix = self.vectorizer.fit_transform(self.sources)  # rows have unit L2 norm

    def nearest(self, sources, batch_size=256):
        """The index of the most similar training source for each of `sources`."""
        queries = self.vectorizer.transform(list(sources))
        indices = []
        # In batches: with character unigrams nearly every pair shares an
        # n-gram, so the similarity matrix is dense (test × train floats).
        for start in range(0, queries.shape[0], batch_size):
            similarity = (queries[start:start + batch_size] @ self.matrix.T).toarray()
            indices.append(similarity.argmax(axis=1))
        return np.concatenate(indices) if indices else np.zeros(0, dtype=int)

    def translate(self, sources):
        """The target of the nearest training source, for each of `sources`."""
        return [self.targets[i] for i in self.nearest(sources)]


def copy_sources(sources):
    """The copy baseline: every source is its own translation.

    Untranslatable parts of UI messages (`%s`, option names, URLs) survive
    translation, so copying scores above zero even across scripts.
    """
    return list(sources)


class NGramLM:
    """Interpolated Kneser-Ney n-gram language model over characters or any symbols.

    `fit(texts)` counts `order`-grams of each text (a string is read
    character by character; a list of tokens or ids works the same), padded
    with `order - 1` begin symbols and closed by an end symbol. Lower orders
    use continuation counts (in how many contexts a symbol follows), the
    discount of each order is Ney's estimate n1 / (n1 + 2 n2), and the last
    level interpolates with the uniform distribution over the vocabulary
    (every training symbol, the end symbol and an unknown symbol), so every
    `distribution(history)` sums to 1 and unseen symbols cost a finite amount.

    `contexts`, when given, are read before each text but not scored: a
    poem's first line before the rest, as a seq2seq model reads its source.

    ```python
    lm = NGramLM(order=3).fit(["abcabc", "abd"])
    sum(lm.distribution("ab").values())  # up to rounding  # -> 1.000
    lm.probability("c", "ab") > lm.probability("a", "ab")  # -> True
    lm.perplexity(["abc"]), lm.perplexity(["cba"])  # the first is lower  # -> (1.49, 12.0)
    ```
    """

    def __init__(self, order=3):
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}.")
        self.order = order

    def fit(self, texts, contexts=None):
        """Counts the n-grams of `texts` (after their `contexts`, which are also counted)."""
        contexts = contexts if contexts is not None else [()] * len(texts)
        # counts[k][history][symbol] for histories of k symbols: raw counts at
        # the highest order, continuation counts below it.
        counts = [collections.defaultdict(collections.Counter) for _ in range(self.order)]
        symbols = set()
        for context, text in zip(contexts, texts):
            sequence = [BEGIN] * (self.order - 1) + list(context) + list(text) + [END]
            symbols.update(sequence[self.order - 1:])
            for i in range(self.order - 1, len(sequence)):
                counts[-1][tuple(sequence[i - self.order + 1:i])][sequence[i]] += 1
        for k in range(self.order - 2, -1, -1):
            for history, followers in counts[k + 1].items():
                for symbol in followers:  # each distinct (longer history, symbol) once
                    counts[k][history[1:]][symbol] += 1
        self.vocabulary = sorted(symbols - {END}, key=str) + [END, UNKNOWN]
        self._known = set(self.vocabulary)
        self._counts = [dict(level) for level in counts]
        self._totals = [{h: sum(c.values()) for h, c in level.items()} for level in counts]
        self._discounts = [_discount(level) for level in counts]
        return self

    def _symbol(self, symbol):
        return symbol if symbol in self._known or symbol == BEGIN else UNKNOWN

    def probability(self, symbol, history=()):
        """P(symbol | the last `order - 1` symbols of `history`); unknown symbols are one."""
        symbol = self._symbol(symbol)
        history = [BEGIN] * (self.order - 1) + [self._symbol(s) for s in history]
        history = tuple(history[len(history) - self.order + 1:]) if self.order > 1 else ()
        probability = 1.0 / len(self.vocabulary)
        for k in range(len(history) + 1):  # from the empty history up
            context = history[len(history) - k:]
            total = self._totals[k].get(context)
            if not total:
                continue  # an unseen history: the shorter one's estimate stands
            followers = self._counts[k][context]
            discount = self._discounts[k]
            probability = (max(followers.get(symbol, 0) - discount, 0) / total
                           + discount * len(followers) / total * probability)
        return probability

    def distribution(self, history=()):
        """`{symbol: P(symbol | history)}` over the whole vocabulary."""
        return {symbol: self.probability(symbol, history) for symbol in self.vocabulary}

    def log_likelihood(self, text, context=()):
        """(natural-log probability of `text` and its end after `context`, symbols scored)."""
        history = [self._symbol(s) for s in context]
        total = 0.0
        for symbol in [*text, END]:
            total += math.log(self.probability(symbol, history[-(self.order - 1):]
                                               if self.order > 1 else ()))
            history.append(self._symbol(symbol))
        return total, len(text) + 1

    def perplexity(self, texts, contexts=None):
        """exp(mean negative log-likelihood per symbol), each text's end included."""
        contexts = contexts if contexts is not None else [()] * len(texts)
        log_likelihood, count = 0.0, 0
        for context, text in zip(contexts, texts):
            value, n = self.log_likelihood(text, context)
            log_likelihood += value
            count += n
        return math.exp(-log_likelihood / count)


def _discount(level):
    """Ney's absolute discount n1 / (n1 + 2 n2) from one order's counts of counts."""
    counts_of_counts = collections.Counter(c for followers in level.values()
                                           for c in followers.values())
    n1, n2 = counts_of_counts[1], counts_of_counts[2]
    return n1 / (n1 + 2 * n2) if n1 and n2 else 0.75


def caption_digits(caption, language):
    """The digit names of a caption, left to right ("three five" / "三五")."""
    return caption.split() if language == "en" else list(caption.replace(" ", ""))


def caption_scores(outputs, references, language):
    """Exact match and per-digit accuracy of captions against their references.

    A digit is right when the output names it at the same position; missing
    or extra names count against the output.

    ```python
    caption_scores(["three five", "one one"], ["three five", "one two"], "en")
    # -> {'exact_match': 0.5, 'digit_accuracy': 0.75}
    ```
    """
    exact, right, total = 0, 0, 0
    for output, reference in zip(outputs, references):
        said, expected = caption_digits(output, language), caption_digits(reference, language)
        exact += said == expected
        right += sum(a == b for a, b in zip(said, expected))
        total += max(len(said), len(expected))
    return {"exact_match": exact / len(references), "digit_accuracy": right / total}


class DigitSlotClassifier:
    """Reads a composed digit image slot by slot: one logistic regression on the pixels.

    `digit_captions` puts `digits_per_image` scans side by side; this cuts an
    image into that many equal-width slots, classifies each slot's pixels
    with one scikit-learn `LogisticRegression` (trained on every slot of the
    training images) and names the digits as the captions do. It is told
    where the digits are, which a captioner has to learn.

    ```python
    from electra_tf.data.captioning import digit_captions

    images, captions = digit_captions(200, language="zh")
    reader = DigitSlotClassifier(digits_per_image=2, language="zh").fit(images, captions)
    test_images, test_captions = digit_captions(20, language="zh", split="test", seed=1)
    caption_scores(reader.predict(test_images), test_captions, "zh")
    # -> {'exact_match': 0.9, 'digit_accuracy': 0.95}
    ```
    """

    def __init__(self, digits_per_image=2, language="en", C=1.0, max_iter=2000):
        self.digits_per_image = digits_per_image
        self.language = language
        self.C = C
        self.max_iter = max_iter

    def slots(self, images):
        """`[images × digits, pixels]`: each image's slots, left to right, flattened."""
        images = np.asarray(images)
        parts = np.split(images, self.digits_per_image, axis=2)
        return np.stack(parts, axis=1).reshape(len(images) * self.digits_per_image, -1)

    def fit(self, images, captions):
        from sklearn.linear_model import LogisticRegression  # electra_tf[generation]

        names = DIGIT_NAMES[self.language]
        labels = [names.index(name) for caption in captions
                  for name in caption_digits(caption, self.language)]
        self.model = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model.fit(self.slots(images), labels)
        return self

    def predict(self, images):
        """Captions naming the predicted digit of every slot."""
        names = DIGIT_NAMES[self.language]
        digits = self.model.predict(self.slots(images)).reshape(-1, self.digits_per_image)
        separator = " " if self.language == "en" else ""
        return [separator.join(names[d] for d in row) for row in digits]
