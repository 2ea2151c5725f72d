"""Per-token heads that keras-hub does not ship for ELECTRA."""

import keras
from electra_tf.layers.activations import KERAS_HUB_ACTIVATION, activation_function
from electra_tf.layers.initializers import electra_kernel_initializer


@keras.saving.register_keras_serializable(package="electra_tf")
class ReplacedTokenDetectionHead(keras.layers.Layer):
    """The discriminator's head: dense(hidden) + GELU, then one logit per token.

    `activation` names the GELU (`"gelu"` exact, as the original and Hugging
    Face; `"gelu_approximate"` keras-hub's tanh form).

    A positive logit means "replaced by the generator". keras-hub has heads for
    masked LM but none for replaced-token detection.

    Example:
    ```python
    import numpy as np
    head = ReplacedTokenDetectionHead(hidden_dim=8)
    head(np.zeros((2, 5, 8), "float32")).shape  # one logit per token  # -> (2, 5)
    ```
    """

    def __init__(self, hidden_dim, activation=KERAS_HUB_ACTIVATION, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.activation = activation
        self.dense = keras.layers.Dense(
            hidden_dim,
            activation=activation_function(activation),
            kernel_initializer=electra_kernel_initializer(),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.logit = keras.layers.Dense(
            1, kernel_initializer=electra_kernel_initializer(), dtype=self.dtype_policy, name="logit"
        )

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.logit.build((*input_shape[:-1], self.hidden_dim))

    def call(self, sequence_output):
        return keras.ops.squeeze(self.logit(self.dense(sequence_output)), axis=-1)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim,
                "activation": self.activation}
