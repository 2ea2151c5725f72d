"""Text classification: `ElectraClassifier` (`classifier.py`) on one sentence or a pair,
packed by `ElectraTextClassifierPreprocessor` (`preprocessor.py`)."""

from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor

__all__ = ["ElectraClassifier", "ElectraTextClassifierPreprocessor"]
