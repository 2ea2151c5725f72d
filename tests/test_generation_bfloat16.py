"""Generation under `mixed_bfloat16`: the seq2seq LM and the captioner load (or are built) to
compute in bfloat16 with float32 variables and float32 logits, decode greedily and with beam
search, and choose the float32 model's tokens: the same text for a trained model, the same
top-1 wherever the float32 margin is larger than bfloat16's error for random weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.models.captioning.backbone import ImageCaptionBackbone
from electra_tf.models.captioning.captioner import ImageCaptioner
from electra_tf.models.captioning.preprocessor import ImageCaptionPreprocessor
from electra_tf.models.samplers import LengthPenaltyBeamSampler
from electra_tf.models.seq2seq.backbone import ElectraSeq2SeqBackbone, make_encoder
from electra_tf.training import generation

PAIRS = [("床前明月光", "疑是地上霜"), ("举头望明月", "低头思故乡"), ("白日依山尽", "黄河入海流"),
         ("欲穷千里目", "更上一层楼")]
# bfloat16 keeps 8 significant bits (relative error up to 2**-9 per rounding); through these
# tiny models the logits, of magnitude < 1 with random weights, move by < 0.002 (measured).
# The bound is 5x that; where the float32 top-1 leads by more than twice the bound no
# rounding within it can change the top-1, so bfloat16 must choose the same token there.
LOGIT_TOLERANCE = 0.01


def assert_bfloat16_compute(lm, encoder_layers=None):
    """bfloat16 compute in the encoder (or `encoder_layers`) and the decoder, every variable
    float32."""
    assert lm.dtype_policy.name == "mixed_bfloat16"
    for layer in (*(encoder_layers or [lm.backbone.encoder]), lm.backbone.decoder):
        assert layer.compute_dtype == "bfloat16", layer.name
    assert {variable.dtype for variable in lm.weights} == {"float32"}


def assert_same_top1_where_margins_are_large(float32_logits, bfloat16_logits):
    """Logits within `LOGIT_TOLERANCE`, and the same top-1 wherever the float32 one leads by
    more than twice that (most positions: else the check would say little)."""
    float32_logits, bfloat16_logits = np.asarray(float32_logits), np.asarray(bfloat16_logits)
    assert bfloat16_logits.dtype == np.float32
    np.testing.assert_allclose(bfloat16_logits, float32_logits, atol=LOGIT_TOLERANCE)
    top2 = np.sort(float32_logits, axis=-1)[..., -2:]
    decided = top2[..., 1] - top2[..., 0] > 2 * LOGIT_TOLERANCE
    assert decided.mean() > 0.7, decided.mean()
    np.testing.assert_array_equal(bfloat16_logits.argmax(-1)[decided],
                                  float32_logits.argmax(-1)[decided])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny seq2seq LM that has learnt `PAIRS` by heart (large margins), saved in float32."""
    keras.utils.set_random_seed(0)
    lm = generation.build_lm(PAIRS, hidden_size=32, num_layers=1, sequence_length=12,
                             vocab_size=60, dropout=0.0)
    # One long epoch: each epoch costs seconds of set-up here, its steps milliseconds.
    generation.train(lm, PAIRS * 200, epochs=1, batch_size=16, learning_rate=3e-3)
    folder = tmp_path_factory.mktemp("poems")
    generation.save(lm, folder)
    return folder


def test_a_trained_lm_generates_the_same_text_in_bfloat16_greedy_and_beam(trained, tmp_path):
    sources = [source for source, _ in PAIRS]
    float32 = generation.load(trained)
    as_bfloat16 = generation.load(trained, dtype_policy="mixed_bfloat16")
    assert_bfloat16_compute(as_bfloat16)
    expected = float32.generate(sources, max_length=8)
    assert expected == [target for _, target in PAIRS]
    assert as_bfloat16.generate(sources, max_length=8) == expected
    for lm in (float32, as_bfloat16):
        lm.compile(sampler=LengthPenaltyBeamSampler(num_beams=3, length_penalty=0.6))
    assert as_bfloat16.generate(sources, max_length=8) == float32.generate(sources, max_length=8)
    # The uncached reference path decodes the same under the policy.
    assert as_bfloat16.generate(sources, max_length=8, use_cache=False) == expected

    # Saved under the policy, it reloads under it; dtype= still chooses.
    generation.save(as_bfloat16, tmp_path)
    assert_bfloat16_compute(generation.load(tmp_path))
    assert generation.load(tmp_path, dtype_policy="float32").backbone.encoder.compute_dtype == (
        "float32")


