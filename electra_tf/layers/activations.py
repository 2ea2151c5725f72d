"""The GELU variants ELECTRA models use, by the names configs and presets record.

`"gelu"` is the exact (erf) GELU of Google's original ELECTRA and of Hugging
Face's port; `"gelu_approximate"` is the tanh approximation keras-hub's
`ElectraBackbone` hard-codes (Hugging Face calls it `"gelu_new"`). They differ
by up to ~1e-3, enough to break numerical parity with a released checkpoint.

Example:
```python
from electra_tf.layers.activations import activation_function

float(activation_function("gelu")(1.0))  # x * Phi(x)
# -> 0.84134
float(activation_function("gelu_approximate")(1.0))  # the tanh approximation
# -> 0.84119
```
"""

import keras

from electra_tf import compat

KERAS_HUB_ACTIVATION = "gelu_approximate"
# Both serialize by name in layer configs (Keras' gelu defaults to the exact form).
ACTIVATIONS = {"gelu": keras.activations.gelu, KERAS_HUB_ACTIVATION: compat.gelu_approximate}


def activation_function(name):
    """The callable for an activation name of `ACTIVATIONS`, with an error naming the choices."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}.")
    return ACTIVATIONS[name]
