"""`ImageCaptionPreprocessor`: images and captions in, decoder inputs, labels and weights out.

The captions are packed as `ElectraSeq2SeqLMPreprocessor` packs targets;
the images pass through untouched to `ImageCaptionBackbone`. The example is
the class's.
"""

import keras
import tensorflow as tf

from electra_tf import compat
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor


@keras.saving.register_keras_serializable(package="electra_tf")
class ImageCaptionPreprocessor(ElectraSeq2SeqLMPreprocessor):
    """`{"images", "captions"}` → decoder inputs, labels and weights; images pass through.

    Example:
    ```python
    import numpy as np
    from electra_tf import tokenization
    tokenizer = tokenization.make_tokenizer(list(tokenization.SPECIAL_TOKENS) + ["one", "two"])
    preprocessor = ImageCaptionPreprocessor(tokenizer, decoder_sequence_length=4)
    images = np.zeros((2, 8, 16, 1), "float32")
    x, y, w = preprocessor({"images": images, "captions": ["one two", "two"]})
    y.numpy().tolist()  # the captions, [SEP], padding  # -> [[5, 6, 3, 0], [6, 3, 0, 0]]
    ```
    """

    @compat.preprocessing_function
    def call(self, x, y=None, sample_weight=None, *, sequence_length=None,
             decoder_sequence_length=None, encoder_sequence_length=None):
        length = decoder_sequence_length or sequence_length or self.decoder_sequence_length
        ids, mask = self.decoder_packer(self.tokenizer(x["captions"]),
                                        sequence_length=length + 1)
        inputs = {"images": x["images"], "decoder_token_ids": ids[..., :-1],
                  "decoder_padding_mask": mask[..., :-1]}
        return keras.utils.pack_x_y_sample_weight(inputs, ids[..., 1:], mask[..., 1:])

    @compat.preprocessing_function
    def generate_preprocess(self, x, *, sequence_length=None, decoder_sequence_length=None,
                            encoder_sequence_length=None):
        if not self.built:
            self.build(None)
        images = x["images"] if isinstance(x, dict) else x
        length = decoder_sequence_length or sequence_length or self.decoder_sequence_length
        empty = tf.fill(tf.shape(images)[:1], "")  # one empty prompt per image
        ids, mask = self.decoder_packer(self.tokenizer(empty), sequence_length=length,
                                        add_end_value=False)
        return {"images": images, "decoder_token_ids": ids, "decoder_padding_mask": mask}

    def count_truncated(self, images):
        """Images are never truncated."""
        return 0
