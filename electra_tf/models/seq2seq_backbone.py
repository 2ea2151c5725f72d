"""Encoder-decoder backbones: an encoder's states, cross-attended by an `ElectraDecoder`.

* `EncoderDecoderBackbone` — what every encoder-decoder here shares: the
  decoder (`electra_tf.layers.decoder.ElectraDecoder`, in `self.decoder`; its
  token embedding is `self.token_embedding`), the functional wiring
  (inputs: the encoder's plus `decoder_token_ids`, `decoder_padding_mask`;
  outputs: `encoder_sequence_output`, `decoder_sequence_output`), the
  decoder's config, and loading weights saved before the decoder was one
  layer. A subclass makes its encoder and its inputs and says how to `encode`
  them into `(states, padding_mask)`; `ImageCaptionBackbone`
  (`electra_tf.models.captioning`) is one.
* `ElectraSeq2SeqBackbone` — text in: an ELECTRA discriminator as the
  encoder (`make_encoder`: random, a keras-hub preset, or an electra_tf
  pre-training directory's discriminator), shaped like `keras_hub.models.BartBackbone`.
  The target vocabulary may differ from the source's (translation).

Example:
```python
import numpy as np
from electra_tf.models.seq2seq_backbone import ElectraSeq2SeqBackbone, make_encoder

encoder = make_encoder(vocabulary_size=30, hidden_dim=16, num_layers=1, num_heads=2,
                       intermediate_dim=32, max_sequence_length=16)
backbone = ElectraSeq2SeqBackbone(encoder, target_vocabulary_size=20, max_target_length=8)
ids = np.ones((2, 5), "int32")
outputs = backbone({"encoder_token_ids": ids, "encoder_padding_mask": ids,
                    "decoder_token_ids": ids, "decoder_padding_mask": ids})
outputs["decoder_sequence_output"].shape  # (2, 5, 16)
```
"""

import contextlib
import os
import re
import tempfile

import h5py
import keras
import keras_hub
from keras import ops

from electra_tf.layers.decoder import ElectraDecoder
from electra_tf.models.model_dir import encoder_preset


def make_encoder(source=None, load_weights=True, **config):
    """An `ElectraBackbone` to serve as the encoder.

    `source` is `None` (random, built from `config`: `vocabulary_size`,
    `hidden_dim`, `num_layers`, `num_heads`, `intermediate_dim`, optional
    `embedding_dim`, `dropout`, `max_sequence_length`), an electra_tf model
    directory (its discriminator is loaded), a keras-hub preset name
    or directory, or an `ElectraBackbone` (returned as is). With
    `load_weights=False` a preset gives its shape with fresh weights.
    """
    if isinstance(source, keras_hub.models.ElectraBackbone):
        return source
    if source is None:
        config = dict(config)
        config["vocab_size"] = config.pop("vocabulary_size")
        config.setdefault("embedding_dim", config["hidden_dim"])
        return keras_hub.models.ElectraBackbone(name="encoder", **config)
    return keras_hub.models.ElectraBackbone.from_preset(
        encoder_preset(source), load_weights=load_weights
    )


def encode_text(encoder, token_ids, padding_mask):
    """An ELECTRA encoder's `sequence_output` for sources of one segment each.

    ELECTRA encoders were pre-trained with segment ids; a source is segment 0.
    """
    return encoder({
        "token_ids": token_ids,
        "segment_ids": ops.zeros_like(token_ids),
        "padding_mask": padding_mask,
    })["sequence_output"]