def test_random_weights_choose_the_float32_top1_where_its_margin_is_large(tmp_path):
    keras.utils.set_random_seed(1)
    lm = generation.build_lm(PAIRS, hidden_size=32, num_layers=2, sequence_length=12,
                             vocab_size=60, dropout=0.0)
    generation.save(lm, tmp_path)
    as_bfloat16 = generation.load(tmp_path, dtype_policy="mixed_bfloat16")
    assert_bfloat16_compute(as_bfloat16)
    batch = {"encoder_text": tf.constant([s for s, _ in PAIRS]),
             "decoder_text": tf.constant([t for _, t in PAIRS])}
    inputs, _, _ = lm.preprocessor(batch)  # teacher forcing: every position a real prefix
    assert_same_top1_where_margins_are_large(lm(inputs), as_bfloat16(inputs))
    for sampler in ("greedy", LengthPenaltyBeamSampler(num_beams=2)):
        as_bfloat16.compile(sampler=sampler)
        generated = as_bfloat16.generate([s for s, _ in PAIRS], max_length=6)
        assert len(generated) == len(PAIRS) and all(isinstance(g, str) for g in generated)


def test_an_lm_built_under_the_policy_trains_with_float32_logits():
    keras.utils.set_random_seed(0)
    lm = generation.build_lm(PAIRS, hidden_size=32, num_layers=1, sequence_length=12,
                             vocab_size=60, dtype_policy="mixed_bfloat16")
    assert_bfloat16_compute(lm)
    history = generation.train(lm, PAIRS * 4, epochs=2, batch_size=8, learning_rate=3e-3)
    losses = history.history["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_a_captioner_computes_in_bfloat16_and_chooses_the_float32_top1(tmp_path):
    keras.utils.set_random_seed(0)
    tokenizer = tokenization.make_tokenizer(list(tokenization.SPECIAL_TOKENS) + list("一二三四"))
    backbone = ImageCaptionBackbone(image_shape=(8, 16, 1),
                                    vocabulary_size=tokenizer.vocabulary_size(), hidden_dim=32,
                                    num_decoder_layers=1, dropout=0.0, max_target_length=8)
    captioner = ImageCaptioner(backbone, ImageCaptionPreprocessor(tokenizer,
                                                                  decoder_sequence_length=6))
    captioner.save_to_preset(str(tmp_path))
    as_bfloat16 = ImageCaptioner.from_preset(str(tmp_path), dtype="mixed_bfloat16")
    # The image encoder is a Sequential, whose layers carry the policy.
    assert_bfloat16_compute(as_bfloat16, as_bfloat16.backbone.encoder.layers)
    images = np.random.default_rng(0).uniform(size=(4, 8, 16, 1)).astype("float32")
    inputs, _, _ = captioner.preprocessor({"images": images, "captions": ["一二", "三", "四一",
                                                                           "二二三"]})
    assert_same_top1_where_margins_are_large(captioner(inputs), as_bfloat16(inputs))
    captions = as_bfloat16.generate(images, max_length=6)
    assert len(captions) == 4 and all(isinstance(c, str) for c in captions)


def test_an_encoder_under_another_policy_than_the_backbone_is_refused():
    encoder = make_encoder(vocabulary_size=20, hidden_dim=16, num_layers=1, num_heads=2,
                           intermediate_dim=32, max_sequence_length=16)
    with pytest.raises(ValueError, match=r"make_encoder\(\.\.\., dtype='mixed_bfloat16'\)"):
        ElectraSeq2SeqBackbone(encoder, max_target_length=8, dtype="mixed_bfloat16")
