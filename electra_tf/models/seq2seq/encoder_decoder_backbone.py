"""`EncoderDecoderBackbone`: an encoder's states, cross-attended by an `ElectraDecoder`.

What every encoder-decoder here shares: the decoder
(`electra_tf.layers.decoder.ElectraDecoder`, in `self.decoder`; its token
embedding is `self.token_embedding`), the functional wiring (inputs: the
encoder's plus `decoder_token_ids`, `decoder_padding_mask`; outputs:
`encoder_sequence_output`, `decoder_sequence_output`), the decoder's config,
and loading weights saved before the decoder was one layer. A subclass makes
its encoder and its inputs and says how to `encode` them into
`(states, padding_mask)`: `ElectraSeq2SeqBackbone` (text, `backbone.py`) and
`ImageCaptionBackbone` (images, `electra_tf.models.captioning`).

Example:
```python
import keras
import numpy as np
from keras import ops

class BagOfWordsBackbone(EncoderDecoderBackbone):  # a source of token ids, embedded
    def __init__(self, **kwargs):
        source = keras.Input(shape=(None,), dtype="int32", name="source_ids")
        super().__init__(keras.layers.Embedding(30, 16), {"source_ids": source},
                         vocabulary_size=20, hidden_dim=16, num_decoder_layers=1,
                         decoder_num_heads=2, decoder_intermediate_dim=32, **kwargs)

    def encode(self, inputs):
        ids = inputs["source_ids"]
        return self.encoder(ids), ops.cast(ops.not_equal(ids, 0), "int32")

ids = np.ones((2, 5), "int32")
backbone = BagOfWordsBackbone()
backbone({"source_ids": ids, "decoder_token_ids": ids,
          "decoder_padding_mask": ids})["decoder_sequence_output"].shape  # -> (2, 5, 16)
```
"""

import keras
import keras_hub

from electra_tf.layers.decoder import ElectraDecoder
from electra_tf.models import legacy


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
        (decoder layers at the backbone's top level: `legacy.seq2seq_weights`)."""
        with legacy.seq2seq_weights(filepath) as path:
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
