"""Linear probes: what a frozen encoder's features give a logistic regression.

Fine-tuning moves every weight, so its score mixes what pre-training put in
the encoder with what fine-tuning found on its own (from random weights it
finds plenty). A probe freezes the encoder and fits only a linear classifier
on its features: a score above random weights' means the encoder knows
something about the task before seeing a label.

* Sentences (`chinese_sentiment`): the mean of the final layer's vectors over
  the real tokens (`[CLS]` and `[SEP]` included, padding not). Not the
  `[CLS]` vector: neither replaced-token detection nor masked LM asks `[CLS]`
  to summarise anything (there is no next-sentence task), so it is one
  token's view of the sentence, where the mean reads every token's.
  `pooling="cls"` gives the `[CLS]` vector, for comparison.
* Words (`peoples_daily_ner`): the final-layer vector of each word's first
  WordPiece, the one `ElectraTagger` tags, long sentences cut into the
  tagger's windows; each character is classified on its own and entities are
  read from the predicted tags by `entities_from_tags`, counted as `EntityF1`
  counts them.

The classifier is scikit-learn's `LogisticRegression` on standardised
features; its inverse regularisation `C` is chosen on dev from `C_GRID`, the
probe's counterpart of fine-tuning's early stopping. `run_probe` takes the
`FinetuneSpec` a fine-tuning run takes (encoder, data, seed, and the recipe's
`sequence_length` and train / dev / test subsets), so a probe and a
fine-tuning run of one spec see the same examples.

Example:
```python
from electra_tf.config import FinetuneConfig
from electra_tf.training.finetune import FinetuneSpec
from electra_tf.training.probe import C_GRID, run_probe

recipe = FinetuneConfig(sequence_length=32, max_train_examples=64, max_dev_examples=32,
                        max_test_examples=64)
result = run_probe(FinetuneSpec(task="classification", dataset="chinese_sentiment",
                                model_dir="-",  # a probe writes nothing
                                config="tiny", vocab_size=300, recipe=recipe))
result["train_examples"], result["test"]  # -> (64, {'accuracy': ...})
result["C"] in C_GRID  # the one that scored best on dev  # -> True
```
"""

import functools
import logging
import time

import keras
import numpy as np
import tensorflow as tf

from electra_tf.models import encoders
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor
from electra_tf.models.metrics import entity_scores
from electra_tf.models.tagging.preprocessor import ElectraTaggerPreprocessor
from electra_tf.training import finetune

POOLINGS = ("mean", "cls")
C_GRID = (0.01, 0.1, 1.0)
MAX_ITER = 500
BATCH_SIZE = 64

log = logging.getLogger(__name__)


class FrozenEncoder:
    """Features of a frozen `backbone` (see the module docstring), traced once per encoder.

    Example:
    ```python
    from electra_tf import ElectraConfig, tokenization
    from electra_tf.models import encoders

    vocab = tokenization.build_vocabulary(["今天天气很好"], 30)
    encoder = FrozenEncoder(*encoders.random_encoder(ElectraConfig.from_preset("tiny"), vocab),
                            sequence_length=16)
    encoder.sentence_features(["今天很好", "天气"]).shape  # -> (2, 64)
    features, tag_ids, lengths = encoder.word_features(
        [list("今天"), list("天气很好")], [["O", "O"], ["O", "O", "O", "O"]], ["O"])
    features.shape, lengths  # -> ((6, 64), [2, 4])
    ```
    """

    def __init__(self, backbone, tokenizer, sequence_length=128):
        self.backbone = backbone
        self.sentences = ElectraTextClassifierPreprocessor(tokenizer,
                                                           sequence_length=sequence_length)
        self.words = ElectraTaggerPreprocessor(tokenizer, sequence_length=sequence_length)
        # One trace each, whatever the batch: tracing costs seconds, a batch milliseconds.
        texts = tf.TensorSpec([None], tf.string)
        self._pooled = {pooling: tf.function(functools.partial(self._pool, pooling=pooling),
                                             input_signature=[texts])
                        for pooling in POOLINGS}
        self._first_pieces = tf.function(self._first_piece_vectors, input_signature=[
            tf.RaggedTensorSpec([None, None], tf.string),
            tf.RaggedTensorSpec([None, None], tf.int32)])

    def _sequence(self, x):
        return tf.cast(self.backbone(x, training=False)["sequence_output"], tf.float32)

    def _pool(self, texts, pooling):
        x = self.sentences(texts)
        sequence = self._sequence(x)
        if pooling == "cls":
            return sequence[:, 0]
        mask = tf.cast(x["padding_mask"], tf.float32)[..., None]
        return tf.reduce_sum(sequence * mask, axis=1) / tf.reduce_sum(mask, axis=1)

    def _first_piece_vectors(self, words, tag_ids):
        x, token_tags, weights = self.words(words, tag_ids)
        keep = weights > 0
        return tf.boolean_mask(self._sequence(x), keep), tf.boolean_mask(token_tags, keep)

    def sentence_features(self, texts, pooling="mean"):
        """`[len(texts), hidden]` float32: the mean over real tokens, or the `[CLS]` vector."""
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
        batches = tf.data.Dataset.from_tensor_slices(list(texts)).batch(BATCH_SIZE)
        return np.concatenate([self._pooled[pooling](batch).numpy() for batch in batches])

    def word_features(self, sentences, tags, tag_names):
        """`(features [words, hidden], tag ids [words], words per sentence)`: one row per
        word of every sentence, in order, the vector of the word's first WordPiece."""
        features, labels = [], []
        for words, tag_ids in self.words.tagging_dataset(sentences, tags, tag_names,
                                                         batch_size=BATCH_SIZE):
            vectors, ids = self._first_pieces(words, tag_ids)
            features.append(vectors.numpy())
            labels.append(ids.numpy())
        lengths = [len(s) for s in sentences]
        features, labels = np.concatenate(features), np.concatenate(labels)
        if len(labels) != sum(lengths):
            raise ValueError(f"{sum(lengths)} words in, {len(labels)} word vectors out: a word "
                             "lost its first piece to truncation.")
        return features, labels, lengths


