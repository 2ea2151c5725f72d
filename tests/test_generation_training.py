"""`training.generation`'s training input: length buckets, batches cut to their longest pair,
the learning-rate schedule, case-insensitive scores for uncased vocabularies."""

import bisect

import keras
import numpy as np
import pytest

from electra_tf.training import generation

PAIRS = [("open file", "打开文件"), ("save the file as", "另存为文件"), ("close", "关闭"),
         ("open a new window in this workspace", "在此工作区中打开新窗口"), ("quit", "退出")]


def small_lm(pairs=PAIRS, sequence_length=32):
    keras.utils.set_random_seed(0)
    return generation.build_lm(pairs, separate_vocabularies=True, hidden_size=32, num_layers=1,
                               dropout=0.0, sequence_length=sequence_length, vocab_size=100)


def test_a_batch_cut_to_its_longest_pair_has_the_padded_batchs_loss():
    lm = small_lm()
    lm.compile(label_smoothing=0.0)
    batch = {"encoder_text": [s for s, _ in PAIRS], "decoder_text": [t for _, t in PAIRS]}
    x, y, weights = lm.preprocessor(batch)
    cut_x, cut_y, cut_weights = keras.utils.unpack_x_y_sample_weight(lm.preprocess_samples(batch))
    # The longest source is 7 words, the longest target 11 characters: the encoder reads
    # [CLS] source [SEP], the decoder [CLS] target [SEP] (its mask covers the [SEP]).
    assert cut_x["encoder_token_ids"].shape == (5, 9)
    assert cut_x["decoder_token_ids"].shape == cut_y.shape == cut_weights.shape == (5, 13)
    assert x["encoder_token_ids"].shape == (5, 32)
    padded = float(lm.compute_loss(x, y, lm(x), weights))
    cut = float(lm.compute_loss(cut_x, cut_y, lm(cut_x), cut_weights))
    np.testing.assert_allclose(cut, padded, rtol=1e-5)
    # ... and it is the mean over real target tokens, whatever the padding.
    np.testing.assert_allclose(cut, np.log(generation.perplexity(lm, PAIRS, batch_size=5)),
                               rtol=1e-5)


def test_length_buckets_hold_every_pair_once_each_batch_of_about_one_length():
    pairs = [("x" * n, "y" * (n % 7 + 1)) for n in range(1, 300)]
    batches = list(generation.pairs_dataset(pairs, 8, shuffle_seed=0, length_buckets=True))
    sources = [s.decode() for batch in batches for s in batch["encoder_text"].numpy()]
    assert sorted(sources) == sorted(s for s, _ in pairs)
    for batch in batches:
        lengths = [len(s) + len(t.decode("utf-8")) for s, t in zip(
            batch["encoder_text"].numpy(), batch["decoder_text"].numpy())]
        assert len({bisect.bisect_right(generation.LENGTH_BUCKETS, n) for n in lengths}) == 1
    # Shuffled: the first batches are not the shortest pairs in order.
    assert sources[:8] != [s for s, _ in pairs[:8]]


def test_the_linear_schedule_brings_the_rate_to_zero_at_the_last_step():
    lm = small_lm()
    pairs = PAIRS * 7  # 35 pairs, batches of 8: 5 steps an epoch
    generation.train(lm, pairs, epochs=2, batch_size=8, learning_rate=1e-2, schedule="linear",
                     warmup_fraction=0.2, run_eagerly=True)
    assert int(lm.optimizer.iterations) == 10
    assert float(lm.optimizer.learning_rate) == 0.0
    # ELECTRA's shape: the warmup ramp times the linear decay, 2 warmup steps of 10.
    schedule = lm.optimizer._learning_rate
    np.testing.assert_allclose([float(schedule(step)) for step in (1, 2, 6)],
                               [1e-2 * 0.5 * 0.9, 1e-2 * 0.8, 1e-2 * 0.4], rtol=1e-6)
    with pytest.raises(ValueError, match="unknown schedule 'cosine'"):
        generation.train(lm, pairs, schedule="cosine")


def test_scores_are_case_insensitive_when_the_target_vocabulary_is_uncased(monkeypatch):
    pairs = [("打开文件", "Open File"), ("另存为", "Save As")]
    lm = small_lm(pairs)
    monkeypatch.setattr(generation, "generate",
                        lambda lm, sources, *args: ["open file", "save as"])
    assert generation.score(lm, pairs)["chrf"] == 100.0
    assert generation.score(lm, pairs, lowercase=False)["chrf"] < 50
