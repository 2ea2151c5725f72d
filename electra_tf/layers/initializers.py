"""Weight initialisation shared by every ELECTRA layer (truncated normal, std 0.02)."""

import keras


def electra_kernel_initializer(stddev=0.02):
    return keras.initializers.TruncatedNormal(stddev=stddev)
