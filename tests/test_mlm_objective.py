"""The masked-LM baseline (`objective="mlm"`): the model, its masking and its run folder."""

import keras
import keras_hub
import numpy as np
import pytest

from test_pretrainer import CONFIG, VOCAB, block_corpus, dataset, special_ids

from electra_tf import ElectraPretrainer, MaskedLMPretrainer, inspection, tokenization
from electra_tf.models import model_dir

MLM = CONFIG.for_objective("mlm")


def make_baseline(config=MLM, vocabulary_size=len(VOCAB), seed=0):
    return MaskedLMPretrainer(config, vocabulary_size, special_ids(), seed=seed)


def test_the_metrics_are_the_masked_lms_only():
    baseline = make_baseline()
    assert [metric.name for metric in baseline.metrics] == ["loss", "mlm_loss", "mlm_accuracy"]
    baseline.compile()
    results = baseline.evaluate(dataset().take(2), return_dict=True, verbose=0)
    assert set(results) == {"loss", "mlm_loss", "mlm_accuracy"}
    assert results["loss"] == results["mlm_loss"]


def test_the_loss_falls_over_a_few_steps():
    """150 tiny steps on the block language (measured: loss 4.15 -> 2.40, accuracy 0.84)."""
    keras.utils.set_random_seed(0)
    baseline = make_baseline()
    baseline.compile()
    history = baseline.fit(dataset(), steps_per_epoch=25, epochs=6, verbose=0).history
    assert history["loss"][-1] < 0.7 * history["loss"][0], history["loss"]
    assert history["mlm_accuracy"][-1] > 3 / (len(VOCAB) - 5)  # 3x chance


def test_the_masking_is_berts_80_10_10():
    """Counted over the chosen slots of a large batch, as the model reads them.

    A random draw that hits a special token (5 ids) or the original token
    leaves the slot unchanged, so with V = 1,000 ids 0.1 x 994/1000 become
    random tokens and the rest of the 10% stay. Each share must lie within 4
    standard errors of its expectation (under 0.01 for the 16,384 slots).
    """
    vocabulary_size = 1000
    baseline = make_baseline(vocabulary_size=vocabulary_size)
    rng = np.random.default_rng(0)
    ids = rng.integers(len(tokenization.SPECIAL_TOKENS), vocabulary_size,
                       (4096, MLM.sequence_length)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    outputs = baseline({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": 1 + 0 * ids})
    read = outputs["masked_token_ids"].numpy()
    chosen = outputs["mask_weights"].numpy().sum()
    masked = (read == special_ids()[tokenization.MASK]).sum()
    changed = (read != ids).sum()
    assert chosen == 4096 * MLM.num_masked_predictions  # 4 per sequence of 32
    random_share = 0.1 * (vocabulary_size - len(tokenization.SPECIAL_TOKENS) - 1) / vocabulary_size
    for share, expected in ((masked / chosen, 0.8), ((changed - masked) / chosen, random_share),
                            ((chosen - changed) / chosen, 1 - 0.8 - random_share)):
        assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / chosen), (
            share, expected)


def test_the_preset_round_trip_gives_equal_outputs(tmp_path):
    baseline = make_baseline()
    baseline.save_to_preset(tmp_path, tokenization.make_tokenizer(VOCAB))
    assert model_dir.saved_class(tmp_path) == "MaskedLMPretrainer"
    assert model_dir.is_pretraining_dir(tmp_path)
    assert model_dir.pretraining_config(tmp_path) == MLM
    loaded = MaskedLMPretrainer.from_preset(tmp_path)
    assert loaded.tokenizer.get_vocabulary() == VOCAB and loaded.seed == baseline.seed
    batch = {k: v[:4] for k, v in block_corpus().items()}
    positions = np.tile(np.arange(1, 5, dtype="int32"), (4, 1))
    for model in (baseline, loaded):
        model.outputs_ = model.masked_lm({**batch, "mask_positions": positions}).numpy()
    np.testing.assert_array_equal(loaded.outputs_, baseline.outputs_)
    # The folder's backbone is the encoder, for keras-hub without this package.
    backbone = keras_hub.models.ElectraBackbone.from_preset(str(tmp_path))
    np.testing.assert_array_equal(backbone(batch)["sequence_output"].numpy(),
                                  baseline.encoder(batch)["sequence_output"].numpy())


def test_each_objective_has_its_own_class(tmp_path):
    with pytest.raises(ValueError, match="config's objective is 'mlm': use MaskedLMPretrainer"):
        ElectraPretrainer(MLM, len(VOCAB), special_ids())
    with pytest.raises(ValueError, match="objective is 'electra': use ElectraPretrainer"):
        MaskedLMPretrainer(CONFIG, len(VOCAB), special_ids())
    baseline = make_baseline()
    baseline.save_to_preset(tmp_path, tokenization.make_tokenizer(VOCAB))
    with pytest.raises(ValueError, match="holds an MaskedLMPretrainer, not an ElectraPretrainer"):
        ElectraPretrainer.from_preset(tmp_path)
    # What shows a discriminator's view says there is none.
    with pytest.raises(TypeError, match="a MaskedLMPretrainer has no discriminator"):
        inspection.replaced_token_view(baseline, tokenization.make_tokenizer(VOCAB), ["w1 w2"])


def test_mixed_precision_trains_with_loss_scaling():
    baseline = make_baseline(MLM.replace(dtype_policy="mixed_float16"))
    baseline.compile()
    assert isinstance(baseline.optimizer, keras.optimizers.LossScaleOptimizer)
    assert baseline.encoder.compute_dtype == "float16"
    history = baseline.fit(dataset(), steps_per_epoch=3, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
