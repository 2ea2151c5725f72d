"""`BuildOptimizerBeforeTraining`: a model mixin that makes `fit` trace its step once.

Keras creates an optimizer's slot variables at its first `apply`, which in
`fit` happens inside the traced train step, unless the model was made under a
distribution strategy (then Keras builds the optimizer before tracing).
Variables created while tracing make `tf.function` trace the whole step a
second time (the XLA pre-training step test took 98 s with the second trace,
61 s without, one run each on a shared machine). Keras offers no switch for
this, hence the mixin. It builds the optimizer when the train function is
made, not in `compile`: keras-hub tasks compile in their constructor, and a
model loaded for inference or export should not carry optimizer slots.

Example:
```python
import keras
import numpy as np

class MyModel(BuildOptimizerBeforeTraining, keras.Sequential):
    traces = 0

    def train_step(self, data):  # Python runs this once per trace
        MyModel.traces += 1
        return super().train_step(data)

model = MyModel([keras.Input((2,)), keras.layers.Dense(1)])
model.compile("adam", "mse")
model.fit(np.zeros((8, 2)), np.zeros((8, 1)), epochs=2, verbose=0)
MyModel.traces  # without the mixin: 2, Adam's slots being made in the first trace  # -> 1
```
"""


class BuildOptimizerBeforeTraining:
    """Builds the optimizer for the model's trainable variables before the train step is traced.

    Put it before the Keras model class in the bases. As with any Keras
    model, call `compile` again after changing which layers are trainable.
    """

    def make_train_function(self, force=False):
        if self.built and self.optimizer is not None and not self.optimizer.built:
            # Slots belong to the strategy the model was made in.
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)
        return super().make_train_function(force)
