"""`ElectraSeq2SeqBackbone`: text in, an ELECTRA encoder cross-attended by an `ElectraDecoder`.

An `EncoderDecoderBackbone` (`encoder_decoder_backbone.py`) whose encoder is
an ELECTRA discriminator (`make_encoder`: random, a keras-hub preset, or an
electra_tf pre-training directory's discriminator), shaped like
`keras_hub.models.BartBackbone`. The target vocabulary may differ from the
source's (translation).

Example:
```python
import numpy as np
from electra_tf.models.seq2seq.backbone import ElectraSeq2SeqBackbone, make_encoder

encoder = make_encoder(vocabulary_size=30, hidden_dim=16, num_layers=1, num_heads=2,
                       intermediate_dim=32, max_sequence_length=16)
backbone = ElectraSeq2SeqBackbone(encoder, target_vocabulary_size=20, max_target_length=8)
ids = np.ones((2, 5), "int32")
outputs = backbone({"encoder_token_ids": ids, "encoder_padding_mask": ids,
                    "decoder_token_ids": ids, "decoder_padding_mask": ids})
outputs["decoder_sequence_output"].shape  # -> (2, 5, 16)
```
"""

import keras
import keras_hub
from keras import ops

from electra_tf.models.model_dir import encoder_preset
from electra_tf.models.seq2seq.encoder_decoder_backbone import EncoderDecoderBackbone


def make_encoder(source=None, load_weights=True, dtype=None, **config):
    """An `ElectraBackbone` to serve as the encoder.

    `source` is `None` (random, built from `config`: `vocabulary_size`,
    `hidden_dim`, `num_layers`, `num_heads`, `intermediate_dim`, optional
    `embedding_dim`, `dropout`, `max_sequence_length`), an electra_tf model
    directory (its discriminator is loaded), a keras-hub preset name
    or directory, or an `ElectraBackbone` (returned as is). With
    `load_weights=False` a preset gives its shape with fresh weights.
    `dtype` is the Keras dtype policy it computes under (e.g.
    `"mixed_bfloat16"`; `None`: the global policy, float32 unless changed).
    """
    if isinstance(source, keras_hub.models.ElectraBackbone):
        return source
    if source is None:
        config = dict(config)
        config["vocab_size"] = config.pop("vocabulary_size")
        config.setdefault("embedding_dim", config["hidden_dim"])
        return keras_hub.models.ElectraBackbone(name="encoder", dtype=dtype, **config)
    return keras_hub.models.ElectraBackbone.from_preset(
        encoder_preset(source), load_weights=load_weights, dtype=dtype
    )


def encoder_under(encoder, dtype):
    """`encoder` (an `ElectraBackbone`, or its serialized config when a saved model is
    loaded) and the dtype policy the whole encoder-decoder computes under.

    The policy is `dtype` when given (a saved encoder's config takes it, so that
    `from_preset(..., dtype=...)` reaches the encoder too), else the encoder's.
    An encoder built under another policy than `dtype` is refused: half a model
    in bfloat16 is never what was meant.
    """
    if isinstance(encoder, dict):
        if dtype is not None:
            encoder = {**encoder, "config": {**encoder["config"], "dtype": dtype}}
        encoder = keras.layers.deserialize(encoder)
    policy = keras.dtype_policies.get(dtype) if dtype is not None else encoder.dtype_policy
    if policy.name != encoder.dtype_policy.name:
        raise ValueError(
            f"the encoder computes under {encoder.dtype_policy.name} but dtype={policy.name}; "
            f"build the encoder under it too (make_encoder(..., dtype={policy.name!r})).")
    return encoder, policy


def encode_text(encoder, token_ids, padding_mask):
    """An ELECTRA encoder's `sequence_output` for sources of one segment each.

    ELECTRA encoders were pre-trained with segment ids; a source is segment 0.
    """
    return encoder({
        "token_ids": token_ids,
        "segment_ids": ops.zeros_like(token_ids),
        "padding_mask": padding_mask,
    })["sequence_output"]


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
        dtype: the Keras dtype policy of the whole model (e.g.
            `"mixed_bfloat16"`); `None` means the encoder's.

    Inputs are keras-hub's seq2seq dict (`encoder_token_ids`,
    `encoder_padding_mask`, `decoder_token_ids`, `decoder_padding_mask`);
    outputs are `encoder_sequence_output` and `decoder_sequence_output`.
    The example is the module's.
    """

    def __init__(self, encoder, target_vocabulary_size=None, num_decoder_layers=None,
                 decoder_num_heads=None, decoder_intermediate_dim=None, dropout=0.1,
                 max_target_length=256, dtype=None, **kwargs):
        encoder, dtype = encoder_under(encoder, dtype)
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

