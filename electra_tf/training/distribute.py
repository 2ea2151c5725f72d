"""`tf.distribute` strategies chosen by name (for script flags), and what each worker touches.

| name | strategy | where |
|---|---|---|
| `default` | TensorFlow's default | one device |
| `mirrored` | `MirroredStrategy` | every GPU of one machine (or its CPU) |
| `multi_worker` | `MultiWorkerMirroredStrategy` | several machines, described by `TF_CONFIG` |
| `tpu` | `TPUStrategy` | a Cloud TPU (`tpu`: its name or address; empty on a TPU VM) |

Under a multi-worker strategy every worker runs the same command with its own
`TF_CONFIG`. The configured batch is the global batch. Each worker reads its
own share of the input (`shard_input`); only the chief writes the run folder,
the others write into temporary folders removed at the end (`worker_dir`)
and read the chief's backup to resume.

Example:
```python
from electra_tf.training.distribute import strategy_from_name

strategy = strategy_from_name("mirrored")  # every local GPU, or the CPU
with strategy.scope():
    ...  # build and compile the model here
strategy.num_replicas_in_sync  # 1 on a machine without GPUs  # -> 1
```
"""

import contextlib
import logging
import os
import pathlib
import shutil
import tempfile

import tensorflow as tf

from electra_tf.compat.multi_worker import in_multi_worker_mode, worker_count

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")

log = logging.getLogger(__name__)


def strategy_from_name(name: str, tpu: str | None = None) -> tf.distribute.Strategy:
    """The strategy `name` (see the module docstring); `tpu` addresses the TPU of `tpu`."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            log.warning("--strategy multi_worker without TF_CONFIG: this process trains alone. "
                        "Set TF_CONFIG on every worker (README, \"Scaling up\").")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, OSError, tf.errors.OpError) as error:  # no TPU where it looked
            where = f"--tpu {tpu}" if tpu else "this machine (not a Cloud TPU VM)"
            raise RuntimeError(
                f"--strategy tpu found no TPU at {where} ({type(error).__name__}: {error}). "
                "Give --tpu the TPU's name or grpc:// address, or run on a TPU VM.") from None
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}; choose one of {STRATEGIES}.")


def is_chief(strategy) -> bool:
    """Whether this process writes the run's outputs: the `chief` task if the cluster
    has one, else worker 0; a single process always."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not in_multi_worker_mode(strategy):
        return True
    if "chief" in resolver.cluster_spec().as_dict():
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


@contextlib.contextmanager
def worker_dir(path, strategy):
    """Yields the folder this process writes the run in: `path` on the chief, a
    temporary folder on the other workers, removed when the block ends."""
    if is_chief(strategy):
        yield pathlib.Path(path)
        return
    resolver = strategy.cluster_resolver
    own = tempfile.mkdtemp(prefix=f"electra_tf-{resolver.task_type}-{resolver.task_id}-")
    try:
        yield pathlib.Path(own)
    finally:
        shutil.rmtree(own, ignore_errors=True)


def shard_input(dataset, files, strategy):
    """`dataset` set to be shared among the workers: by file when every worker gets at least
    one, by example otherwise (every worker then reads all files and keeps its share)."""
    if not in_multi_worker_mode(strategy):
        return dataset
    workers = worker_count(strategy)
    by_file = len(files) >= workers
    policy = (tf.data.experimental.AutoShardPolicy.FILE if by_file
              else tf.data.experimental.AutoShardPolicy.DATA)
    log.info("worker %d of %d reads its share of the input by %s (%d file(s))",
             strategy.cluster_resolver.task_id, workers, "file" if by_file else "example",
             len(files))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    return dataset.with_options(options)
