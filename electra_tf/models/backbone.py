"""`ElectraBackbone`: keras-hub's ELECTRA encoder with a choice of GELU and of block order.

Google's original ELECTRA and Hugging Face's port use the exact (erf) GELU;
`keras_hub.models.ElectraBackbone` hard-codes the tanh approximation, whose
outputs differ by up to ~1e-3 per layer, so a released checkpoint loaded into
keras-hub's class computes something slightly different from the original.
This subclass adds two settings:

* `activation`: `"gelu"` (exact) or keras-hub's `"gelu_approximate"` (the
  default);
* `normalize_first`: `False` (the default) keeps ELECTRA's post-LayerNorm
  blocks; `True` gives pre-LayerNorm blocks (keras-hub's
  `TransformerEncoder(normalize_first=True)`) and a final LayerNorm
  (`final_layer_norm`) on the sequence output, the layout small-budget
  pre-training ("cramming", Geiping & Goldstein 2022) uses because it
  tolerates higher learning rates.

With `normalize_first=False` the layers, their names and the variable layout
are keras-hub's own, so weights move both ways between the two classes
(tested), and `isinstance(b, keras_hub.models.ElectraBackbone)` holds either way.

Presets: a backbone keras-hub's class computes exactly (tanh GELU, post-LN) is
saved as a plain keras-hub preset (`keras_hub.models.ElectraBackbone.from_preset`
reads it without this package); any other records this class and its
settings. Either loads with `ElectraBackbone.from_preset`, which also accepts
any keras-hub ELECTRA preset. Its tokenizer is `electra_tf.models.tokenizer`'s
`ElectraTokenizer`.

Example:
```python
import numpy as np
from electra_tf.models.backbone import ElectraBackbone

backbone = ElectraBackbone(vocab_size=50, num_layers=2, num_heads=2, hidden_dim=16,
                           embedding_dim=8, intermediate_dim=32, max_sequence_length=16,
                           activation="gelu", normalize_first=True)
ids = np.ones((1, 16), "int32")
output = backbone({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids})
output["sequence_output"].shape  # -> (1, 16, 16)
```
"""

import keras
import keras_hub

from electra_tf.layers.activations import KERAS_HUB_ACTIVATION
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.layers.transformer import electra_transformer_layers
from electra_tf.models import moved_attribute


def activation_of(backbone):
    """The activation name of any ELECTRA backbone (keras-hub's own class: its tanh GELU)."""
    return getattr(backbone, "activation", KERAS_HUB_ACTIVATION)


