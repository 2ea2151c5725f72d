"""`ImageCaptionBackbone`: a small convolutional image encoder in place of the text encoder.

The decoder is the seq2seq models' (`EncoderDecoderBackbone`); only the
source side changes: `images` `[batch, height, width, channels]` become a
sequence of patch features that the decoder cross-attends to.

Example:
```python
import numpy as np
from electra_tf.models.captioning.backbone import ImageCaptionBackbone

backbone = ImageCaptionBackbone(image_shape=(8, 16, 1), vocabulary_size=20, hidden_dim=32)
ids = np.ones((2, 4), "int32")
outputs = backbone({"images": np.zeros((2, 8, 16, 1), "float32"),
                    "decoder_token_ids": ids, "decoder_padding_mask": ids})
outputs["encoder_sequence_output"].shape  # 4x8 patches, 32 wide  # -> (2, 32, 32)
```
"""

import keras
import keras_hub
from keras import ops

from electra_tf.config import feedforward_size
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.models.seq2seq.encoder_decoder_backbone import EncoderDecoderBackbone


@keras.saving.register_keras_serializable(package="electra_tf")
class PatchPositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each patch's position to `[batch, patches, hidden]`.

    Cross-attention reads the patches as a set: without their positions a
    captioner can tell which digits an image holds but not in which order.
    keras-hub's `PositionEmbedding` returns the embeddings; this layer adds
    them, so it can sit in the encoder's `Sequential`.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.position_embedding = None

    def build(self, input_shape):
        self.position_embedding = keras_hub.layers.PositionEmbedding(
            sequence_length=input_shape[1], initializer=electra_kernel_initializer(),
            dtype=self.dtype_policy, name="position_embedding")
        self.position_embedding.build(input_shape)

    def call(self, inputs):
        return inputs + self.position_embedding(inputs)


@keras.saving.register_keras_serializable(package="electra_tf")
class ImageCaptionBackbone(EncoderDecoderBackbone):
    """Conv stack → patch sequence → the seq2seq decoder.

    Two 3x3 convolutions (the second strided 2) and a dense projection to
    `hidden_dim`: an 8x16 image becomes 4x8 = 32 source positions, all
    attended to, each with a learned embedding of its position
    (`patch_positions`; off in backbones saved before it existed, which load
    as they were). Inputs: `images`, `decoder_token_ids`, `decoder_padding_mask`.
    The decoder is `ElectraSeq2SeqBackbone`'s (`EncoderDecoderBackbone`).
    `dtype` is the Keras dtype policy of encoder and decoder (e.g.
    `"mixed_bfloat16"`; `None`: the global policy).
    """

    def __init__(self, image_shape, vocabulary_size, hidden_dim=64, num_decoder_layers=2,
                 decoder_num_heads=2, decoder_intermediate_dim=None, filters=32, dropout=0.1,
                 max_target_length=32, patch_positions=True, dtype=None, **kwargs):
        # Each layer takes the policy (a Sequential has none of its own).
        encoder = keras.Sequential([
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu", dtype=dtype),
            keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu",
                                dtype=dtype),
            keras.layers.Reshape((-1, filters), dtype=dtype),
            keras.layers.Dense(hidden_dim, kernel_initializer=electra_kernel_initializer(),
                               dtype=dtype),
            *([PatchPositionEmbedding(dtype=dtype)] if patch_positions else []),
            keras.layers.LayerNormalization(epsilon=1e-12, dtype=dtype),
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
        self.patch_positions = patch_positions

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
            "patch_positions": self.patch_positions,
        }

    @classmethod
    def from_config(cls, config):
        # Backbones saved before `patch_positions` existed have no position embedding.
        return super().from_config({"patch_positions": False, **config})
