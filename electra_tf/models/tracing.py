"""Moved to `electra_tf.compat.tracing`, beside the other Keras-internals workarounds;
this path keeps working for existing imports."""

from electra_tf.compat.tracing import BuildOptimizerBeforeTraining  # noqa: F401
