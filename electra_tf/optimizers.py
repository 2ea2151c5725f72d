"""ELECTRA's optimiser: AdamW, linear warmup x linear decay, global-norm clipping.

For fine-tuning, `create_finetuning_optimizer` adds layer-wise learning-rate
decay (`LayerwiseAdamW`) and a warmup given as a fraction of the steps. It
sits below `models/`, whose `compile` defaults use it; `training/` only
orchestrates.

Example:
```python
from electra_tf import ElectraConfig
from electra_tf.optimizers import (WarmupLinearDecay, create_finetuning_optimizer,
                                   create_optimizer)

config = ElectraConfig.from_preset("tiny")  # rate 2e-3, 20 warm-up steps of 200
optimizer = create_optimizer(config)
optimizer.weight_decay, optimizer.epsilon, optimizer.global_clipnorm  # -> (0.01, 1e-06, 1.0)
schedule = WarmupLinearDecay(config.learning_rate, config.warmup_steps, config.train_steps)
[float(schedule(step)) for step in (0, 10, 20, 110, 200)]  # the ramp times the decay
# -> [0.0, 0.00095, 0.0018, 0.0009, 0.0]

finetuning = create_finetuning_optimizer(config, train_steps=300)  # layer-wise decay 0.8
[finetuning.lr_multiplier(path) for path in (
    "electra_backbone/token_embedding/embeddings",
    "electra_backbone/transformer_layer_0/feedforward_output_dense/kernel",
    "electra_backbone/transformer_layer_1/feedforward_output_dense/kernel",
    "classifier_head/kernel")]
# -> [0.4096, 0.512, 0.64, 1.0]
```
"""

import re

import keras
import tensorflow as tf

from electra_tf import compat

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


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraAdamW(keras.optimizers.AdamW):
    """Keras' AdamW, optionally without Adam's bias correction, as the original ELECTRA.

    The original (`model/optimization.py` of google-research/electra) updates
    `w -= lr * (m / (sqrt(v) + eps) + decay * w)` with the raw moving averages
    `m`, `v`; Keras divides by `1 - beta^t` first, which makes the original's
    early updates larger (x3.2 at step 1, x1.26 at step 1,000): most of a
    fine-tuning run. `bias_correction=False` gives the original's update.
    Keras scales the rate by `sqrt(1 - beta_2^t) / (1 - beta_1^t)` and leaves
    epsilon alone, so dividing that factor out of the rate is exactly the
    original.

    Example:
    ```python
    import keras

    optimizer = ElectraAdamW(learning_rate=1e-4, weight_decay=0.01, epsilon=1e-6,
                             bias_correction=False)
    weight = keras.Variable([1.0])
    optimizer.apply([keras.ops.convert_to_tensor([0.5])], [weight])
    # The first step, in learning rates: m / (sqrt(v) + eps) + decay x w with the raw
    # m = 0.1 g and v = 0.001 g^2, i.e. 3.16 + 0.01 (Keras' corrected Adam: 1 + 0.01)
    float(1.0 - weight.numpy()[0]) / 1e-4  # -> 3.17
    ```
    """

    def __init__(self, bias_correction=True, **kwargs):
        super().__init__(**kwargs)
        self.bias_correction = bool(bias_correction)

    def update_step(self, gradient, variable, learning_rate):
        if not self.bias_correction:
            step = keras.ops.cast(self.iterations + 1, variable.dtype)
            beta_1_power = keras.ops.power(keras.ops.cast(self.beta_1, variable.dtype), step)
            beta_2_power = keras.ops.power(keras.ops.cast(self.beta_2, variable.dtype), step)
            learning_rate = keras.ops.cast(learning_rate, variable.dtype) * (
                (1 - beta_1_power) / keras.ops.sqrt(1 - beta_2_power))
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "bias_correction": self.bias_correction}


def create_optimizer(config, learning_rate=None):
    """Keras AdamW with the config's recipe.

    Keras' Adam applies bias correction, which the original omits; under the
    warmup ramp the two differ only in the first steps.
    """
    schedule = learning_rate or WarmupLinearDecay(
        config.learning_rate, config.warmup_steps, config.train_steps
    )
    return _adamw_with_recipe(keras.optimizers.AdamW, config, schedule)


def _adamw_with_recipe(optimizer_class, config, schedule, **kwargs):
    """AdamW with the config's decay, epsilon and clipping; no decay on bias / LayerNorm."""
    optimizer = optimizer_class(
        learning_rate=schedule,
        weight_decay=config.weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=config.adam_epsilon,
        global_clipnorm=config.clip_norm,
        **kwargs,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_VARIABLE_NAMES))
    return optimizer


# ------------------------------------------------------------------ fine-tuning
# Variables of the embedding block of `keras_hub.models.ElectraBackbone`; the
# original's "/embeddings/" and "/embeddings_project/" scopes.
_EMBEDDING_LAYERS = (
    "token_embedding", "position_embedding", "segment_embedding",
    "embeddings_layer_norm", "embeddings_projection",
)


