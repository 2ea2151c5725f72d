"""The analytic FLOP count against a hand count, the paper's published totals, and scaling."""

import pytest

from electra_tf import ElectraConfig
from electra_tf.flops import inference_flops_per_step, pretraining_flops_per_step

VOCAB = 300
# tiny: embedding 32, discriminator 64 wide (2 heads, FFN 128), generator 32 wide
# (1 head, FFN 128), 2 layers, 32 tokens, batch 16, int(0.155 x 32) = 4 masked slots.
E, H, G, F, FG, HEADS, GEN_HEADS, LAYERS, S, B, P = 32, 64, 32, 128, 128, 2, 1, 2, 32, 16, 4


def hand_layer(h, f, heads, s, dropout):
    """One encoder layer per token, grouped by kind of operation."""
    matmuls = (2 * h * 3 * h  # Q, K, V
               + 2 * h * s + 2 * s * h  # Q.K^T, then the weighted values
               + 2 * h * h  # attention output
               + 2 * h * f + 2 * f * h)  # feed-forward in and out
    biases = 3 * h + h + f + h
    per_score = heads * s * (5 + 1 + dropout)  # softmax, 1/sqrt(d), dropout
    gelu = 8 * f
    after_each_sublayer = 2 * h * (1 + 5 + dropout)  # residual, LayerNorm, dropout
    return matmuls + biases + per_score + gelu + after_each_sublayer


def hand_embeddings(e, h, v, s, dropout):
    """Lookups as one-hot matmuls (word, position, 2 segments), sum, LayerNorm, dropout,
    projection to h (when h != e)."""
    flops = 2 * e * v + 2 * e * s + 2 * e * 2 + 2 * e + 5 * e + dropout * e
    return flops + (2 * e * h + h if h != e else 0)


def hand_mlm_head(h, e, v):
    """Per masked slot: dense h->e + bias + GELU + LayerNorm, tied logits + bias, softmax,
    target pick."""
    return 2 * h * e + e + 8 * e + 5 * e + 2 * e * v + v + 5 * v + 2 * v


def hand_rtd_head(h):
    return 2 * h * h + h + 8 * h + 2 * h + 1


def test_rtd_head_of_width_64_by_hand():
    assert hand_rtd_head(64) == 8192 + 64 + 512 + 128 + 1 == 8897


@pytest.mark.parametrize("dropout_rate, dropout_flops", [(0.0, 0), (0.1, 4)])
def test_electra_matches_a_hand_count(dropout_rate, dropout_flops):
    config = ElectraConfig.from_preset("tiny").replace(dropout=dropout_rate)
    assert (config.generator_hidden_size, config.generator_num_heads,
            config.num_masked_predictions) == (G, GEN_HEADS, P)
    discriminator = B * S * (hand_embeddings(E, H, VOCAB, S, dropout_flops)
                             + LAYERS * hand_layer(H, F, HEADS, S, dropout_flops))
    generator = B * S * (hand_embeddings(E, G, VOCAB, S, dropout_flops)
                         + LAYERS * hand_layer(G, FG, GEN_HEADS, S, dropout_flops))
    mlm_head = B * P * hand_mlm_head(G, E, VOCAB)
    rtd_head = B * S * hand_rtd_head(H)
    # Backward counted as the forward: x 2.
    assert pretraining_flops_per_step(config, VOCAB) == {
        "generator": 2 * generator, "encoder": 2 * discriminator, "mlm_head": 2 * mlm_head,
        "rtd_head": 2 * rtd_head, "total": 2 * (generator + discriminator + mlm_head + rtd_head)}


@pytest.mark.parametrize("dropout_rate", [0.0, 0.1])
def test_a_classifiers_forward_pass_at_inference_matches_a_hand_count(dropout_rate):
    """The encoder without dropout (the identity at inference, whatever the config's rate), then
    the logits (dense + bias) on each sequence's first token; no loss, no backward pass."""
    config = ElectraConfig.from_preset("tiny").replace(dropout=dropout_rate)
    labels = 3
    encoder = B * S * (hand_embeddings(E, H, VOCAB, S, 0) + LAYERS * hand_layer(H, F, HEADS, S, 0))
    head = B * (2 * H * labels + labels)
    assert inference_flops_per_step(config, labels, VOCAB) == {
        "encoder": encoder, "classifier_head": head, "total": encoder + head}


