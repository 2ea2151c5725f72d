"""ELECTRA's optimiser: AdamW, linear warmup x linear decay, global-norm clipping.

Example:
```python
from electra_tf import ElectraConfig
from electra_tf.training.optimization import create_optimizer

optimizer = create_optimizer(ElectraConfig.from_preset("tiny"))
```
"""

import keras

# Keras 3 names LayerNorm variables `gamma` / `beta`; the original skips
# weight decay on LayerNorm and bias variables.
NO_DECAY_VARIABLE_NAMES = ("bias", "gamma", "beta")


@keras.saving.register_keras_serializable(package="electra_tf")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`peak x min(1, step / warmup) x max(0, 1 - step / total)`, as the original.

    Written here because Keras offers warmup only on `CosineDecay`, and
    ELECTRA decays linearly (polynomial decay of power 1 to zero) while the
    warmup ramp multiplies it.
    """

    def __init__(self, peak_learning_rate, warmup_steps, total_steps, name="warmup_linear_decay"):
        if total_steps <= 0:
            raise ValueError(f"total_steps must be positive, got {total_steps}.")
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        self.name = name

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        decay = keras.ops.maximum(0.0, 1.0 - step / float(self.total_steps))
        if self.warmup_steps > 0:
            decay = decay * keras.ops.minimum(1.0, step / float(self.warmup_steps))
        return self.peak_learning_rate * decay

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "name": self.name,
        }


def create_optimizer(config, learning_rate=None):
    """Keras AdamW with the config's recipe.

    Keras' Adam applies bias correction, which the original omits; under the
    warmup ramp the two differ only in the first steps.
    """
    schedule = learning_rate or WarmupLinearDecay(
        config.learning_rate, config.warmup_steps, config.train_steps
    )
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=config.weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=config.adam_epsilon,
        global_clipnorm=config.clip_norm,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_VARIABLE_NAMES))
    return optimizer
