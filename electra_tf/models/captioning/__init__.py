"""Image captioning: `ImageCaptioner` (`captioner.py`), the seq2seq task with an image
encoder (`ImageCaptionBackbone`, `backbone.py`) and `ImageCaptionPreprocessor`
(`preprocessor.py`). Its dataset, `digit_captions`, is `electra_tf.data.captioning`."""

from electra_tf.models import moved_attribute
from electra_tf.models.captioning.backbone import ImageCaptionBackbone
from electra_tf.models.captioning.captioner import ImageCaptioner
from electra_tf.models.captioning.preprocessor import ImageCaptionPreprocessor

__all__ = ["ImageCaptionBackbone", "ImageCaptionPreprocessor", "ImageCaptioner"]


def __getattr__(name):
    # Before models/ was grouped by task this package was one module, its dataset included:
    # its other names still import from here, with a warning (`electra_tf.models.MOVED`).
    return moved_attribute(__name__, name)
