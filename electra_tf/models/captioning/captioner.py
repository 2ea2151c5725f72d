"""`ImageCaptioner`: `ElectraSeq2SeqLM` over images, `fit` on images and captions, `generate`.

The decoder, its tied output projection, the samplers and cached decoding are
`ElectraSeq2SeqLM`'s; the source side is `ImageCaptionBackbone`'s image
encoder (`backbone.py`) and `ImageCaptionPreprocessor` (`preprocessor.py`)
passes the images through. `electra_tf.data.captioning.digit_captions` makes
a small dataset to try it on.

Example:
```python
from electra_tf import tokenization
from electra_tf.data.captioning import digit_captions
from electra_tf.models.captioning.backbone import ImageCaptionBackbone
from electra_tf.models.captioning.captioner import ImageCaptioner
from electra_tf.models.captioning.preprocessor import ImageCaptionPreprocessor

images, captions = digit_captions(num_examples=64, language="zh")
tokenizer = tokenization.make_tokenizer(tokenization.build_vocabulary(captions, 30))
backbone = ImageCaptionBackbone(image_shape=images.shape[1:],
                                vocabulary_size=tokenizer.vocabulary_size(), hidden_dim=32)
captioner = ImageCaptioner(backbone, ImageCaptionPreprocessor(tokenizer,
                                                              decoder_sequence_length=8))
captioner.fit({"images": images, "captions": captions}, epochs=1)
len(captioner.generate(images[:2], max_length=8))  # a caption per image, poor after one epoch  # -> 2
```
"""

import keras

from electra_tf.models.captioning.backbone import ImageCaptionBackbone
from electra_tf.models.captioning.preprocessor import ImageCaptionPreprocessor
from electra_tf.models.seq2seq.seq2seq_lm import ElectraSeq2SeqLM


@keras.saving.register_keras_serializable(package="electra_tf")
class ImageCaptioner(ElectraSeq2SeqLM):
    """`ElectraSeq2SeqLM` over images: `fit({"images", "captions"})`, `generate(images)`."""

    backbone_cls = ImageCaptionBackbone
    preprocessor_cls = ImageCaptionPreprocessor
