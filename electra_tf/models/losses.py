"""`SmoothedSparseCategoricalCrossentropy`: label smoothing for sparse labels.

`ElectraSeq2SeqLM.compile(label_smoothing=0.1)` trains with it.

Example:
```python
import keras
import numpy as np
from electra_tf.models.losses import SmoothedSparseCategoricalCrossentropy

labels, logits = np.array([[2, 0]]), np.random.default_rng(0).normal(size=(1, 2, 5))
unsmoothed = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
np.testing.assert_allclose(SmoothedSparseCategoricalCrossentropy(0.0)(labels, logits),
                           unsmoothed, rtol=1e-5)
float(unsmoothed)  # the mean over the two tokens  # -> 1.43
```
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="electra_tf")
class SmoothedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Sparse cross-entropy from logits with label smoothing.

    Keras's sparse loss has no `label_smoothing`; one-hot labels for a whole
    target vocabulary would cost a `[batch, length, vocab]` tensor, so the
    smoothed loss is computed as (1 - e) * NLL + e * mean(-log p) instead.

    Example:
    ```python
    import numpy as np
    loss = SmoothedSparseCategoricalCrossentropy(label_smoothing=0.1)
    loss(np.array([[1]]), np.zeros((1, 1, 4), "float32"))  # log(4) either way  # -> 1.386
    ```
    """

    def __init__(self, label_smoothing=0.1, name="smoothed_sparse_categorical_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        nll = -ops.take_along_axis(log_probs, ops.cast(y_true, "int32")[..., None], axis=-1)
        uniform = -ops.mean(log_probs, axis=-1)
        e = self.label_smoothing
        return (1.0 - e) * ops.squeeze(nll, -1) + e * uniform

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

