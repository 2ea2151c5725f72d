"""The ELECTRA generator: a narrow masked LM on the discriminator's embeddings."""

import keras
import keras_hub

from electra_tf.layers.activations import activation_function
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.layers.transformer import electra_transformer_layers
from electra_tf.models.backbone import activation_of


class ElectraGenerator(keras.Model):
    """Masked LM that shares its embeddings with an `ElectraBackbone`.

    The token, position and segment embeddings and the embedding LayerNorm are
    the discriminator's own layers, called again here, so both towers train one
    set of variables (as in the paper). The generator has its own projection
    to its (smaller) width, its own Transformer layers, and a
    `keras_hub.layers.MaskedLMHead` (dense + GELU + LayerNorm) whose output
    matrix is the shared word-embedding table, with its own bias. Its GELU is
    the discriminator's (exact for converted checkpoints). With
    `normalize_first=True` its blocks are pre-LayerNorm and a final LayerNorm
    (`final_layer_norm`) precedes the head, as in a pre-LN `ElectraBackbone`.

    Inputs: `token_ids`, `segment_ids`, `padding_mask` (`[batch, length]`) and
    `mask_positions` (`[batch, predictions]`). Output: logits over the
    vocabulary at the masked positions, `[batch, predictions, vocab]`.

    Example:
    ```python
    import numpy as np, keras_hub
    discriminator = keras_hub.models.ElectraBackbone(
        vocab_size=50, num_layers=2, num_heads=2, hidden_dim=16,
        embedding_dim=8, intermediate_dim=32, max_sequence_length=16)
    generator = ElectraGenerator(discriminator, hidden_dim=8, num_heads=1,
                                 intermediate_dim=16)
    ids = np.ones((2, 16), "int32")
    generator({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids,
               "mask_positions": np.zeros((2, 3), "int32")}).shape  # -> (2, 3, 50)
    ```
    """

    def __init__(
        self,
        discriminator,
        hidden_dim,
        num_heads,
        intermediate_dim,
        num_layers=None,
        dropout=0.1,
        normalize_first=False,
        **kwargs,
    ):
        num_layers = discriminator.num_layers if num_layers is None else num_layers
        dtype = discriminator.dtype_policy
        activation = activation_of(discriminator)
        if hidden_dim != discriminator.embedding_dim:
            projection = keras.layers.Dense(
                hidden_dim,
                kernel_initializer=electra_kernel_initializer(),
                dtype=dtype,
                name="embeddings_projection",
            )
        else:
            projection = None
        transformer_layers = electra_transformer_layers(
            keras_hub.layers.TransformerEncoder, num_layers, num_heads, intermediate_dim, dropout,
            dtype=dtype, name="transformer_layer", activation=activation,
            normalize_first=normalize_first,
        )
        # Pre-LN blocks leave the residual stream unnormalised; the head's
        # input is normalised once, as the backbone's outputs are.
        final_layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-12, dtype=dtype, name="final_layer_norm") if normalize_first else None
        mlm_head = keras_hub.layers.MaskedLMHead(
            token_embedding=discriminator.token_embedding,
            intermediate_activation=activation_function(activation),
            layer_norm_epsilon=1e-12,
            kernel_initializer=electra_kernel_initializer(),
            # float32 logits; keras-hub's head also fails to add its bias under
            # a mixed policy (float32 bias, float16 logits, autocast off).
            dtype="float32",
            name="mlm_head",
        )

        inputs = {
            "token_ids": keras.Input((None,), dtype="int32", name="token_ids"),
            "segment_ids": keras.Input((None,), dtype="int32", name="segment_ids"),
            "padding_mask": keras.Input((None,), dtype="int32", name="padding_mask"),
            "mask_positions": keras.Input((None,), dtype="int32", name="mask_positions"),
        }
        tokens = discriminator.token_embedding(inputs["token_ids"])
        x = discriminator.embeddings_add(
            (
                tokens,
                discriminator.position_embedding(tokens),
                discriminator.segment_embedding(inputs["segment_ids"]),
            )
        )
        x = discriminator.embeddings_layer_norm(x)
        x = discriminator.embeddings_dropout(x)
        if projection is not None:
            x = projection(x)
        for layer in transformer_layers:
            x = layer(x, padding_mask=inputs["padding_mask"])
        if normalize_first:
            x = final_layer_norm(x)
        logits = mlm_head(x, mask_positions=inputs["mask_positions"])
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.normalize_first = normalize_first
        self.embeddings_projection = projection  # None when the widths are equal
        self.transformer_layers = transformer_layers
        self.final_layer_norm = final_layer_norm  # None for post-LN blocks
        self.mlm_head = mlm_head
