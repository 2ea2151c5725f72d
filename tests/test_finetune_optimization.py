import keras
import numpy as np
import pytest

from electra_tf import ElectraConfig, tokenization
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.optimizers import (
    LayerwiseAdamW,
    create_finetuning_optimizer,
    electra_layer_multipliers,
)
from electra_tf.config import FinetuneConfig
from electra_tf.training.finetune import compile_for_finetuning, finetuning_callbacks
from electra_tf.training.guards import StopOnNonFiniteLoss

CONFIG = ElectraConfig.from_preset("tiny")  # 2 transformer layers
VOCAB = list(tokenization.SPECIAL_TOKENS) + [f"w{i}" for i in range(10)]
DECAY, RATE = 0.5, 1e-2


def expected_multiplier(path):
    """The original's depths: embeddings 0, layer i at i + 1, heads at L + 2; a pre-LN
    encoder's final LayerNorm at L + 1."""
    num_layers = CONFIG.num_layers
    if path.split("/")[0].startswith(("token_", "position_", "segment_", "embeddings_")):
        return DECAY ** (num_layers + 2)
    if path.startswith("transformer_layer_"):
        return DECAY ** (num_layers + 1 - int(path.split("/")[0].rsplit("_", 1)[1]))
    if path.startswith("final_layer_norm/"):
        return DECAY
    assert path.startswith("logits/"), path
    return 1.0


def classifier(normalize_first=False):
    keras.utils.set_random_seed(0)
    return ElectraClassifier.from_scratch(CONFIG.replace(normalize_first=normalize_first), VOCAB,
                                          num_classes=2)


def one_step(model, optimizer, gradient_value):
    variables = model.trainable_variables
    before = [v.numpy().copy() for v in variables]
    optimizer.apply([np.full(v.shape, gradient_value, "float32") for v in variables], variables)
    return {v.path: b - v.numpy() for v, b in zip(variables, before)}


@pytest.mark.parametrize("normalize_first", [False, True])
def test_each_layer_moves_at_its_decayed_rate(normalize_first):
    model = classifier(normalize_first)
    optimizer = LayerwiseAdamW(
        learning_rate=RATE, epsilon=1e-12,
        lr_multipliers=electra_layer_multipliers(CONFIG.num_layers, DECAY),
        weight_decay=0.0,
    )
    # Adam's first (bias-corrected) step with a constant gradient is exactly
    # the rate, whatever the gradient's size: the update shows the rate.
    steps = one_step(model, optimizer, gradient_value=3.0)
    rates = {}
    for path, delta in steps.items():
        np.testing.assert_allclose(delta, RATE * expected_multiplier(path), rtol=1e-4, err_msg=path)
        rates[path.split("/")[0]] = float(delta.mean()) / RATE
    assert rates["token_embedding"] == pytest.approx(DECAY ** 4, rel=1e-4)
    assert rates["transformer_layer_0"] == pytest.approx(DECAY ** 3, rel=1e-4)
    assert rates["transformer_layer_1"] == pytest.approx(DECAY ** 2, rel=1e-4)
    assert rates["logits"] == pytest.approx(1.0, rel=1e-4)
    assert ("final_layer_norm" in rates) == normalize_first


def test_weight_decay_follows_the_layer_rate_and_skips_bias_and_layer_norm():
    model = classifier()
    optimizer = create_finetuning_optimizer(
        CONFIG.replace(weight_decay=0.1, clip_norm=1.0), train_steps=10, learning_rate=RATE,
        layer_decay=DECAY, warmup_fraction=0.0,
    )
    weights = {v.path: v.numpy().copy() for v in model.trainable_variables}
    # A zero gradient leaves Adam's update at zero: only weight decay moves weights.
    steps = one_step(model, optimizer, gradient_value=0.0)
    for path, delta in steps.items():
        if path.endswith(("bias", "gamma", "beta")):
            np.testing.assert_array_equal(delta, 0.0, err_msg=path)
        else:
            expected = weights[path] * 0.1 * RATE * expected_multiplier(path)
            # float32 cancellation in `before - after` of tiny steps: 1% is far
            # tighter than the factor 2 between neighbouring layers.
            np.testing.assert_allclose(delta, expected, rtol=1e-2, atol=1e-12, err_msg=path)


