"""A resumable stream of stateless random seeds.

Keras' `SeedGenerator` keeps its state outside the saved weights, so a run
resumed from a checkpoint would replay the masks of its first steps. Here the
counter is a (non-trainable) weight of the layer: it is checkpointed with the
model, and every call, on every replica, gets a seed of its own.
"""

import keras
import numpy as np
import tensorflow as tf


class SeedStream(keras.layers.Layer):
    """`next_seed()` gives a new `[2]` int32 seed for `tf.random.stateless_*` ops.

    Example:
    ```python
    stream = SeedStream(seed=0)
    tf.random.stateless_uniform([3], seed=stream.next_seed())  # -> [0.211, 0.706, 0.800]
    tf.random.stateless_uniform([3], seed=stream.next_seed())  # a new seed on each call
    # -> [0.082, 0.409, 0.393]
    stream.next_seed(), stream.counter  # [seed, count]; the count is a weight, saved with the model
    # -> ([0, 2], 3)
    ```
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._base_seed = int(np.random.randint(2**31 - 1)) if seed is None else int(seed)
        # One copy per replica, each advanced by its own replica (every replica
        # calls as often, so they stay equal) and saved from the first: no
        # cross-replica sync, which would fail inside the loop that
        # accumulates gradients. `add_weight` cannot ask for that.
        with keras.name_scope(self.name, caller=self):
            self.counter = keras.Variable(
                0, dtype="int32", trainable=False, name="counter",
                aggregation="only_first_replica", synchronization="on_read")

    def next_seed(self):
        replica = tf.distribute.get_replica_context()
        replica_id = 0 if replica is None else replica.replica_id_in_sync_group
        count = tf.identity(self.counter)
        self.counter.assign_add(1)
        base = tf.constant(self._base_seed, tf.int32) + 1_000_003 * tf.cast(replica_id, tf.int32)
        return tf.stack([base, count])

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