def logistic_probe(c, seed=0):
    """Standardisation, then `LogisticRegression(C=c)`: a scikit-learn pipeline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(),
                         LogisticRegression(C=c, max_iter=MAX_ITER, random_state=seed))


def select_probe(features, labels, dev_score, grid=C_GRID, seed=0):
    """`(probe, C, dev score)`: a probe fitted per `C` in `grid`, the best by `dev_score(probe)`.

    The first `C` wins a tie, so the strongest regularisation among equals.

    Example:
    ```python
    import numpy as np

    features = np.random.default_rng(0).normal(size=(200, 5))
    labels = (features[:, 0] > 0).astype(int)
    probe, c, score = select_probe(features[:100], labels[:100],
                                   lambda p: p.score(features[100:], labels[100:]))
    score  # -> 0.98
    ```
    """
    best = None
    for c in grid:
        probe = logistic_probe(c, seed).fit(features, labels)
        score = float(dev_score(probe))
        if best is None or score > best[2]:
            best = (probe, c, score)
    return best


def _encoder(spec, splits):
    """The frozen `(backbone, tokenizer)` of `spec`: `init_from`, else random weights."""
    if spec.init_from:
        return encoders.pretrained_encoder(spec.init_from)
    config, vocabulary = finetune._random_encoder_recipe(spec, [splits["train"]])
    return encoders.random_encoder(config, vocabulary)


def run_probe(spec, pooling="mean") -> dict:
    """Probes the encoder of `spec` (a `FinetuneSpec`) on its task; nothing is written.

    Returns `{"task", "metric", "pooling", "C", "dev", "test", "train_examples",
    "seconds"}`; `dev` and `test` hold `{metric: score}` (`accuracy`, or
    `entity_precision` / `entity_recall` / `entity_f1`).
    """
    if spec.task not in ("classification", "ner"):
        raise ValueError(f"a probe takes task classification or ner, got {spec.task!r}.")
    start = time.perf_counter()
    keras.utils.set_random_seed(spec.seed)  # random weights: the seed's, as in run_finetuning
    splits = finetune.load_splits(spec)
    encoder = FrozenEncoder(*_encoder(spec, splits), sequence_length=spec.recipe.sequence_length)
    if spec.task == "classification":
        result = _probe_sentences(encoder, splits, pooling, spec.seed)
    else:
        result = _probe_words(encoder, splits, spec.seed)
    result.update(task=spec.task, train_examples=_size(splits["train"]),
                  seconds=time.perf_counter() - start)
    log.info("probe %s: dev %s %.4f (C=%g), test %.4f", spec.task, result["metric"],
             result["dev"][result["metric"]], result["C"], result["test"][result["metric"]])
    return result


def _size(data):
    return len(data.labels) if hasattr(data, "labels") else len(data.tokens)


def _probe_sentences(encoder, splits, pooling, seed):
    features = {split: encoder.sentence_features(data.texts, pooling)
                for split, data in splits.items()}
    labels = {split: np.asarray(data.labels) for split, data in splits.items()}
    probe, c, _ = select_probe(features["train"], labels["train"],
                               lambda p: p.score(features["dev"], labels["dev"]), seed=seed)
    return {"metric": "accuracy", "pooling": pooling, "C": c,
            **{split: {"accuracy": float(probe.score(features[split], labels[split]))}
               for split in ("dev", "test") if split in splits}}


def _probe_words(encoder, splits, seed):
    tag_names = splits["train"].tag_names
    words = {split: encoder.word_features(data.tokens, data.tags, tag_names)
             for split, data in splits.items()}

    def scores(probe, split):
        features, _, lengths = words[split]
        predicted = iter(probe.predict(features))
        tags = [[tag_names[next(predicted)] for _ in range(n)] for n in lengths]
        return entity_scores(splits[split].tags, tags)

    features, labels, _ = words["train"]
    probe, c, _ = select_probe(features, labels, lambda p: scores(p, "dev")["entity_f1"],
                               seed=seed)
    return {"metric": "entity_f1", "pooling": "first piece", "C": c,
            **{split: scores(probe, split) for split in ("dev", "test") if split in splits}}
