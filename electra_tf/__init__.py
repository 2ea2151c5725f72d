"""electra_tf: ELECTRA pre-training, fine-tuning and export on Keras 3 / TensorFlow."""

import os

# Keras 3 picks its backend at import time; this package is TensorFlow-only.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from electra_tf.config import ConfigError, ElectraConfig  # noqa: E402
from electra_tf.data.masking import DynamicMasking  # noqa: E402
from electra_tf.models.generator import ElectraGenerator  # noqa: E402
from electra_tf.models.pretrainer import ElectraPretrainer  # noqa: E402

__all__ = [
    "ConfigError",
    "DynamicMasking",
    "ElectraConfig",
    "ElectraGenerator",
    "ElectraPretrainer",
]
