"""What Keras' `fit` needs to run under distribution strategies, in one place.

`model.fit` with `tf.distribute.MultiWorkerMirroredStrategy` fails in Keras
3.15 (keras-team/keras#20585, tensorflow/tensorflow#72388) at two points of
Keras' TensorFlow trainer:

1. before training it builds the model from the first input batch averaged
   across replicas (`strategy.reduce("MEAN", batch)`), which the multi-worker
   strategy cannot do for a nested batch (a dict of token ids, ...), and no
   strategy can for a boolean one (a task's padding mask under
   `MirroredStrategy` fails the same way). The build needs shapes and dtypes
   only: `MultiWorkerFit` builds from the input's element spec, one replica's
   batch of it. It does not draw that batch: Keras would open an iterator on
   the training dataset and drop it, and the dropped iterator moves the
   dataset's reshuffling seeds (`shuffle`/`Dataset.random` with
   `reshuffle_each_iteration`) by as many passes as it (and its prefetching)
   began, so the iterator that trains would read another stream, different
   again after a resume that skips the steps already trained;
2. after every step it averages the step's logs with
   `strategy.reduce("MEAN", value, axis=0)`, which fails for the scalar
   metrics every model logs; the same values with shape `[1]` average to the
   same scalar (`worker_logs`, which each train and test step returns through).

Both touch Keras internals, so they hold for the Keras versions in
`KERAS_VERSIONS`: a test fails when Keras moves on, to re-check them (and drop
them once Keras fixes the issue). Without a strategy both do nothing; the
second acts under a multi-worker strategy only.

Example:
```python
import keras
from electra_tf.compat.multi_worker import MultiWorkerFit, worker_logs

class MyModel(MultiWorkerFit, keras.Model):
    def train_step(self, data):
        ...
        return worker_logs({m.name: m.result() for m in self.metrics})

worker_logs({"loss": 0.5})  # without a multi-worker strategy: unchanged  # -> {'loss': 0.5}
```
"""

import keras
import tensorflow as tf

KERAS_VERSIONS = ("3.15",)


def worker_count(strategy=None) -> int:
    """Workers (chief included) `strategy` (default: the current one) trains on."""
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return 1
    jobs = resolver.cluster_spec().as_dict()
    return max(1, sum(len(jobs.get(job, ())) for job in ("chief", "worker")))


def in_multi_worker_mode(strategy=None) -> bool:
    """Whether `strategy` (default: the current one) spans more than one worker."""
    return worker_count(strategy) > 1


def worker_logs(logs):
    """`logs` as a train or test step returns them to `fit` (point 2 above)."""
    if not in_multi_worker_mode():
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


class MultiWorkerFit:
    """Model mixin, before the Keras model class in the bases: under a strategy, builds
    from the shapes of one replica's batch, without reading the input (point 1 above)."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is None or self._distribute_strategy is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        data_batch = _replica_batch_spec(iterator, self._distribute_strategy)
        if data_batch is None:  # Not a tf.data.Dataset of dense tensors: draw a batch.
            for _, _, batches in iterator:
                first = next(batches)
                break
            local = self.distribute_strategy.experimental_local_results
            data_batch = tf.nest.map_structure(
                lambda value: local(value)[0] if isinstance(value, tf.distribute.DistributedValues)
                else value, first)
        return super()._maybe_symbolic_build(data_batch=data_batch)


def _replica_batch_spec(epoch_iterator, strategy):
    """Symbolic tensors shaped like one replica's batch of `epoch_iterator`'s dataset (Keras'
    `TFEpochIterator`), or `None` when its input is not a `tf.data.Dataset` of dense tensors."""
    adapter = getattr(epoch_iterator, "data_adapter", None)
    get_dataset = getattr(adapter, "get_tf_dataset", None)
    dataset = get_dataset() if get_dataset else None
    if not isinstance(dataset, tf.data.Dataset):
        return None
    specs = tf.nest.flatten(dataset.element_spec)
    if not all(isinstance(spec, tf.TensorSpec) for spec in specs):
        return None
    replicas = strategy.num_replicas_in_sync

    def replica_tensor(spec):
        shape = spec.shape.as_list()
        if shape and shape[0] is not None:
            # The global batch, split as the strategy splits it (any size would build).
            shape[0] = max(1, shape[0] // replicas)
        return keras.KerasTensor(shape, dtype=spec.dtype.name)

    return tf.nest.map_structure(replica_tensor, dataset.element_spec)


class MultiWorkerKerasSteps(MultiWorkerFit):
    """`MultiWorkerFit` for models that keep Keras' own train and test steps: their logs
    go through `worker_logs` (point 2 above)."""

    def train_step(self, data):
        return worker_logs(super().train_step(data))

    def test_step(self, data):
        return worker_logs(super().test_step(data))
