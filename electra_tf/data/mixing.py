"""Mixing the batches of several tasks into one training stream, for multi-task learning.

Task `k` with `n_k` training examples is drawn with probability
`p_k ∝ n_k^(1/T)`: `T = 1` samples in proportion to the data, larger `T`
flattens towards uniform so small tasks are not drowned out.

Example:
```python
import tensorflow as tf
from electra_tf.data.mixing import mix_tasks, sampling_probabilities

sampling_probabilities({"sentiment": 300, "ner": 100})  # -> {'sentiment': 0.75, 'ner': 0.25}
tf.random.set_seed(0)  # the draw depends on TensorFlow's global seed too
stream = mix_tasks({"sentiment": tf.data.Dataset.from_tensors("s"),
                    "ner": tf.data.Dataset.from_tensors("n")},
                   sizes={"sentiment": 300, "ner": 100}, seed=0)
[x.numpy() for x in stream.take(8)]  # three "sentiment" batches to one "ner", at random
# -> [b's', b's', b'n', b's', b's', b's', b'n', b's']
```
"""

import tensorflow as tf


def sampling_probabilities(sizes, temperature=1.0):
    """`p_k ∝ n_k^(1/T)`: T = 1 is proportional sampling, larger T flattens towards uniform."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}.")
    scaled = {name: float(n) ** (1.0 / temperature) for name, n in sizes.items()}
    total = sum(scaled.values())
    return {name: value / total for name, value in scaled.items()}


def mix_tasks(datasets, sizes, temperature=1.0, seed=None):
    """One endless stream of batches, each from one task chosen at random.

    `datasets` maps task names to batch pipelines sharing one structure (for
    `ElectraMultiTask`, its `task_batches`); `sizes` to their numbers of
    training examples.
    """
    probabilities = sampling_probabilities(sizes, temperature)
    names = sorted(datasets)
    return tf.data.Dataset.sample_from_datasets(
        [datasets[name].repeat() for name in names],
        weights=[probabilities[name] for name in names],
        seed=seed,
    )
