import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import ElectraClassifier, ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.models import model_dir

VOCAB = list(tokenization.SPECIAL_TOKENS) + [f"w{i}" for i in range(59)]
CONFIG = ElectraConfig.from_preset("tiny").replace(warmup_steps=10, train_steps=400)


def special_ids():
    return tokenization.special_token_ids(tokenization.make_tokenizer(VOCAB))


def block_corpus(num_sequences=512, length=32, seed=0):
    """A language a tiny model learns fast: a word repeated, then another repeated.

    A masked word is its neighbours' word, and a replaced word differs from its
    neighbours: both towers can learn their task in a few hundred steps.
    """
    rng = np.random.default_rng(seed)
    words = rng.integers(5, len(VOCAB), (num_sequences, 2))
    ids = np.where(np.arange(length)[None] < length // 2, words[:, :1], words[:, 1:])
    ids[:, 0], ids[:, -1] = 2, 3
    ids = ids.astype("int32")
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}


def dataset(batch_size=16, **kwargs):
    return tf.data.Dataset.from_tensor_slices(block_corpus(**kwargs)).repeat().batch(batch_size)


def make_pretrainer(config=CONFIG, seed=0):
    return ElectraPretrainer(config, vocabulary_size=len(VOCAB), special_token_ids=special_ids(), seed=seed)


def generator_only_variables(pretrainer):
    shared = {id(v) for v in pretrainer.discriminator.weights}
    return [v for v in pretrainer.generator.trainable_variables if id(v) not in shared]


def test_one_set_of_embedding_variables_for_both_towers():
    pretrainer = make_pretrainer()
    generator_vars = {id(v) for v in pretrainer.generator.weights}
    for layer in ("token_embedding", "position_embedding", "segment_embedding", "embeddings_layer_norm"):
        for variable in getattr(pretrainer.discriminator, layer).weights:
            assert id(variable) in generator_vars, layer
    # The generator's MLM output is tied to the shared table (no own output matrix).
    head = pretrainer.generator.get_layer("mlm_head")
    assert head.token_embedding is pretrainer.discriminator.token_embedding
    assert pretrainer.generator.get_layer("transformer_layer_0")._self_attention_layer.num_heads == 1
    assert CONFIG.generator_hidden_size == 32 and pretrainer.discriminator.hidden_dim == 64
    # Post-LayerNorm (ELECTRA's) unless the config says otherwise.
    assert not pretrainer.discriminator.normalize_first
    assert pretrainer.generator.final_layer_norm is None


def test_no_gradient_reaches_the_generator_through_sampling():
    pretrainer = make_pretrainer()
    batch = {k: v[:8] for k, v in block_corpus().items()}
    with tf.GradientTape(persistent=True) as tape:
        outputs = pretrainer(batch, training=True)
        losses = pretrainer.compute_pretraining_losses(outputs)
    own = generator_only_variables(pretrainer)
    assert own, "the generator must have variables of its own"
    assert all(g is None for g in tape.gradient(losses["rtd_loss"], own))
    # ... while the MLM loss does train them, and the RTD loss trains the shared embeddings.
    assert all(g is not None for g in tape.gradient(losses["mlm_loss"], own))
    table = pretrainer.discriminator.token_embedding.embeddings
    assert tape.gradient(losses["rtd_loss"], table) is not None


def test_a_sample_equal_to_the_original_counts_as_original():
    pretrainer = make_pretrainer()
    batch = {k: v[:16] for k, v in block_corpus().items()}
    outputs = pretrainer(batch)
    labels, corrupted = outputs["rtd_labels"].numpy(), outputs["corrupted_ids"].numpy()
    np.testing.assert_array_equal(labels, (corrupted != batch["token_ids"]).astype("float32"))
    # Masked slots whose sample equals the original exist and are labelled original.
    assert labels.sum() < outputs["mask_weights"].numpy().sum()


