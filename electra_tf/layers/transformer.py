"""Stacks of keras-hub Transformer layers configured as ELECTRA's.

ELECTRA's blocks are keras-hub's `TransformerEncoder` / `TransformerDecoder`
with GELU (keras-hub's tanh approximation unless told otherwise), LayerNorm
epsilon 1e-12, truncated-normal (0.02) kernels and post-LayerNorm residuals
(pre-LayerNorm with `normalize_first=True`; the stack's owner then adds a final
LayerNorm). Every tower built here (the `ElectraBackbone`; the `ElectraDecoder`
of seq2seq, captioning and the document's `generator_decoder`; the
pre-training generator) gets them from one place, so the recipe cannot drift
between towers.

Example:
```python
import keras_hub
from electra_tf.layers.transformer import electra_transformer_layers

layers = electra_transformer_layers(keras_hub.layers.TransformerDecoder, num_layers=2,
                                    num_heads=2, intermediate_dim=64, dropout=0.1,
                                    name="transformer_decoder_layer")
[layer.name for layer in layers]  # -> ['transformer_decoder_layer_0', 'transformer_decoder_layer_1']
```
"""

from electra_tf.layers.activations import KERAS_HUB_ACTIVATION, activation_function
from electra_tf.layers.initializers import electra_kernel_initializer


def electra_transformer_layers(layer_class, num_layers, num_heads, intermediate_dim, dropout,
                               dtype=None, name="transformer_layer",
                               activation=KERAS_HUB_ACTIVATION, normalize_first=False):
    """`num_layers` instances of `layer_class`, named `{name}_{i}`; `activation` is a name
    of `electra_tf.layers.activations.ACTIVATIONS`, `normalize_first` keras-hub's
    pre-LayerNorm switch."""
    return [
        layer_class(
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            dropout=dropout,
            activation=activation_function(activation),
            layer_norm_epsilon=1e-12,
            kernel_initializer=electra_kernel_initializer(),
            normalize_first=normalize_first,
            dtype=dtype,
            name=f"{name}_{i}",
        )
        for i in range(num_layers)
    ]
