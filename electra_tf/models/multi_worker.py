"""Moved to `electra_tf.compat.multi_worker`, beside the other Keras-internals workarounds;
this path keeps working for existing imports."""

from electra_tf.compat.multi_worker import (  # noqa: F401
    KERAS_VERSIONS,
    MultiWorkerFit,
    MultiWorkerKerasSteps,
    in_multi_worker_mode,
    worker_count,
    worker_logs,
)
