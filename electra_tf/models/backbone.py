"""`ElectraBackbone`: keras-hub's ELECTRA encoder with a choice of GELU.

Google's original ELECTRA and Hugging Face's port use the exact (erf) GELU;
`keras_hub.models.ElectraBackbone` hard-codes the tanh approximation, whose
outputs differ by up to ~1e-3 per layer, so a released checkpoint loaded into
keras-hub's class computes something slightly different from the original.
This subclass adds one setting, `activation` (`"gelu"` exact, or keras-hub's
`"gelu_approximate"`, the default), and changes nothing else: the layers, their
names and the variable layout are keras-hub's own, so weights move both ways
between the two classes (tested), and `isinstance(b, keras_hub.models.
ElectraBackbone)` holds.

Presets: a backbone with keras-hub's activation is saved as a plain keras-hub
preset (`keras_hub.models.ElectraBackbone.from_preset` reads it without this
package); one with exact GELU records this class and its activation. Either
loads with `ElectraBackbone.from_preset`, which also accepts any keras-hub
ELECTRA preset.

Example:
```python
import numpy as np
from electra_tf.models.backbone import ElectraBackbone

backbone = ElectraBackbone(vocab_size=50, num_layers=2, num_heads=2, hidden_dim=16,
                           embedding_dim=8, intermediate_dim=32, max_sequence_length=16,
                           activation="gelu")
ids = np.ones((1, 16), "int32")
output = backbone({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids})
output["sequence_output"].shape  # (1, 16, 16)
```
"""

import keras
import keras_hub
from keras_hub.src.utils.preset_utils import get_preset_loader

from electra_tf.layers.activations import KERAS_HUB_ACTIVATION, activation_function


def activation_of(backbone):
    """The activation name of any ELECTRA backbone (keras-hub's own class: its tanh GELU)."""
    return getattr(backbone, "activation", KERAS_HUB_ACTIVATION)


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraBackbone(keras_hub.models.ElectraBackbone):
    """keras-hub's `ElectraBackbone` with `activation` in its config.

    Args are keras-hub's (`vocab_size`, `num_layers`, `num_heads`,
    `hidden_dim`, `embedding_dim`, `intermediate_dim`, `dropout`,
    `max_sequence_length`, `num_segments`, `dtype`) plus `activation`:
    `"gelu"` (exact; Google's and Hugging Face's checkpoints) or
    `"gelu_approximate"` (keras-hub's; the default).
    """

    def __init__(self, *args, activation=KERAS_HUB_ACTIVATION, **kwargs):
        function = activation_function(activation)
        super().__init__(*args, **kwargs)
        # keras-hub builds its TransformerEncoders with the tanh GELU and no way
        # to choose. The feed-forward Dense is the only place the activation is
        # applied, and a functional model re-runs each layer's `call`, so
        # setting it here changes what the model computes and nothing else.
        for layer in self.transformer_layers:
            layer.activation = function
            layer._feedforward_intermediate_dense.activation = function
        self.activation = activation

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}

    @classmethod
    def from_keras_hub(cls, backbone):
        """This class with the weights of a `keras_hub.models.ElectraBackbone` (same numbers)."""
        config = backbone.get_config()
        config.setdefault("activation", KERAS_HUB_ACTIVATION)
        copy = cls.from_config(config)
        copy.set_weights(backbone.get_weights())
        return copy

    def to_keras_hub(self):
        """A plain `keras_hub.models.ElectraBackbone` with these weights.

        It computes the same only when `activation` is keras-hub's
        `"gelu_approximate"`; with exact GELU its outputs drift by ~1e-3.
        """
        config = self.get_config()
        del config["activation"]
        twin = keras_hub.models.ElectraBackbone.from_config(config)
        twin.set_weights(self.get_weights())
        return twin

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Any ELECTRA backbone preset: this class's, or keras-hub's (tanh GELU)."""
        backbone = keras_hub.models.ElectraBackbone.from_preset(
            preset, load_weights=load_weights, **kwargs)
        return backbone if isinstance(backbone, cls) else cls.from_keras_hub(backbone)

    def save_to_preset(self, preset_dir, max_shard_size=10):
        """A keras-hub preset; in keras-hub's own class when that computes the same numbers."""
        if self.activation == KERAS_HUB_ACTIVATION:
            return self.to_keras_hub().save_to_preset(preset_dir, max_shard_size=max_shard_size)
        return super().save_to_preset(preset_dir, max_shard_size=max_shard_size)


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraTokenizer(keras_hub.models.ElectraTokenizer):
    """keras-hub's `ElectraTokenizer`, declared as the tokenizer of the backbone above.

    keras-hub's `Tokenizer.from_preset` picks the tokenizer class through
    `backbone_cls`; without this, `keras_hub.models.ElectraTokenizer.from_preset`
    refuses a preset whose backbone has exact GELU. Nothing else differs.
    """

    backbone_cls = ElectraBackbone


class FreshOptimizerOnLoad:
    """keras-hub task mixin: `from_preset` leaves the saved optimizer state out.

    A task saved after `fit` keeps its optimizer's state in `task.weights.h5`.
    `from_preset` builds the task anew, compiled with an optimizer that has
    no slots yet (they are made when training starts), which cannot take the
    saved ones: Keras skipped them anyway, warning "Skipping variable loading
    for optimizer ..." at every load for prediction or export. A task trained
    after loading starts its optimizer afresh, as it did; an optimizer that is
    built by then is loaded as before.
    """

    def load_task_weights(self, filepath):
        skipped = list(self.backbone._flatten_layers())  # loaded from the backbone's own file
        if self.optimizer is not None and not self.optimizer.built:
            skipped.append(self.optimizer)
        keras.saving.load_weights(self, filepath, objects_to_skip=skipped)


class ElectraTaskPresets(FreshOptimizerOnLoad):
    """Task mixin: `from_preset` takes a preset of either ELECTRA backbone class.

    keras-hub's `Task.from_preset` looks for a registered task subclass whose
    `backbone_cls` is exactly the preset's backbone class, so a task declared
    for keras-hub's `ElectraBackbone` would refuse a preset holding the
    subclass above (and the other way round). The tasks here work with both,
    so this skips that search; keras-hub offers no public loader for it.
    """

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        load_task_weights = "num_classes" not in kwargs  # as keras-hub's classifiers
        return get_preset_loader(preset).load_task(cls, load_weights, load_task_weights, **kwargs)
