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