def electra_layer_multipliers(num_layers: int, layer_decay: float) -> dict[str, float]:
    """Learning-rate multipliers by variable path, as the original `_get_layer_lrs`.

    Depth 0 is the embedding block, depth i + 1 the transformer layer
    `transformer_layer_i`, depth L + 2 the task head; a variable at depth d
    gets `layer_decay ** (L + 2 - d)`. So the embeddings get decay^(L+2), the
    top transformer layer decay^2 (not decay^1: the original reserves depth
    L + 1 for nothing), and heads the full rate. A pre-LN encoder's
    `final_layer_norm`, above the top layer and below the heads, takes depth
    L + 1. Keys are regular expressions matched against `variable.path`;
    unmatched variables (the heads) get 1.
    """
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay must be in (0, 1], got {layer_decay!r}.")
    embeddings = "|".join(_EMBEDDING_LAYERS)
    multipliers = {rf"(^|/)({embeddings})/": layer_decay ** (num_layers + 2)}
    for i in range(num_layers):
        multipliers[rf"(^|/)transformer_layer_{i}/"] = layer_decay ** (num_layers + 1 - i)
    multipliers[r"(^|/)final_layer_norm/"] = layer_decay
    return multipliers


@keras.saving.register_keras_serializable(package="electra_tf")
class LayerwiseAdamW(compat.DecayInUpdateStep, ElectraAdamW):
    """AdamW whose learning rate is scaled per variable (layer-wise decay).

    `bias_correction=False` gives the original's uncorrected update (see
    `ElectraAdamW`).

    Keras optimisers have one learning rate; scaling gradients instead would
    not work, as Adam's update is invariant to the gradient's scale. Here
    `update_step` multiplies the rate by the multiplier of the first pattern in
    `lr_multipliers` (regex -> factor, see `electra_layer_multipliers`) that
    matches the variable's path. Weight decay uses the scaled rate too, as in
    the original, where decay is part of the update the rate multiplies.

    Example:
    ```python
    optimizer = LayerwiseAdamW(
        learning_rate=1e-4, weight_decay=0.01,
        lr_multipliers=electra_layer_multipliers(num_layers=12, layer_decay=0.8),
    )
    # The first pattern matching a variable's path gives its multiplier; 1 if none does.
    optimizer.lr_multiplier("electra_backbone/transformer_layer_11/self_attention/query/kernel")
    # -> 0.64
    optimizer.lr_multiplier("electra_backbone/token_embedding/embeddings")  # 0.8 ** 14
    # -> 0.044
    optimizer.lr_multiplier("classifier_head/kernel")  # -> 1.0
    ```
    """

    def __init__(self, lr_multipliers=None, **kwargs):
        super().__init__(**kwargs)
        self.lr_multipliers = {str(k): float(v) for k, v in (lr_multipliers or {}).items()}
        self._patterns = [(re.compile(k), v) for k, v in self.lr_multipliers.items()]

    def lr_multiplier(self, path: str) -> float:
        for pattern, multiplier in self._patterns:
            if pattern.search(path):
                return multiplier
        return 1.0

    def build(self, variables):
        super().build(variables)
        # Resolved once on the Keras variables: inside a distributed update
        # step the variable is a bare tf.Variable without a Keras path.
        self._multipliers = [self.lr_multiplier(v.path) for v in variables]
        self._decays = [bool(self.weight_decay) and compat.uses_weight_decay(self, v)
                        for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        index = compat.variable_index(self, variable)
        learning_rate = keras.ops.cast(learning_rate, variable.dtype) * self._multipliers[index]
        if self._decays[index]:
            decay = keras.ops.cast(self.weight_decay, variable.dtype)
            self.assign_sub(variable, variable * decay * learning_rate)
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "lr_multipliers": self.lr_multipliers}


def create_finetuning_optimizer(config, train_steps, learning_rate=1e-4, layer_decay=0.8,
                                warmup_fraction=0.1, bias_correction=True):
    """The ELECTRA fine-tuning recipe for an encoder of `config`'s depth.

    AdamW (the config's weight decay, epsilon and clipping; no decay on biases
    and LayerNorm), linear warmup over `warmup_fraction` of `train_steps` then
    linear decay to zero, and layer-wise decay (0.8 in the paper, 0.9 for
    Large; 1.0 turns it off). The paper's rates: 3e-4 Small, 1e-4 Base, 5e-5
    Large. `config.learning_rate` is the pre-training rate and is not used.
    `bias_correction=False` is the original's Adam (the paper recipes' setting).
    """
    if not 0.0 <= warmup_fraction < 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction!r}.")
    return _adamw_with_recipe(
        LayerwiseAdamW,
        config,
        WarmupLinearDecay(learning_rate, int(warmup_fraction * train_steps), train_steps),
        lr_multipliers=electra_layer_multipliers(config.num_layers, layer_decay),
        bias_correction=bias_correction,
    )


def clip_by_global_norm_across_replicas(gradients, clip_norm):
    """Clips the *global* gradient when replicas' partial gradients are summed later.

    Keras 3 clips (`global_clipnorm`) each replica's partial gradient before
    its all-reduce, so with N replicas the summed gradient may reach N times
    the configured norm. This sums the partial gradients, clips the total,
    and hands each replica 1/N of it: the optimizer's own sum then rebuilds
    exactly the clipped global gradient. With one replica it only clips.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        gradients = tf.distribute.get_replica_context().all_reduce("SUM", gradients)
    gradients, _ = tf.clip_by_global_norm(gradients, clip_norm)
    return [_scale(g, 1.0 / replicas) for g in gradients] if replicas > 1 else gradients


def _scale(gradient, factor):
    if isinstance(gradient, tf.IndexedSlices):  # embedding gradients
        return tf.IndexedSlices(gradient.values * factor, gradient.indices, gradient.dense_shape)
    return gradient * factor
