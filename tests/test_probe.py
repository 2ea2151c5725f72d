import keras
import numpy as np
import pytest

from electra_tf import ElectraConfig, tokenization
from electra_tf.config import FinetuneConfig
from electra_tf.data import corpora, tasks
from electra_tf.models import encoders
from electra_tf.models.metrics import entity_scores
from electra_tf.training import probe
from electra_tf.training.finetune import FinetuneSpec

VOCAB = list(tokenization.SPECIAL_TOKENS) + list("好差张三北京的了在是和有去看说")
TAGS = ["O", "B-PER", "I-PER"]


def _separable(seed, size=400, width=16):
    """Gaussian features whose projection on one direction is the label's sign."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(2, size=size)
    direction = rng.normal(size=width)
    features = rng.normal(size=(size, width)) + np.outer(2 * labels - 1, direction)
    return features, labels


def test_probe_separates_a_separable_set_and_not_shuffled_labels():
    features, labels = _separable(0)
    train, dev, test = slice(0, 200), slice(200, 300), slice(300, 400)

    def fitted(y):
        model, c, dev_score = probe.select_probe(
            features[train], y[train], lambda p: p.score(features[dev], y[dev]))
        # The dev score reported is the chosen probe's own.
        assert c in probe.C_GRID and dev_score == model.score(features[dev], y[dev])
        return model.score(features[test], y[test])

    assert fitted(labels) > 0.95
    shuffled = np.random.default_rng(1).permutation(labels)
    assert fitted(shuffled) < 0.65


def _tiny_encoder(sequence_length=16):
    keras.utils.set_random_seed(0)
    return probe.FrozenEncoder(*encoders.random_encoder(ElectraConfig.from_preset("tiny"), VOCAB),
                               sequence_length=sequence_length)


def test_features_are_deterministic_and_ignore_padding_and_batching():
    encoder = _tiny_encoder()
    texts = ["好的", "差了在是和有去看说的了"]
    first = encoder.sentence_features(texts)
    assert first.shape == (2, 64) and first.dtype == np.float32
    np.testing.assert_array_equal(first, encoder.sentence_features(texts))
    # Alone, the short text is padded less; its features stay.
    np.testing.assert_allclose(encoder.sentence_features(texts[:1])[0], first[0], atol=1e-5)
    assert not np.allclose(encoder.sentence_features(texts, pooling="cls"), first)
    with pytest.raises(ValueError, match="pooling must be one of"):
        encoder.sentence_features(texts, pooling="max")

    sentences = [list("张三在北京"), list("的了张三") * 5]  # the second needs two windows of 14
    tags = [["B-PER", "I-PER", "O", "O", "O"], ["O", "O", "B-PER", "I-PER"] * 5]
    features, labels, lengths = encoder.word_features(sentences, tags, TAGS)
    assert lengths == [5, 20] and features.shape == (25, 64)
    assert labels.tolist() == [TAGS.index(t) for sentence in tags for t in sentence]
    np.testing.assert_array_equal(features, encoder.word_features(sentences, tags, TAGS)[0])
    alone, _, _ = encoder.word_features(sentences[:1], tags[:1], TAGS)
    np.testing.assert_allclose(alone, features[:5], atol=1e-5)


def test_entity_scores_count_as_entity_f1():
    gold = [["B-PER", "I-PER", "O", "B-PER"], ["O", "B-PER"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["B-PER", "I-PER"]]
    # Gold: 3 people; predicted: 2, one of them right.
    assert entity_scores(gold, predicted) == pytest.approx(
        {"entity_precision": 0.5, "entity_recall": 1 / 3, "entity_f1": 0.4})


def test_run_probe_scores_both_tasks_on_the_recipe_subsets(monkeypatch):
    rng = np.random.default_rng(0)
    filler = list("的了在是和有去看说")
    labels = rng.integers(2, size=120).tolist()
    sentiment = tasks.ClassificationData(
        ["".join(rng.choice(filler, 3)) + "差好"[y] + "".join(rng.choice(filler, 2)) for y in labels],
        labels, ["neg", "pos"])
    words = [list(rng.choice(filler, 2)) + list("张三") + list(rng.choice(filler, 2))
             for _ in range(120)]
    ner = tasks.TaggingData(words, [["O", "O", "B-PER", "I-PER", "O", "O"]] * 120, TAGS)
    splits = ("train", "dev", "test")
    monkeypatch.setattr(corpora, "chinese_sentiment", lambda: {s: sentiment for s in splits})
    monkeypatch.setattr(corpora, "peoples_daily_ner", lambda: {s: ner for s in splits})
    recipe = FinetuneConfig(sequence_length=16, max_train_examples=64, max_dev_examples=32,
                            max_test_examples=48)
    results = {}
    for task, dataset in (("classification", "chinese_sentiment"), ("ner", "peoples_daily_ner")):
        spec = FinetuneSpec(task=task, dataset=dataset, model_dir="-", config="tiny",
                            vocab_size=40, recipe=recipe)
        results[task] = probe.run_probe(spec)
        assert results[task]["train_examples"] == 64 and results[task]["seconds"] > 0
        assert set(results[task]) >= {"metric", "C", "dev", "test", "pooling"}
    assert results["classification"]["metric"] == "accuracy"
    assert results["classification"]["test"]["accuracy"] > 0.8
    # Random weights still tell characters apart: 张 is B-PER, 三 I-PER.
    assert results["ner"]["metric"] == "entity_f1" and results["ner"]["test"]["entity_f1"] > 0.9
    with pytest.raises(ValueError, match="classification or ner"):
        probe.run_probe(FinetuneSpec(task="multitask", model_dir="-"))
