import numpy as np
import pytest
import tensorflow as tf

from electra_tf.data.masking import DynamicMasking

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
VOCAB = 50


def batch(num_sequences=64, length=40, seed=0):
    """[CLS] words [SEP] words [SEP] then padding, with varying real lengths."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((num_sequences, length), "int32")
    for row in range(num_sequences):
        real = rng.integers(8, length + 1)
        ids[row, :real] = rng.integers(5, VOCAB, real)
        ids[row, 0], ids[row, real // 2], ids[row, real - 1] = CLS, SEP, SEP
    return ids, (ids != PAD).astype("int32")


def make(**kwargs):
    args = dict(mask_token_id=MASK, special_token_ids=[PAD, UNK, CLS, SEP, MASK],
                vocab_size=VOCAB, max_predictions=7, seed=1)
    args.update(kwargs)
    return DynamicMasking(**args)


def draws(masking, ids, padding, times):
    step = tf.function(lambda: masking({"token_ids": ids, "padding_mask": padding}))
    return [{k: v.numpy() for k, v in step().items()} for _ in range(times)]


def test_count_per_sequence_follows_the_original_formula():
    ids, padding = batch()
    [out] = draws(make(), ids, padding, 1)
    real = padding.sum(1)
    expected = np.clip(np.round(real * 0.15), 1, 7)
    np.testing.assert_array_equal(out["mask_weights"].sum(1), expected)
    # Positions are distinct (drawn without replacement).
    for positions, weights in zip(out["mask_positions"], out["mask_weights"]):
        chosen = positions[weights > 0]
        assert len(set(chosen)) == len(chosen)


def test_never_special_tokens_or_padding_and_ids_are_the_originals():
    ids, padding = batch()
    for out in draws(make(), ids, padding, 20):
        for row in range(len(ids)):
            chosen = out["mask_positions"][row][out["mask_weights"][row] > 0]
            assert padding[row, chosen].all()
            assert not np.isin(ids[row, chosen], [PAD, UNK, CLS, SEP, MASK]).any()
            np.testing.assert_array_equal(out["mask_ids"][row][: len(chosen)], ids[row, chosen])
        untouched = np.ones_like(ids, bool)
        for row in range(len(ids)):
            untouched[row, out["mask_positions"][row][out["mask_weights"][row] > 0]] = False
        np.testing.assert_array_equal(out["token_ids"][untouched], ids[untouched])


def test_positions_are_uniform_and_the_mix_is_85_15_0():
    ids, padding = batch(num_sequences=32)
    hits = np.zeros(ids.shape)
    replaced_by_mask = kept = randomised = 0
    for out in draws(make(), ids, padding, 150):
        for row in range(len(ids)):
            chosen = out["mask_positions"][row][out["mask_weights"][row] > 0]
            hits[row, chosen] += 1
            new = out["token_ids"][row, chosen]
            replaced_by_mask += (new == MASK).sum()
            kept += (new == ids[row, chosen]).sum()
            randomised += ((new != MASK) & (new != ids[row, chosen])).sum()
    total = replaced_by_mask + kept + randomised
    assert replaced_by_mask / total == pytest.approx(0.85, abs=0.02)
    assert kept / total == pytest.approx(0.15, abs=0.02)
    assert randomised == 0
    assert_uniform_over_candidates(hits, 150, ids, padding, max_predictions=7)


def assert_uniform_over_candidates(hits, times, ids, padding, max_predictions):
    """Each candidate of a row is picked at the rate the original formula gives it.

    The count per draw, max(1, round(0.15 x real tokens)) capped at
    `max_predictions`, is computed here, not read from the draws; every
    candidate's share of the `times` draws is within 4.5 binomial standard
    deviations of count / candidates.
    """
    for row in range(len(ids)):
        candidates = (padding[row] > 0) & (ids[row] >= 5)
        count = np.clip(np.round(padding[row].sum() * 0.15), 1, max_predictions)
        expected = count / candidates.sum()
        assert not hits[row, ~candidates].any()
        rate = hits[row, candidates] / times
        np.testing.assert_allclose(rate.mean(), expected, err_msg=f"row {row}")
        spread = np.sqrt(expected * (1 - expected) / times)
        assert np.abs(rate - expected).max() < 4.5 * spread, (row, rate, expected)


def test_random_token_rate_is_honoured():
    ids, padding = batch(num_sequences=32)
    masking = make(mask_token_rate=0.5, random_token_rate=0.4)
    counts = np.zeros(3)
    for out in draws(masking, ids, padding, 60):
        for row in range(len(ids)):
            chosen = out["mask_positions"][row][out["mask_weights"][row] > 0]
            new, old = out["token_ids"][row, chosen], ids[row, chosen]
            counts += [(new == MASK).sum(), ((new != MASK) & (new != old)).sum(), (new == old).sum()]
    shares = counts / counts.sum()
    # A random draw equal to the original (1 in ~45) or a special token counts as unchanged.
    assert shares[0] == pytest.approx(0.5, abs=0.03)
    assert shares[1] == pytest.approx(0.4 * 45 / 50, abs=0.04)


def test_a_random_draw_on_a_special_token_leaves_the_slot_unchanged():
    """Five special tokens and two others (5, 6); the text is 5s; every slot draws a random token.

    A draw lands on a special token (5 in 7), on 5 itself (1 in 7) or on 6
    (1 in 7). The rule keeps the original token when the draw is special, so
    chosen slots hold 5 or 6, and 6 in 1/7 of them. Without the rule special
    tokens appear; redrawing until a non-special token would give 6 half the time.
    """
    ids = np.full((64, 40), 5, "int32")
    ids[:, 0], ids[:, -1] = CLS, SEP
    padding = np.ones_like(ids)
    masking = make(vocab_size=7, mask_token_rate=0.0, random_token_rate=1.0)
    sixes = chosen_slots = 0
    for out in draws(masking, ids, padding, 20):
        weights = out["mask_weights"] > 0
        assert (out["mask_ids"][weights] == 5).all()
        new = np.take_along_axis(out["token_ids"], out["mask_positions"], axis=1)[weights]
        assert set(np.unique(new)) <= {5, 6}, np.unique(new)  # never special, never [MASK]
        sixes += (new == 6).sum()
        chosen_slots += new.size
    assert chosen_slots == 20 * 64 * 6  # round(0.15 x 40) each
    assert sixes / chosen_slots == pytest.approx(1 / 7, abs=0.02)


def test_max_predictions_caps_the_count_on_long_sequences():
    """round(0.15 x real tokens) is 9 to 19 here, over the cap of 7: exactly 7, spread uniformly.

    (Without the cap more than 7 positions are chosen and the 7 slots keep
    the first of them, so later tokens would never be masked.)
    """
    rng = np.random.default_rng(1)
    ids = rng.integers(5, VOCAB, (16, 128)).astype("int32")
    padding = np.zeros_like(ids)
    for row in range(len(ids)):
        real = rng.integers(60, 129)
        ids[row, real:] = PAD
        ids[row, 0], ids[row, real - 1] = CLS, SEP
        padding[row, :real] = 1
    assert (np.round(padding.sum(1) * 0.15) > 7).all()
    hits = np.zeros(ids.shape)
    for out in draws(make(max_predictions=7), ids, padding, 100):
        np.testing.assert_array_equal(out["mask_weights"].sum(1), 7)
        for row in range(len(ids)):
            chosen = out["mask_positions"][row]
            assert len(set(chosen)) == 7
            hits[row, chosen] += 1
            changed = np.flatnonzero(out["token_ids"][row] != ids[row])
            assert set(changed) <= set(chosen)
    assert_uniform_over_candidates(hits, 100, ids, padding, max_predictions=7)


def test_new_masks_every_call_and_reproducible_with_a_seed():
    ids, padding = batch(num_sequences=4)
    first, second = draws(make(seed=3), ids, padding, 2)
    assert not np.array_equal(first["mask_positions"], second["mask_positions"])
    again, _ = draws(make(seed=3), ids, padding, 2)
    np.testing.assert_array_equal(first["mask_positions"], again["mask_positions"])


def test_whole_word_masking_takes_every_piece_of_a_word():
    ids, padding = batch(num_sequences=16)
    # Words of three tokens each; special tokens and padding belong to no word.
    word_ids = np.where((ids >= 5), np.arange(ids.shape[1])[None, :] // 3, -1).astype("int32")
    masking = make(max_predictions=12)
    step = tf.function(lambda: masking({"token_ids": ids, "padding_mask": padding, "word_ids": word_ids}))
    for _ in range(10):
        out = {k: v.numpy() for k, v in step().items()}
        for row in range(len(ids)):
            chosen = out["mask_positions"][row][out["mask_weights"][row] > 0]
            words = set(word_ids[row, chosen])
            assert -1 not in words
            for word in words:  # all of the word's tokens were chosen
                assert set(np.flatnonzero(word_ids[row] == word)) <= set(chosen)


def test_compiles_under_xla():
    ids, padding = batch(num_sequences=4)
    masking = make()
    out = tf.function(lambda: masking({"token_ids": ids, "padding_mask": padding}), jit_compile=True)()
    assert out["token_ids"].shape == ids.shape