def test_recipe_schedule_and_serialization():
    optimizer = create_finetuning_optimizer(CONFIG, train_steps=100, learning_rate=1e-3)
    schedule = optimizer._learning_rate
    assert schedule.warmup_steps == 10 and schedule.total_steps == 100
    # The warmup ramp multiplies the linear decay, as in the original.
    assert float(schedule(5)) == pytest.approx(1e-3 * 0.5 * 0.95)
    assert float(schedule(10)) == pytest.approx(1e-3 * 0.9)
    restored = LayerwiseAdamW.from_config(optimizer.get_config())
    assert restored.lr_multiplier("transformer_layer_1/x/kernel") == pytest.approx(0.8 ** 2)
    assert restored.lr_multiplier("classifier/transformer_layer_10/kernel") == 1.0
    assert restored.lr_multiplier("token_embedding/embeddings") == pytest.approx(0.8 ** 4)
    with pytest.raises(ValueError, match="layer_decay"):
        electra_layer_multipliers(2, 0.0)


def test_early_stopping_restores_the_best_weights():
    assert [type(c) for c in finetuning_callbacks()] == [StopOnNonFiniteLoss]
    (_, callback) = finetuning_callbacks(early_stopping_patience=2, monitor="val_accuracy")
    assert callback.restore_best_weights and callback.patience == 2
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = np.ones((4, 1)), np.ones((4, 1))
    # Training pulls the weight from 0 towards 1 (0.2, 0.36, ...) while validation
    # wants 0: epoch one's weight is the best one.
    model.fit(x, y, validation_data=(x, np.zeros((4, 1))), epochs=6, verbose=0,
              callbacks=finetuning_callbacks(early_stopping_patience=2))
    best = model.layers[0].kernel.numpy().item()
    assert model.stop_training and best == pytest.approx(0.2)


def original_adamw(weights, gradients, rate, decay, lr_multiplier=1.0, beta_1=0.9,
                   beta_2=0.999, epsilon=1e-6):
    """google-research/electra model/optimization.py: no bias correction, decay in the update."""
    m, v = np.zeros_like(weights), np.zeros_like(weights)
    for g in gradients:
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        update = m / (np.sqrt(v) + epsilon) + decay * weights
        weights = weights - rate * lr_multiplier * update
    return weights


def test_uncorrected_adam_follows_the_original_update():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 4)).astype("float32")
    gradients = [rng.normal(size=(3, 4)).astype("float32") for _ in range(6)]
    for corrected in (False, True):
        variable = keras.Variable(start, name="kernel")
        optimizer = LayerwiseAdamW(learning_rate=RATE, weight_decay=0.01, epsilon=1e-6,
                                   bias_correction=corrected,
                                   lr_multipliers={"kernel": DECAY})
        for g in gradients:
            optimizer.apply([g], [variable])
        expected = original_adamw(start, gradients, RATE, 0.01, lr_multiplier=DECAY)
        gap = np.abs(variable.numpy() - expected).max()
        if corrected:
            assert gap > 1e-3  # Keras' bias-corrected Adam is not the original
        else:
            assert gap < 1e-6


def test_paper_recipes_use_the_original_adam():
    for name in ("paper_small", "paper_base"):
        assert FinetuneConfig.from_preset(name).adam_bias_correction is False
    optimizer = create_finetuning_optimizer(CONFIG, train_steps=10, bias_correction=False)
    assert optimizer.get_config()["bias_correction"] is False
    assert LayerwiseAdamW.from_config(optimizer.get_config()).bias_correction is False


@pytest.mark.parametrize("bias_correction", [False, True])
def test_the_recipes_bias_correction_reaches_the_fine_tuning_optimizer(bias_correction):
    """What run_finetuning compiles: Adam's first update is m / (sqrt(v) + eps) x rate without
    bias correction, and that times sqrt(1 - beta_2) / (1 - beta_1) (Keras' Adam) with it."""
    model = classifier()
    recipe = FinetuneConfig.from_preset("paper_small").replace(
        adam_bias_correction=bias_correction, learning_rate=RATE, layer_decay=1.0,
        warmup_fraction=0.0)  # every variable at the full rate from the first step
    config = CONFIG.replace(weight_decay=0.0)
    compile_for_finetuning(model, recipe, config, train_steps=10)
    gradient = 1e-3  # the global norm stays under the clipping threshold
    m, v = (1 - 0.9) * gradient, (1 - 0.999) * gradient ** 2
    uncorrected = RATE * m / (np.sqrt(v) + config.adam_epsilon)
    corrected = uncorrected * np.sqrt(1 - 0.999) / (1 - 0.9)
    steps = one_step(model, model.optimizer, gradient_value=gradient)
    expected = corrected if bias_correction else uncorrected
    for path, delta in steps.items():
        np.testing.assert_allclose(delta, expected, rtol=1e-4, err_msg=path)
