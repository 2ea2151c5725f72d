"""Gradient accumulation: one update from N micro-batches equals the large batch's update.

The reference applies, with the same recipe and no accumulation, the mean of the
micro-batches' gradients: the gradient of the whole batch when the micro-batches
weigh the same (equal counts of masked and real tokens, as here: full sequences,
and a masked-token count the length fixes). Clipping binds, so clipping each
micro-batch's gradient instead of their mean would show; several updates are
compared, so Adam's step count and the learning-rate schedule would show too.
"""

import numpy as np
import pytest
import tensorflow as tf

from test_pretrainer import CONFIG, VOCAB, block_corpus, special_ids

from electra_tf import ElectraConfig, ElectraPretrainer
from electra_tf.config import ConfigError

MICRO_BATCHES = 2
UPDATES = 3
# No dropout (its random draws would differ between the two models), clipping that
# binds, and a schedule short enough that each update has another learning rate.
RECIPE = dict(dropout=0.0, clip_norm=0.05, warmup_steps=2, train_steps=6, learning_rate=1e-3,
              batch_size=8)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_accumulated_updates_equal_the_large_batch_updates(jit_compile):
    config = CONFIG.replace(**RECIPE, jit_compile=jit_compile)
    accumulating, reference = _twin_pretrainers(config)
    reference.compile()
    batches = tf.data.Dataset.from_tensor_slices(
        block_corpus(num_sequences=UPDATES * config.batch_size)).batch(config.batch_size)
    start = [w.numpy() for w in reference.trainable_weights]

    history = accumulating.fit(batches, epochs=1, shuffle=False, verbose=0).history

    # Under XLA the random draws come from XLA's generator: the reference's must too.
    gradients_of = tf.function(lambda half: _gradients(reference, half), jit_compile=jit_compile)
    for batch in batches:
        gradients = [gradients_of(half) for half in _micro_batches(batch)]
        reference.optimizer.apply([tf.add_n(list(g)) / MICRO_BATCHES for g in zip(*gradients)],
                                  reference.trainable_variables)
    assert int(accumulating.optimizer.iterations) == int(reference.optimizer.iterations) == UPDATES
    np.testing.assert_allclose(float(accumulating.optimizer.learning_rate),
                               float(reference.optimizer.learning_rate))
    moved = 0.0
    for ours, theirs, before in zip(accumulating.trainable_weights, reference.trainable_weights,
                                    start):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=2e-5)
        moved = max(moved, float(np.abs(theirs.numpy() - before).max()))
    assert moved > 1e-3  # the weights compared did train
    # Metrics cover every micro-batch: the replaced share of 6 micro-batches of 4 x 32 tokens.
    assert 0.0 < history["replaced_rate"][0] < 0.15


def test_the_accumulated_gradient_is_the_mean_of_the_micro_batches_gradients():
    # Adam's step hardly depends on the gradient's scale, so the update test above
    # would not notice a sum instead of a mean; the gradient itself does.
    config = CONFIG.replace(**RECIPE)
    accumulating, reference = _twin_pretrainers(config)
    batch = {k: tf.constant(v[:config.batch_size]) for k, v in block_corpus().items()}
    accumulated = tf.function(accumulating._accumulated_gradients)(batch, MICRO_BATCHES, 1)
    halves = [_gradients(reference, half) for half in _micro_batches(batch)]
    for ours, *theirs in zip(accumulated, *halves):
        np.testing.assert_allclose(ours.numpy(), (sum(theirs) / MICRO_BATCHES).numpy(),
                                   rtol=1e-4, atol=1e-7)


def _twin_pretrainers(config):
    """`(accumulating, reference)`: the same weights and seeds, `MICRO_BATCHES` micro-batches
    per update or one batch; the accumulating one compiled."""
    accumulating = ElectraPretrainer(
        config.replace(gradient_accumulation_steps=MICRO_BATCHES), len(VOCAB), special_ids(),
        seed=0)
    reference = ElectraPretrainer(config, len(VOCAB), special_ids(), seed=0)
    reference.set_weights(accumulating.get_weights())
    accumulating.compile()
    return accumulating, reference


def _micro_batches(batch):
    """`batch` cut into `MICRO_BATCHES` consecutive equal slices, as the train step cuts it."""
    size = len(batch["token_ids"]) // MICRO_BATCHES
    return [{k: v[i * size:(i + 1) * size] for k, v in batch.items()}
            for i in range(MICRO_BATCHES)]


def _gradients(model, batch):
    """What `ElectraPretrainer.train_step` computes before the optimizer, on one replica."""
    with tf.GradientTape() as tape:
        loss = model.compute_pretraining_losses(model(batch, training=True))["loss"]
    return [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]


def test_the_batch_must_split_into_the_micro_batches():
    assert ElectraConfig(batch_size=128, gradient_accumulation_steps=4).micro_batch_size == 32
    with pytest.raises(ConfigError, match="batch_size 128 is not a multiple of "
                                          "gradient_accumulation_steps 3"):
        ElectraConfig(batch_size=128, gradient_accumulation_steps=3)
    with pytest.raises(ConfigError, match="gradient_accumulation_steps must be a positive"):
        ElectraConfig(gradient_accumulation_steps=0)
