"""Released ELECTRA checkpoints in and out: Hugging Face, original TF1, keras-hub."""

from electra_tf.convert.weights import ConversionError

__all__ = ["ConversionError"]