def normalize_first_of(backbone):
    """Whether any ELECTRA backbone has pre-LayerNorm blocks (keras-hub's own class: never)."""
    return getattr(backbone, "normalize_first", False)


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraBackbone(keras_hub.models.ElectraBackbone):
    """keras-hub's `ElectraBackbone` with `activation` and `normalize_first` in its config.

    Args are keras-hub's (`vocab_size`, `num_layers`, `num_heads`,
    `hidden_dim`, `embedding_dim`, `intermediate_dim`, `dropout`,
    `max_sequence_length`, `num_segments`, `dtype`) plus
    `activation`: `"gelu"` (exact; Google's and Hugging Face's checkpoints) or
        `"gelu_approximate"` (keras-hub's; the default);
    `normalize_first`: `False` (post-LayerNorm blocks, ELECTRA's and
        keras-hub's; the default) or `True` (pre-LayerNorm blocks and a final
        LayerNorm, `final_layer_norm`, before the outputs).
    """

    def __init__(self, vocab_size, num_layers, num_heads, hidden_dim, embedding_dim,
                 intermediate_dim, dropout=0.1, max_sequence_length=512, num_segments=2,
                 activation=KERAS_HUB_ACTIVATION, normalize_first=False, dtype=None, **kwargs):
        if not isinstance(normalize_first, bool):
            raise ValueError(
                "normalize_first must be True (pre-LayerNorm blocks and a final LayerNorm) or "
                f"False (post-LayerNorm, ELECTRA's), got {normalize_first!r}.")
        # keras-hub's __init__ builds its functional graph with the tanh GELU,
        # post-LN blocks and nothing after the last block. The graph below is
        # the same layers, with the same names, created and called in the same
        # order (so the same variables, and the same numbers when the settings
        # are keras-hub's), with the two settings applied and, for pre-LN, a
        # final LayerNorm. The `super` call skips keras-hub's __init__ for its
        # parent's, which is what keras-hub's own `super().__init__` reaches.
        # tests/test_backbone.py fails if keras-hub's graph ever moves away.
        self.token_embedding = keras.layers.ReversibleEmbedding(
            input_dim=vocab_size,
            output_dim=embedding_dim,
            embeddings_initializer=electra_kernel_initializer(),
            dtype=dtype,
            name="token_embedding",
        )
        self.position_embedding = keras_hub.layers.PositionEmbedding(
            initializer=electra_kernel_initializer(),
            sequence_length=max_sequence_length,
            dtype=dtype,
            name="position_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            input_dim=num_segments,
            output_dim=embedding_dim,
            embeddings_initializer=electra_kernel_initializer(),
            dtype=dtype,
            name="segment_embedding",
        )
        self.embeddings_add = keras.layers.Add(dtype=dtype, name="embeddings_add")
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-12, dtype=dtype, name="embeddings_layer_norm")
        self.embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embeddings_dropout")
        if hidden_dim != embedding_dim:
            self.embeddings_projection = keras.layers.Dense(
                hidden_dim,
                kernel_initializer=electra_kernel_initializer(),
                dtype=dtype,
                name="embeddings_projection",
            )
        self.transformer_layers = electra_transformer_layers(
            keras_hub.layers.TransformerEncoder, num_layers, num_heads, intermediate_dim, dropout,
            dtype=dtype, name="transformer_layer", activation=activation,
            normalize_first=normalize_first,
        )
        # Pre-LN blocks add each sub-layer's output to an unnormalised residual
        # stream; the final LayerNorm normalises it once for the heads.
        self.final_layer_norm = keras.layers.LayerNormalization(
            epsilon=1e-12, dtype=dtype, name="final_layer_norm") if normalize_first else None
        self.pooled_dense = keras.layers.Dense(
            hidden_dim,
            kernel_initializer=electra_kernel_initializer(),
            activation="tanh",
            dtype=dtype,
            name="pooled_dense",
        )

        inputs = {
            "token_ids": keras.Input(shape=(None,), dtype="int32", name="token_ids"),
            "segment_ids": keras.Input(shape=(None,), dtype="int32", name="segment_ids"),
            "padding_mask": keras.Input(shape=(None,), dtype="int32", name="padding_mask"),
        }
        tokens = self.token_embedding(inputs["token_ids"])
        x = self.embeddings_add((
            tokens,
            self.position_embedding(tokens),
            self.segment_embedding(inputs["segment_ids"]),
        ))
        x = self.embeddings_layer_norm(x)
        x = self.embeddings_dropout(x)
        if hidden_dim != embedding_dim:
            x = self.embeddings_projection(x)
        for layer in self.transformer_layers:
            x = layer(x, padding_mask=inputs["padding_mask"])
        if normalize_first:
            x = self.final_layer_norm(x)
        cls_token_index = 0
        pooled = self.pooled_dense(x[:, cls_token_index, :])
        super(keras_hub.models.ElectraBackbone, self).__init__(
            inputs=inputs, outputs={"sequence_output": x, "pooled_output": pooled}, dtype=dtype,
            **kwargs,
        )

        self.vocab_size = vocab_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.embedding_dim = embedding_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.cls_token_index = cls_token_index
        self.activation = activation
        self.normalize_first = normalize_first

    def get_config(self):
        return {**super().get_config(), "activation": self.activation,
                "normalize_first": self.normalize_first}

    @classmethod
    def from_keras_hub(cls, backbone):
        """This class with the weights of a `keras_hub.models.ElectraBackbone` (same numbers)."""
        copy = cls.from_config(backbone.get_config())
        copy.set_weights(backbone.get_weights())
        return copy

    def to_keras_hub(self):
        """A plain `keras_hub.models.ElectraBackbone` with these weights.

        It computes the same only when `activation` is keras-hub's
        `"gelu_approximate"`; with exact GELU its outputs drift by ~1e-3. A
        pre-LN backbone (`normalize_first=True`) has no keras-hub twin and is
        refused.
        """
        if self.normalize_first:
            raise ValueError(
                "this backbone has pre-LayerNorm blocks and a final LayerNorm "
                "(normalize_first=True), which keras_hub.models.ElectraBackbone (post-LN only) "
                "cannot compute. Keep it in electra_tf's class: save_to_preset records that "
                "class, and electra_tf.ElectraBackbone.from_preset reads it back.")
        config = self.get_config()
        del config["activation"], config["normalize_first"]
        twin = keras_hub.models.ElectraBackbone.from_config(config)
        twin.set_weights(self.get_weights())
        return twin

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Any ELECTRA backbone preset: this class's, or keras-hub's (tanh GELU, post-LN)."""
        backbone = keras_hub.models.ElectraBackbone.from_preset(
            preset, load_weights=load_weights, **kwargs)
        return backbone if isinstance(backbone, cls) else cls.from_keras_hub(backbone)

    def save_to_preset(self, preset_dir, max_shard_size=10):
        """A keras-hub preset; in keras-hub's own class when that computes the same numbers."""
        if self.activation == KERAS_HUB_ACTIVATION and not self.normalize_first:
            return self.to_keras_hub().save_to_preset(preset_dir, max_shard_size=max_shard_size)
        return super().save_to_preset(preset_dir, max_shard_size=max_shard_size)


def __getattr__(name):
    # Before models/ was grouped by task, the tokenizer and the task mixins lived here too:
    # they still import from here, with a warning (`electra_tf.models.MOVED`).
    return moved_attribute(__name__, name)
