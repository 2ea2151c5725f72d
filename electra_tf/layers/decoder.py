"""`ElectraDecoder`: the one Transformer decoder of the package's generation models.

Token embedding, learned position embedding, LayerNorm and dropout over their
sum, then `num_layers` keras-hub `TransformerDecoder` blocks configured as
ELECTRA's (`electra_tf.layers.transformer.electra_transformer_layers`). The
output projection is the token embedding transposed (`logits`). The seq2seq
and captioning backbones cross-attend to their encoder with it; the
document's `generator_decoder` is it, called functionally, with or without
an encoder.

Called on a whole sequence it is causal: position i sees positions <= i.
Given key/value caches it runs only the new tokens (cached decoding, one
step per generated token): their positions start at the self-attention
cache's update index, and the caches come back updated. Caches are
`[batch, num_layers, 2, length, num_heads, head_dim]` (`empty_caches`).

Example:
```python
import numpy as np
from electra_tf.layers.decoder import ElectraDecoder

decoder = ElectraDecoder(vocabulary_size=20, hidden_dim=16, num_layers=2, num_heads=2,
                         intermediate_dim=32, dropout=0.0, max_sequence_length=8)
ids = np.array([[2, 5, 6, 7]], "int32")
states = np.random.default_rng(0).normal(size=(1, 3, 16)).astype("float32")  # an encoder's
hidden = decoder(ids, encoder_sequence=states)
logits = decoder.logits(hidden)
hidden.shape, logits.shape  # -> ((1, 4, 16), (1, 4, 20))

# The same, token by token: fill the caches with the first token, then one step.
self_cache, cross_cache = decoder.empty_caches(batch_size=1, decoder_length=4,
                                               encoder_length=3)
_, self_cache, cross_cache = decoder(
    ids[:, :1], encoder_sequence=states, self_attention_cache=self_cache,
    self_attention_cache_update_index=0, cross_attention_cache=cross_cache,
    cross_attention_cache_update_index=0)
step, self_cache, _ = decoder(
    ids[:, 1:2], encoder_sequence=states, self_attention_cache=self_cache,
    self_attention_cache_update_index=1, cross_attention_cache=cross_cache)
np.testing.assert_allclose(step[:, 0], hidden[:, 1], atol=1e-5)
```
"""

import keras
import keras_hub
from keras import ops

from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.layers.transformer import electra_transformer_layers


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraDecoder(keras.layers.Layer):
    """Embeddings + a causal `TransformerDecoder` stack + the tied output projection.

    Args:
        vocabulary_size: rows of the token embedding (the output vocabulary).
        hidden_dim: width of the embeddings and of every block.
        num_layers, num_heads, intermediate_dim: the `TransformerDecoder` stack.
        dropout: dropout after the embeddings and inside every block.
        max_sequence_length: the position table's size (the longest sequence).

    Call arguments: `token_ids` `[batch, length]`; optional `padding_mask`
    (of `token_ids`), `encoder_sequence` `[batch, source length, hidden_dim]`
    and its `encoder_padding_mask` (the blocks cross-attend to it; a decoder
    built without it is decoder-only); optional caches (see the module
    docstring). Returns hidden states `[batch, length, hidden_dim]`, or
    `(hidden states, self_attention_cache, cross_attention_cache)` when
    caches are given; a cache whose update index is `None` is read, not
    written, and comes back as it was.
    """

    def __init__(self, vocabulary_size, hidden_dim, num_layers, num_heads, intermediate_dim,
                 dropout=0.1, max_sequence_length=512, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        policy = self.dtype_policy
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size, hidden_dim, embeddings_initializer=electra_kernel_initializer(),
            # Under a mixed policy the output projection gives float32 logits (Keras' advice
            # for a model's outputs): bfloat16 keeps ~3 digits, enough to tie or swap close
            # candidates in greedy and beam decoding, and the loss reads them too.
            reverse_dtype=None if policy.compute_dtype == policy.variable_dtype
            else policy.variable_dtype,
            dtype=policy, name="token_embedding",
        )
        self.position_embedding = keras_hub.layers.PositionEmbedding(
            sequence_length=max_sequence_length, initializer=electra_kernel_initializer(),
            dtype=self.dtype_policy, name="position_embedding",
        )
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-12, dtype=self.dtype_policy, name="embeddings_layer_norm"
        )
        self.embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="embeddings_dropout"
        )
        self.transformer_layers = electra_transformer_layers(
            keras_hub.layers.TransformerDecoder, num_layers, num_heads, intermediate_dim, dropout,
            dtype=self.dtype_policy, name="transformer_decoder_layer",
        )

    def build(self, token_ids_shape, encoder_sequence_shape=None):
        self.token_embedding.build(token_ids_shape)
        embedded_shape = (*token_ids_shape, self.hidden_dim)
        self.position_embedding.build(embedded_shape)
        self.embeddings_layer_norm.build(embedded_shape)
        for layer in self.transformer_layers:
            layer.build(embedded_shape, encoder_sequence_shape)
        self.built = True

    def embed(self, token_ids, start_index=0):
        """Token + position embeddings, normalised; positions count from `start_index`."""
        tokens = self.token_embedding(token_ids)
        positions = self.position_embedding(tokens, start_index=start_index)
        return self.embeddings_dropout(self.embeddings_layer_norm(tokens + positions))

    def call(self, token_ids, padding_mask=None, encoder_sequence=None,
             encoder_padding_mask=None, self_attention_cache=None,
             self_attention_cache_update_index=None, cross_attention_cache=None,
             cross_attention_cache_update_index=None):
        cached = self_attention_cache is not None
        start_index = self_attention_cache_update_index if cached else None
        x = self.embed(token_ids, start_index=0 if start_index is None else start_index)
        self_caches, cross_caches = [], []
        for i, layer in enumerate(self.transformer_layers):
            caches = {}
            if cached:
                caches = {"self_attention_cache": self_attention_cache[:, i, ...],
                          "self_attention_cache_update_index": self_attention_cache_update_index}
            if cross_attention_cache is not None:
                caches.update(cross_attention_cache=cross_attention_cache[:, i, ...],
                              cross_attention_cache_update_index=cross_attention_cache_update_index)
            outputs = layer(x, encoder_sequence=encoder_sequence, decoder_padding_mask=padding_mask,
                            encoder_padding_mask=encoder_padding_mask, **caches)
            if not cached:
                x = outputs
                continue
            x, next_self, *next_cross = outputs
            self_caches.append(next_self)
            cross_caches += next_cross
        if not cached:
            return x
        # A cache read but not written is returned as it was, not re-stacked each step.
        if self_attention_cache_update_index is not None:
            self_attention_cache = ops.stack(self_caches, axis=1)
        if cross_caches and cross_attention_cache_update_index is not None:
            cross_attention_cache = ops.stack(cross_caches, axis=1)
        return x, self_attention_cache, cross_attention_cache

    def logits(self, hidden_states):
        """Next-token logits: `hidden_states` times the transposed token embedding; float32
        under a mixed dtype policy."""
        return self.token_embedding(hidden_states, reverse=True)

    def empty_caches(self, batch_size, decoder_length, encoder_length):
        """Zero `(self_attention_cache, cross_attention_cache)` for `call`."""
        shape = [batch_size, self.num_layers, 2, decoder_length, self.num_heads,
                 self.hidden_dim // self.num_heads]
        self_cache = ops.zeros(shape, dtype=self.compute_dtype)
        shape[3] = encoder_length
        return self_cache, ops.zeros(shape, dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "max_sequence_length": self.max_sequence_length,
        }