def test_loss_falls_and_the_discriminator_beats_the_always_original_baseline():
    keras.utils.set_random_seed(0)
    pretrainer = make_pretrainer()
    pretrainer.compile()
    history = pretrainer.fit(dataset(), steps_per_epoch=100, epochs=4, verbose=0).history
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    results = pretrainer.evaluate(dataset(seed=1).take(10), return_dict=True, verbose=0)
    baseline_accuracy = 1 - results["replaced_rate"]
    assert results["rtd_accuracy"] > baseline_accuracy + 0.02
    assert results["rtd_recall"] > 0.3 and results["rtd_precision"] > 0.5
    assert results["rtd_auc"] > 0.8, results  # 0.5 is chance
    assert results["mlm_accuracy"] > 3 / (len(VOCAB) - 5)  # 3x chance


def _padded(batch, rng):
    """`batch` with a random tail of each sequence made padding (kept [CLS] ... [SEP])."""
    batch = {name: value.copy() for name, value in batch.items()}
    length = batch["token_ids"].shape[1]
    for row, real in enumerate(rng.integers(length // 2, length + 1, len(batch["token_ids"]))):
        batch["token_ids"][row, real - 1] = 3
        batch["token_ids"][row, real:] = 0
        batch["padding_mask"][row, real:] = 0
    return batch


def test_rtd_auc_is_sklearns_roc_auc_over_the_real_tokens():
    """The AUC the steps report, against sklearn on the same outputs, padding left out.

    The metric counts ordered (replaced, original) pairs exactly, without
    threshold bins; float32 sums of at most 2^24 pairs leave it exact to ~1e-7,
    hence the 1e-6 tolerance. Over two batches it is the pair-weighted mean of
    the two batches' AUCs (pairs across batches are not counted). The outputs
    are fed to the metric update the train and test steps make: a second
    forward pass (as `evaluate` would make) can reorder scores a rounding
    error apart, and after 30 steps many are.
    """
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    pretrainer = make_pretrainer()
    pretrainer.compile()
    pretrainer.fit(dataset(), steps_per_epoch=30, epochs=1, verbose=0)  # past the flat start
    pretrainer.reset_metrics()
    rng = np.random.default_rng(0)
    ordered = pairs = 0.0
    for i in range(2):
        batch = _padded({k: v[i * 32:(i + 1) * 32] for k, v in block_corpus(seed=1).items()}, rng)
        outputs = pretrainer(batch)
        pretrainer._update_metrics(outputs, pretrainer.compute_pretraining_losses(outputs))
        labels, weights = outputs["rtd_labels"].numpy(), outputs["padding_weights"].numpy()
        assert (weights == batch["padding_mask"]).all() and weights.min() == 0
        real = weights.ravel() > 0
        labels, logits = labels.ravel()[real], outputs["rtd_logits"].numpy().ravel()[real]
        batch_pairs = labels.sum() * (1 - labels).sum()
        ordered += sklearn_metrics.roc_auc_score(labels, logits) * batch_pairs
        pairs += batch_pairs
    reported = pretrainer.get_metrics_result()["rtd_auc"]
    np.testing.assert_allclose(reported, ordered / pairs, atol=1e-6)


def test_jit_compiled_step_trains_after_tracing_once(count_traces):
    pretrainer = make_pretrainer(CONFIG.replace(jit_compile=True))
    pretrainer.compile()
    assert pretrainer.jit_compile
    traced = count_traces(pretrainer)
    history = pretrainer.fit(dataset(), steps_per_epoch=3, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    # Optimizer slots created inside the first trace would force a second one.
    assert len(traced) == 1


def test_save_and_load_the_preset(tmp_path):
    pretrainer = make_pretrainer()
    pretrainer.compile()
    pretrainer.fit(dataset(), steps_per_epoch=5, epochs=1, verbose=0)
    tokenizer = tokenization.make_tokenizer(VOCAB)
    pretrainer.save_to_preset(tmp_path, tokenizer)
    assert model_dir.saved_class(tmp_path) == "ElectraPretrainer"
    assert not list(tmp_path.glob(".saving-*"))  # the staging folder is gone
    loaded = ElectraPretrainer.from_preset(tmp_path)
    assert loaded.tokenizer.get_vocabulary() == VOCAB
    assert loaded.electra_config == pretrainer.electra_config and loaded.seed == pretrainer.seed
    assert loaded.special_token_ids == pretrainer.special_token_ids
    batch = {k: v[:4] for k, v in block_corpus().items()}
    positions = np.tile(np.arange(1, 5, dtype="int32"), (4, 1))
    for model in (pretrainer, loaded):
        model.outputs_ = (
            model.discriminator(batch)["sequence_output"].numpy(),
            model.generator({**batch, "mask_positions": positions}).numpy(),
        )
    np.testing.assert_allclose(pretrainer.outputs_[0], loaded.outputs_[0], atol=1e-6)
    np.testing.assert_allclose(pretrainer.outputs_[1], loaded.outputs_[1], atol=1e-5)


def test_discriminator_loads_into_keras_hub_electra_backbone(tmp_path):
    pretrainer = make_pretrainer()
    pretrainer.save_to_preset(tmp_path, tokenization.make_tokenizer(VOCAB))
    backbone = keras_hub.models.ElectraBackbone.from_preset(str(tmp_path))
    assert isinstance(backbone, keras_hub.models.ElectraBackbone)
    batch = {k: v[:4] for k, v in block_corpus().items()}
    np.testing.assert_allclose(
        backbone(batch)["sequence_output"].numpy(),
        pretrainer.discriminator(batch)["sequence_output"].numpy(),
        atol=1e-6,
    )
    tokenizer = keras_hub.models.ElectraTokenizer.from_preset(str(tmp_path))
    assert tokenizer.get_vocabulary() == VOCAB


def test_missing_and_corrupt_weights_are_reported(tmp_path):
    pretrainer = make_pretrainer()
    pretrainer.save_to_preset(tmp_path, tokenization.make_tokenizer(VOCAB))
    weights = tmp_path / "task.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(model_dir.RunFolderError, match="corrupt"):
        ElectraPretrainer.from_preset(tmp_path)
    weights.unlink()
    with pytest.raises(model_dir.RunFolderError, match="task.weights.h5 is missing; restore it "
                       "from the checkpoints"):
        ElectraPretrainer.from_preset(tmp_path)
    with pytest.raises(ValueError, match="holds no saved model"):
        ElectraPretrainer.from_preset(tmp_path / "nowhere")
    (tmp_path / "task.json").write_text("{")
    with pytest.raises(ValueError, match="task.json is not readable JSON"):
        ElectraPretrainer.from_preset(tmp_path)


def test_a_task_preset_is_not_taken_for_a_pretrainer(tmp_path):
    ElectraClassifier.from_scratch(CONFIG, VOCAB, num_classes=2, sequence_length=16
                                   ).save_to_preset(str(tmp_path))
    with pytest.raises(ValueError, match="holds an ElectraClassifier, not an ElectraPretrainer"):
        ElectraPretrainer.from_preset(tmp_path)


def test_vocabulary_that_does_not_fit_the_config():
    with pytest.raises(ValueError, match="vocab_size=100"):
        ElectraPretrainer(CONFIG.replace(vocab_size=100), vocabulary_size=len(VOCAB),
                          special_token_ids=special_ids())


def test_mixed_precision_trains_with_loss_scaling():
    pretrainer = make_pretrainer(CONFIG.replace(dtype_policy="mixed_float16"))
    pretrainer.compile()
    assert isinstance(pretrainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert pretrainer.discriminator.compute_dtype == "float16"
    assert pretrainer.discriminator.token_embedding.embeddings.dtype == "float32"
    history = pretrainer.fit(dataset(), steps_per_epoch=3, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])


def test_bfloat16_pretraining_learns_like_float32():
    """Same seed, data and steps; bfloat16 computes with 8 mantissa bits, float32 with 23.

    Stated margin: at every epoch the bfloat16 loss is within a quarter of the fall the
    float32 run makes over the whole run (measured: within 0.15 of it).
    """
    histories = {}
    for policy in ("float32", "mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        pretrainer = make_pretrainer(CONFIG.replace(dtype_policy=policy))
        pretrainer.compile()
        histories[policy] = pretrainer.fit(dataset(), steps_per_epoch=50, epochs=4,
                                           verbose=0).history["loss"]
    assert pretrainer.discriminator.compute_dtype == "bfloat16"
    assert pretrainer.discriminator.token_embedding.embeddings.dtype == "float32"
    assert not isinstance(pretrainer.optimizer, keras.optimizers.LossScaleOptimizer)
    single, half = histories["float32"], histories["mixed_bfloat16"]
    fall = single[0] - single[-1]
    assert fall > 0.2 * single[0] and half[-1] < 0.8 * half[0]
    for epoch, (a, b) in enumerate(zip(single, half)):
        assert abs(a - b) < 0.25 * fall, (epoch, single, half)


def test_pre_layer_norm_pretraining_trains_saves_and_fine_tunes(tmp_path):
    config = CONFIG.replace(normalize_first=True)
    keras.utils.set_random_seed(0)
    pretrainer = make_pretrainer(config)
    discriminator, generator = pretrainer.discriminator, pretrainer.generator
    assert discriminator.normalize_first and discriminator.final_layer_norm is not None
    assert all(layer.normalize_first for layer in
               discriminator.transformer_layers + generator.transformer_layers)
    # The generator's head reads its own final LayerNorm's output.
    batch = {k: v[:4] for k, v in block_corpus().items()}
    positions = np.tile(np.arange(1, 5, dtype="int32"), (4, 1))
    tokens = discriminator.token_embedding(batch["token_ids"])
    x = discriminator.embeddings_layer_norm(discriminator.embeddings_add((
        tokens, discriminator.position_embedding(tokens),
        discriminator.segment_embedding(batch["segment_ids"]))))
    assert generator.embeddings_projection is None  # tiny: generator width = embedding size
    for layer in generator.transformer_layers:
        x = layer(x, padding_mask=batch["padding_mask"])
    expected = generator.mlm_head(generator.final_layer_norm(x), mask_positions=positions)
    np.testing.assert_allclose(generator({**batch, "mask_positions": positions}).numpy(),
                               expected.numpy(), atol=1e-6)

    pretrainer.compile()
    held_out = dataset(seed=1).take(5)
    before = pretrainer.evaluate(held_out, return_dict=True, verbose=0)
    pretrainer.fit(dataset(), steps_per_epoch=80, epochs=1, verbose=0)
    after = pretrainer.evaluate(held_out, return_dict=True, verbose=0)
    # Measured: loss 38.8 -> 22.2, MLM 4.16 -> 3.95, RTD 0.69 -> 0.37.
    assert after["loss"] < 0.75 * before["loss"], (before, after)
    assert after["mlm_loss"] < before["mlm_loss"] - 0.1, (before, after)
    assert after["rtd_loss"] < 0.85 * before["rtd_loss"], (before, after)

    pretrainer.save_to_preset(tmp_path / "run", tokenization.make_tokenizer(VOCAB))
    loaded = ElectraPretrainer.from_preset(tmp_path / "run")
    assert loaded.electra_config.normalize_first
    np.testing.assert_allclose(loaded.discriminator(batch)["sequence_output"].numpy(),
                               discriminator(batch)["sequence_output"].numpy(), atol=1e-6)
    np.testing.assert_allclose(loaded.generator({**batch, "mask_positions": positions}).numpy(),
                               generator({**batch, "mask_positions": positions}).numpy(),
                               atol=1e-5)

    # The run folder's encoder is rebuilt pre-LN for fine-tuning, and the task saves and loads.
    classifier = ElectraClassifier.from_model_dir(tmp_path / "run", num_classes=2,
                                                  sequence_length=16)
    assert classifier.backbone.normalize_first
    np.testing.assert_allclose(classifier.backbone(batch)["sequence_output"].numpy(),
                               discriminator(batch)["sequence_output"].numpy(), atol=1e-6)
    texts, labels = ["w1 w1 w1", "w2 w2 w2", "w1 w1", "w2 w2"], np.array([0, 1, 0, 1])
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3))
    assert np.isfinite(classifier.fit(texts, labels, batch_size=2, epochs=1, verbose=0
                                      ).history["loss"][0])
    classifier.save_to_preset(str(tmp_path / "classifier"))
    reloaded = ElectraClassifier.from_preset(str(tmp_path / "classifier"))
    assert reloaded.backbone.normalize_first
    np.testing.assert_allclose(reloaded.predict(texts, verbose=0),
                               classifier.predict(texts, verbose=0), atol=1e-6)
    assert ElectraClassifier.from_scratch(config, VOCAB, num_classes=2,
                                          sequence_length=16).backbone.normalize_first