@pytest.mark.parametrize("objective", ["electra", "mlm"])
def test_pre_layer_norm_adds_one_final_layer_norm_per_tower(objective):
    """Pre-LN blocks reorder a layer's operations; only the final LayerNorm is new."""
    config = ElectraConfig.from_preset("tiny").replace(objective=objective)
    post = pretraining_flops_per_step(config, VOCAB)
    pre = pretraining_flops_per_step(config.replace(normalize_first=True), VOCAB)
    final_layer_norms = {"encoder": 2 * B * S * 5 * H,
                         "generator": 2 * B * S * 5 * G if objective == "electra" else 0}
    assert pre == {name: value + final_layer_norms.get(name, 0) for name, value in post.items()
                   if name != "total"} | {"total": post["total"] + sum(final_layer_norms.values())}


def test_the_mlm_baseline_matches_a_hand_count():
    config = ElectraConfig.from_preset("tiny").replace(objective="mlm")
    encoder = B * S * (hand_embeddings(E, H, VOCAB, S, 0) + LAYERS * hand_layer(H, F, HEADS, S, 0))
    mlm_head = B * P * hand_mlm_head(H, E, VOCAB)  # on the full-width encoder
    assert pretraining_flops_per_step(config, VOCAB) == {
        "generator": 0, "encoder": 2 * encoder, "mlm_head": 2 * mlm_head, "rtd_head": 0,
        "total": 2 * (encoder + mlm_head)}


@pytest.mark.parametrize("preset, objective, steps, script_total, paper_total", [
    # google-research/electra flops_computation.py's MODEL_FLOPS (computed), paper Table 1.
    ("small", "electra", 1e6, 1.2937e18, 1.4e18),  # ELECTRA-Small
    ("small", "mlm", 1.45e6, 1.4187e18, 1.4e18),  # BERT-Small
    ("base", "electra", 766_000, 6.4245e19, 6.4e19),  # ELECTRA-Base
    ("base", "mlm", 1e6, 6.4283e19, 6.4e19),  # BERT-Base
])
def test_paper_models_cost_what_the_paper_counts(preset, objective, steps, script_total,
                                                 paper_total):
    config = ElectraConfig.from_preset(preset).replace(objective=objective)
    total = pretraining_flops_per_step(config, 30522)["total"] * steps
    assert total == pytest.approx(script_total, rel=0.005)
    assert total == pytest.approx(paper_total, rel=0.1)


def test_the_mlm_baseline_costs_less_than_electra_and_its_heads_decide_against_the_discriminator():
    """MLM = encoder + MLM head on 15% of the slots; the discriminator alone = encoder + RTD
    head on every token. Which costs more depends on the vocabulary: the MLM head's tied
    output layer grows with it, the RTD head does not."""
    tiny = ElectraConfig.from_preset("tiny")
    for vocab in (VOCAB, 30522):
        electra = pretraining_flops_per_step(tiny, vocab)
        mlm = pretraining_flops_per_step(tiny.replace(objective="mlm"), vocab)
        assert mlm["encoder"] == electra["encoder"]
        assert mlm["total"] < electra["total"]
        discriminator_alone = electra["encoder"] + electra["rtd_head"]
        assert (mlm["total"] > discriminator_alone) == (vocab == 30522)
    small = ElectraConfig.from_preset("small")
    electra = pretraining_flops_per_step(small, 30522)
    mlm = pretraining_flops_per_step(small.replace(objective="mlm"), 30522)
    assert electra["encoder"] + electra["rtd_head"] < mlm["total"] < electra["total"]


def test_flops_scale_with_the_batch_not_with_its_micro_batches():
    tiny = ElectraConfig.from_preset("tiny")
    one = pretraining_flops_per_step(tiny, VOCAB)
    doubled = pretraining_flops_per_step(tiny.replace(batch_size=2 * tiny.batch_size), VOCAB)
    assert doubled == {name: 2 * value for name, value in one.items()}
    accumulated = tiny.replace(gradient_accumulation_steps=4)
    assert pretraining_flops_per_step(accumulated, VOCAB) == one


def test_the_vocabulary_size_must_be_known_and_agree():
    tiny = ElectraConfig.from_preset("tiny")
    with pytest.raises(ValueError, match="pass vocabulary_size="):
        pretraining_flops_per_step(tiny)
    assert pretraining_flops_per_step(tiny.replace(vocab_size=VOCAB)) == (
        pretraining_flops_per_step(tiny, VOCAB))
    with pytest.raises(ValueError, match="vocab_size=300 but vocabulary_size is 301"):
        pretraining_flops_per_step(tiny.replace(vocab_size=VOCAB), VOCAB + 1)
