"""`BuildOptimizerAtCompile`: a model mixin that makes `fit` trace its step once.

Keras creates an optimizer's slot variables at its first `apply`, which in
`fit` happens inside the traced train step, unless the model was made under a
distribution strategy (then Keras builds the optimizer before tracing).
Variables created while tracing make `tf.function` trace the whole step a
second time (the XLA pre-training step test took 98 s with the second trace,
61 s without, one run each on a shared machine). Keras offers no switch for
this, hence the mixin.

Example:
```python
import keras

class MyModel(BuildOptimizerAtCompile, keras.Model):
    ...

# MyModel(...).compile(optimizer="adam") leaves model.optimizer.built True
```
"""


class BuildOptimizerAtCompile:
    """Builds the optimizer for the model's trainable variables in `compile`.

    Put it before the Keras model class in the bases. As with any Keras
    model, call `compile` again after changing which layers are trainable.
    """

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        if self.built and self.optimizer is not None:
            self.optimizer.build(self.trainable_variables)
