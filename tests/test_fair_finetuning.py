"""What makes a comparison of fine-tuning runs fair: every run scores the same dev and test
examples, and picks its epoch count on dev (early stopping keeps the best epoch)."""

import numpy as np
import pytest

from electra_tf.config import FinetuneConfig
from electra_tf.data import corpora, tasks
from electra_tf.training import finetune


def _keyword_sentiment(size, seed=0):
    """Filler characters around one keyword per review: 好 positive, 差 negative."""
    rng = np.random.default_rng(seed)
    filler = list("的了在是和有去看说")
    labels = rng.integers(2, size=size).tolist()
    texts = ["".join(rng.choice(filler, 3)) + "差好"[y] + "".join(rng.choice(filler, 2)) + str(i)
             for i, y in enumerate(labels)]
    return tasks.ClassificationData(texts, labels, ["neg", "pos"])


@pytest.fixture
def sentiment(monkeypatch):
    splits = {split: _keyword_sentiment(60, seed)
              for seed, split in enumerate(("train", "dev", "test"))}
    monkeypatch.setattr(corpora, "chinese_sentiment", lambda: splits)
    return splits


def _spec(tmp_path, seed, recipe):
    return finetune.FinetuneSpec(task="classification", dataset="chinese_sentiment",
                                 model_dir=str(tmp_path / f"run{seed}"), config="tiny",
                                 vocab_size=40, seed=seed, recipe=recipe)


def test_dev_and_test_subsets_are_the_same_for_every_seed(sentiment, tmp_path):
    recipe = FinetuneConfig(max_train_examples=20, max_dev_examples=12, max_test_examples=30)
    runs = [finetune.load_splits(_spec(tmp_path, seed, recipe)) for seed in (0, 1, 0)]
    assert [len(runs[0][s].texts) for s in ("train", "dev", "test")] == [20, 12, 30]
    for split in ("dev", "test"):
        assert runs[0][split] == runs[1][split] == runs[2][split]
        assert set(runs[0][split].texts) <= set(sentiment[split].texts)
    # The training subset follows the seed, reproducibly.
    assert runs[0]["train"] == runs[2]["train"] != runs[1]["train"]
    assert FinetuneConfig().max_dev_examples is None  # by default every example counts


def test_early_stopping_stops_and_keeps_the_best_epoch(sentiment, tmp_path):
    recipe = FinetuneConfig(epochs=15, batch_size=8, sequence_length=12, learning_rate=3e-3,
                            early_stopping_patience=2, early_stopping_start_epoch=1)
    metrics = finetune.run_finetuning(_spec(tmp_path, 0, recipe))
    history, best = metrics["history"], metrics["best_epoch"]
    accuracy = history["val_sparse_categorical_accuracy"]
    # Stopped by patience, well before the 15 epochs: the keyword is learnt in a few.
    assert metrics["epochs_trained"] == len(accuracy) == best + 2 < 15
    # The best epoch is the first with the highest dev accuracy among the watched ones
    # (epoch 1 is not watched), and the saved model is that epoch's: same dev loss.
    assert best >= 2 and accuracy[best - 1] == max(accuracy[1:])
    assert all(score < accuracy[best - 1] for score in accuracy[1:best - 1])
    assert metrics["dev"]["loss"] == pytest.approx(history["val_loss"][best - 1], rel=1e-5)
    assert metrics["dev"]["loss"] != pytest.approx(history["val_loss"][-1], rel=1e-5)
    assert metrics["dev"]["accuracy"] == pytest.approx(accuracy[best - 1])
