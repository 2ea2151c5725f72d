"""Stopping a run whose loss stopped being a number, before it saves the damage.

Keras' `TerminateOnNaN` only asks `fit` to stop: the epoch still ends, so
`BackupAndRestore`, `ModelCheckpoint` and the final save all write the NaN
weights over the last good ones. `StopOnNonFiniteLoss` raises instead, so
nothing after the last checkpoint is written and the same command resumes
from that checkpoint.

Example:
```python
import keras
import numpy as np
from electra_tf.training.guards import NonFiniteLossError, StopOnNonFiniteLoss

model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(1e30), loss="mse")  # diverges at once
try:
    model.fit(np.ones((8, 1)) * 1e10, np.ones((8, 1)), epochs=3, verbose=0,
              callbacks=[StopOnNonFiniteLoss()])
except NonFiniteLossError as error:
    message = str(error)
message  # -> the training loss became ... at step ...; training stopped. Likely causes: ...
```
"""

import math

import keras

LIKELY_CAUSES = (
    "Likely causes: a learning rate too high for this model and batch (lower it, or lengthen "
    "the warmup); float16 without loss scaling (use the mixed_bfloat16 policy, or "
    "mixed_float16, which scales the loss); or corrupt input data."
)


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the message names the step and the causes."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` at the first batch whose loss is not finite.

    Put it first among the callbacks, ahead of any that save after a batch.

    Args:
        last_good_state: what the message tells the user to go back to
            (e.g. the run's checkpoint folder).
    """

    def __init__(self, last_good_state=None):
        super().__init__()
        self.last_good_state = last_good_state

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        step = int(self.model.optimizer.iterations.numpy())
        kept = (f" Nothing from this interval was saved: {self.last_good_state} holds the last "
                "good state, and running the same command again resumes from it."
                if self.last_good_state else "")
        raise NonFiniteLossError(
            f"the training loss became {float(loss)} at step {step}; training stopped. "
            f"{LIKELY_CAUSES}{kept}")
