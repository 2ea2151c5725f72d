"""Captioning: a small convolutional image encoder in place of the text encoder.

The decoder, its tied output projection, the samplers and cached decoding are
`ElectraSeq2SeqLM`'s; only the source side changes: `images` `[batch, height,
width, channels]` become a sequence of patch features that the decoder
cross-attends to. `digit_captions` composes images from scikit-learn's
bundled `load_digits` (8x8 digits side by side) with English or Chinese
captions naming the digits.

Example:
```python
from electra_tf import tokenization
from electra_tf.models.captioning import (ImageCaptionBackbone, ImageCaptioner,
                                          ImageCaptionPreprocessor, digit_captions)

images, captions = digit_captions(num_examples=64, language="zh")
tokenizer = tokenization.make_tokenizer(tokenization.build_vocabulary(captions, 30))
backbone = ImageCaptionBackbone(image_shape=images.shape[1:],
                                vocabulary_size=tokenizer.vocabulary_size(), hidden_dim=32)
captioner = ImageCaptioner(backbone, ImageCaptionPreprocessor(tokenizer,
                                                              decoder_sequence_length=8))
captioner.fit({"images": images, "captions": captions}, epochs=1)
captioner.generate(images[:2], max_length=8)
```
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from electra_tf import compat
from electra_tf.config import feedforward_size
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.models.seq2seq_backbone import EncoderDecoderBackbone
from electra_tf.models.seq2seq_lm import ElectraSeq2SeqLM
from electra_tf.models.seq2seq_preprocessor import ElectraSeq2SeqLMPreprocessor

DIGIT_NAMES = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "zh": list("零一二三四五六七八九"),
}


def digit_captions(num_examples=1000, digits_per_image=2, language="en", split="train",
                   seed=0):
    """Images of `digits_per_image` digits side by side, and their captions.

    The `load_digits` images (1,797) are split in two halves so `split="test"`
    composes only digit images never seen in training. Pixels are scaled to
    [0, 1]; captions name the digits left to right ("three five" / "三五").
    """
    from sklearn.datasets import load_digits  # pip install electra_tf[generation]

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    digits = load_digits()
    half = len(digits.images) // 2
    pool = slice(0, half) if split == "train" else slice(half, None)
    images, labels = digits.images[pool] / 16.0, digits.target[pool]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(images), (num_examples, digits_per_image))
    composed = np.concatenate([images[picks[:, i]] for i in range(digits_per_image)], axis=2)
    separator = " " if language == "en" else ""
    names = DIGIT_NAMES[language]
    captions = [separator.join(names[d] for d in labels[row]) for row in picks]
    return composed[..., None].astype("float32"), captions


@keras.saving.register_keras_serializable(package="electra_tf")
class ImageCaptionBackbone(EncoderDecoderBackbone):
    """Conv stack → patch sequence → the seq2seq decoder.

    Two 3x3 convolutions (the second strided 2) and a dense projection to
    `hidden_dim`: an 8x16 image becomes 4x8 = 32 source positions, all
    attended to. Inputs: `images`, `decoder_token_ids`, `decoder_padding_mask`.
    The decoder is `ElectraSeq2SeqBackbone`'s (`EncoderDecoderBackbone`).
    """

    def __init__(self, image_shape, vocabulary_size, hidden_dim=64, num_decoder_layers=2,
                 decoder_num_heads=2, decoder_intermediate_dim=None, filters=32, dropout=0.1,
                 max_target_length=32, dtype=None, **kwargs):
        encoder = keras.Sequential([
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Reshape((-1, filters)),
            keras.layers.Dense(hidden_dim, kernel_initializer=electra_kernel_initializer()),
            keras.layers.LayerNormalization(epsilon=1e-12),
        ], name="image_encoder")
        super().__init__(
            encoder,
            {"images": keras.Input(shape=tuple(image_shape), dtype="float32", name="images")},
            vocabulary_size=vocabulary_size,
            hidden_dim=hidden_dim,
            num_decoder_layers=num_decoder_layers,
            decoder_num_heads=decoder_num_heads,
            decoder_intermediate_dim=decoder_intermediate_dim or feedforward_size(hidden_dim),
            dropout=dropout,
            max_target_length=max_target_length,
            dtype=dtype,
            **kwargs,
        )
        self.image_shape = tuple(image_shape)
        self.vocabulary_size = vocabulary_size
        self.filters = filters

    def encode(self, inputs):
        states = self.encoder(inputs["images"])
        return states, ops.cast(ops.ones_like(states[..., 0]), "int32")

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "vocabulary_size": self.vocabulary_size,
            "hidden_dim": self.hidden_dim,
            "filters": self.filters,
        }


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
    y.numpy().tolist()  # [[5, 6, 3, 0], [6, 3, 0, 0]]: the captions, [SEP], padding
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


@keras.saving.register_keras_serializable(package="electra_tf")
class ImageCaptioner(ElectraSeq2SeqLM):
    """`ElectraSeq2SeqLM` over images: `fit({"images", "captions"})`, `generate(images)`."""

    backbone_cls = ImageCaptionBackbone
    preprocessor_cls = ImageCaptionPreprocessor
