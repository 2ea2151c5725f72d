"""Token tagging (named entities): `ElectraTagger` (`tagger.py`) on words, packed into
WordPieces by `ElectraTaggerPreprocessor` (`preprocessor.py`)."""

from electra_tf.models.tagging.preprocessor import ElectraTaggerPreprocessor
from electra_tf.models.tagging.tagger import ElectraTagger

__all__ = ["ElectraTagger", "ElectraTaggerPreprocessor"]