class EncoderDecoderBackbone(keras_hub.models.Backbone):
    """An encoder (the subclass's) and the `ElectraDecoder` cross-attending to it.

    A subclass makes its encoder, then calls this constructor with it, the
    `keras.Input`s it reads (a dict) and the decoder's sizes, and overrides
    `encode(inputs) -> (states, padding_mask)`. `states` must be
    `hidden_dim` wide.

    Args:
        encoder: the encoder layer or model (tracked as `self.encoder`).
        encoder_inputs: dict of the encoder's `keras.Input`s.
        vocabulary_size: the decoder's (target) vocabulary size.
        hidden_dim: the decoder's width.
        num_decoder_layers, decoder_num_heads, decoder_intermediate_dim,
        dropout: the decoder's stack.
        max_target_length: the decoder's position table size (the longest
            generation, start token included).
    """

    def __init__(self, encoder, encoder_inputs, vocabulary_size, hidden_dim, num_decoder_layers,
                 decoder_num_heads, decoder_intermediate_dim, dropout=0.1,
                 max_target_length=256, dtype=None, **kwargs):
        # === Layers ===
        self.encoder = encoder
        self.decoder = ElectraDecoder(
            vocabulary_size, hidden_dim, num_decoder_layers, decoder_num_heads,
            decoder_intermediate_dim, dropout, max_sequence_length=max_target_length,
            dtype=dtype, name="decoder",
        )
        self.token_embedding = self.decoder.token_embedding

        # === Functional Model ===
        inputs = {
            **encoder_inputs,
            **{name: keras.Input(shape=(None,), dtype="int32", name=name)
               for name in ("decoder_token_ids", "decoder_padding_mask")},
        }
        encoder_output, encoder_mask = self.encode(inputs)
        x = self.decoder(inputs["decoder_token_ids"], padding_mask=inputs["decoder_padding_mask"],
                         encoder_sequence=encoder_output, encoder_padding_mask=encoder_mask)
        super().__init__(
            inputs=inputs,
            outputs={"encoder_sequence_output": encoder_output, "decoder_sequence_output": x},
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.target_vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.num_decoder_layers = num_decoder_layers
        self.decoder_num_heads = decoder_num_heads
        self.decoder_intermediate_dim = decoder_intermediate_dim
        self.dropout = dropout
        self.max_target_length = max_target_length

    def encode(self, inputs):
        """`(hidden_states, padding_mask)` of the source in `inputs`."""
        raise NotImplementedError

    def load_weights(self, filepath, *args, **kwargs):
        """`keras.Model.load_weights`, also reading files saved by electra_tf 0.1
        (decoder layers at the backbone's top level; see `_legacy_decoder_path`)."""
        with _current_layout(filepath) as path:
            super().load_weights(path, *args, **kwargs)

    def get_config(self):
        return {
            **super().get_config(),
            "num_decoder_layers": self.num_decoder_layers,
            "decoder_num_heads": self.decoder_num_heads,
            "decoder_intermediate_dim": self.decoder_intermediate_dim,
            "dropout": self.dropout,
            "max_target_length": self.max_target_length,
        }


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraSeq2SeqBackbone(EncoderDecoderBackbone):
    """An ELECTRA encoder and a Transformer decoder with cross-attention.

    Args:
        encoder: a `keras_hub.models.ElectraBackbone` (see `make_encoder`).
        target_vocabulary_size: size of the decoder's vocabulary; `None` means
            the encoder's (one vocabulary for source and target).
        num_decoder_layers: decoder depth; `None` means the encoder's depth.
        decoder_num_heads, decoder_intermediate_dim: `None` means the
            encoder's values. The decoder width is the encoder's `hidden_dim`.
        dropout: dropout rate in the decoder.
        max_target_length: the decoder's position table size (the longest
            generation, start token included).

    Inputs are keras-hub's seq2seq dict (`encoder_token_ids`,
    `encoder_padding_mask`, `decoder_token_ids`, `decoder_padding_mask`);
    outputs are `encoder_sequence_output` and `decoder_sequence_output`.
    The example is the module's.
    """

    def __init__(self, encoder, target_vocabulary_size=None, num_decoder_layers=None,
                 decoder_num_heads=None, decoder_intermediate_dim=None, dropout=0.1,
                 max_target_length=256, dtype=None, **kwargs):
        if isinstance(encoder, dict):
            encoder = keras.layers.deserialize(encoder)
        # The pooled (tanh) output feeds nothing here; frozen, it does not
        # trigger "no gradient" warnings.
        encoder.pooled_dense.trainable = False
        super().__init__(
            encoder,
            {name: keras.Input(shape=(None,), dtype="int32", name=name)
             for name in ("encoder_token_ids", "encoder_padding_mask")},
            vocabulary_size=target_vocabulary_size or encoder.vocab_size,
            hidden_dim=encoder.hidden_dim,
            num_decoder_layers=num_decoder_layers or encoder.num_layers,
            decoder_num_heads=decoder_num_heads or encoder.num_heads,
            decoder_intermediate_dim=decoder_intermediate_dim or encoder.intermediate_dim,
            dropout=dropout,
            max_target_length=max_target_length,
            dtype=dtype,
            **kwargs,
        )

    def encode(self, inputs):
        mask = inputs["encoder_padding_mask"]
        return encode_text(self.encoder, inputs["encoder_token_ids"], mask), mask

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.layers.serialize(self.encoder),
            "target_vocabulary_size": self.target_vocabulary_size,
        }


# electra_tf 0.1 kept the decoder's layers in the backbone's functional layer
# list, so its weight files name them at the top: `layers/reversible_embedding`,
# `layers/position_embedding`, `layers/layer_normalization`,
# `layers/transformer_decoder[_i]` (Keras names a layer list's entries by
# class). Now they sit inside the decoder (`layers/electra_decoder/...`).
_LEGACY_DECODER_LAYERS = {
    "reversible_embedding": "token_embedding",
    "position_embedding": "position_embedding",
    "layer_normalization": "embeddings_layer_norm",
}
_LEGACY_DECODER_BLOCK = re.compile(r"transformer_decoder(_\d+)?$")


def _legacy_decoder_path(name):
    """Where a top-level entry of an electra_tf 0.1 file's `layers/` group lives now
    (`None`: where it was)."""
    if name in _LEGACY_DECODER_LAYERS:
        return f"layers/electra_decoder/{_LEGACY_DECODER_LAYERS[name]}"
    if _LEGACY_DECODER_BLOCK.match(name):
        return f"layers/electra_decoder/transformer_layers/{name}"
    return None


@contextlib.contextmanager
def _current_layout(filepath):
    """`filepath`, or for an electra_tf 0.1 weights file a copy in today's layout."""
    filepath = str(filepath)
    if not _is_legacy(filepath):
        yield filepath
        return
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.weights.h5")
        with h5py.File(filepath, "r") as source, h5py.File(path, "w") as target:
            target.attrs.update(source.attrs)
            for name in source:
                if name != "layers":
                    source.copy(source[name], target, name)
            for name in source["layers"]:
                source.copy(source["layers"][name], target,
                            _legacy_decoder_path(name) or f"layers/{name}")
        yield path


def _is_legacy(filepath):
    if not filepath.endswith(".h5"):
        return False
    with h5py.File(filepath, "r") as weights:
        return "reversible_embedding" in weights.get("layers", {})
