"""`tf.distribute` strategies chosen by name (for script flags).

Example:
```python
from electra_tf.training.distribute import strategy_from_name

strategy = strategy_from_name("mirrored")  # every local GPU, or the CPU
with strategy.scope():
    ...  # build and compile the model here
```
"""

import tensorflow as tf

STRATEGIES = ("default", "mirrored")


def strategy_from_name(name: str) -> tf.distribute.Strategy:
    """`default` (one device) or `mirrored` (all local devices, synchronous).

    Multi-worker training is not offered yet: `MultiWorkerMirroredStrategy`
    with `model.fit` fails in Keras 3.15 (keras-team/keras#20585).
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; choose one of {STRATEGIES}.")


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
