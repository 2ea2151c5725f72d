"""Every private keras-hub and Keras API electra_tf borrows, in one place.

keras-hub and Keras keep these out of their public API, so any release may
move or drop them. Each is borrowed here once, with why; the rest of the
package takes them from here. All were checked against `CHECKED_VERSIONS`;
tests/test_compat.py checks each against the installed versions and fails
naming the one an upgrade removed or renamed. This package imports only
Keras, keras-hub and TensorFlow, so every layer of electra_tf may import it.

Beside this module, the workarounds for Keras' training internals that
models mix in: `multi_worker` (`fit` under distribution strategies, pinned
to a Keras version by tests/test_multi_worker.py) and `tracing` (one trace
of the train step).

Borrowed elsewhere, for a reason: `ElectraBackbone` rebuilds keras-hub's
`ElectraBackbone` graph layer by layer (tests/test_backbone.py fails if
keras-hub's moves away); `electra_tf/export/standalone.py` reads TensorFlow's
op registries through `tensorflow.python`, and must run without electra_tf.

Example:
```python
import keras_hub
from electra_tf import compat

encoder = keras_hub.layers.TransformerEncoder(intermediate_dim=8, num_heads=2)
encoder.build((1, 4, 4))
compat.transformer_encoder_parts(encoder).output_dense.kernel.shape  # -> (8, 4)
```
"""

import collections

# keras-hub 0.32.0: the pre-tokenization `WordPieceTokenizer` applies before
# splitting words into pieces (lower-casing, accents, punctuation and CJK
# characters as words). `tokenization.build_vocabulary` learns a vocabulary
# from exactly these words; keras-hub has no public name for it.
from keras_hub.src.tokenizers.word_piece_tokenizer import pretokenize

# keras-hub 0.32.0: the tanh GELU keras-hub's `ElectraBackbone` hard-codes,
# registered for serialization as `keras_hub>gelu_approximate`. Layers built
# with this very function serialize like keras-hub's, so keras-hub loads
# electra_tf's presets of that activation.
from keras_hub.src.utils.keras_utils import gelu_approximate

# keras-hub 0.32.0: the loader behind `Task.from_preset`; `load_task_from_preset`
# below needs it to skip `from_preset`'s search for a registered subclass.
from keras_hub.src.utils.preset_utils import get_preset_loader

# keras-hub 0.32.0, what keras-hub's own samplers and preprocessors use, so that
# electra_tf's stop where theirs stop and take what theirs take:
# `any_equal`: where a sequence holds a stop token (outside its prompt);
# `preprocessing_function`: wraps a preprocessor's `call` / `generate_*`
#   (inputs to TensorFlow tensors on the CPU, outputs to the backend's);
# `strip_to_ragged`: drops padding and special tokens before detokenizing.
from keras_hub.src.utils.tensor_utils import any_equal, preprocessing_function, strip_to_ragged

CHECKED_VERSIONS = {"keras": "3.15.1", "keras_hub": "0.32.0", "tensorflow": "2.21.0"}

__all__ = [
    "CHECKED_VERSIONS",
    "AfterBackupSaved",
    "DecayInUpdateStep",
    "any_equal",
    "flatten_layers",
    "gelu_approximate",
    "load_task_from_preset",
    "masked_lm_head_parts",
    "preprocessing_function",
    "pretokenize",
    "save_backup",
    "strip_to_ragged",
    "transformer_encoder_parts",
    "uses_weight_decay",
    "variable_index",
]


def load_task_from_preset(cls, preset, load_weights=True, load_task_weights=True, **kwargs):
    """`cls` loaded from `preset`, as `keras_hub.models.Task.from_preset` does, but into `cls`
    itself.

    keras-hub's `from_preset` first looks for a registered subclass of `cls`
    whose `backbone_cls` is exactly the preset's backbone class (keras-hub
    0.32.0), which refuses a task meant for either ELECTRA backbone class;
    `PresetLoader.load_task` is what it calls next.
    """
    return get_preset_loader(preset).load_task(cls, load_weights, load_task_weights, **kwargs)


def flatten_layers(layer):
    """`layer` and every layer inside it, at any depth.

    Keras 3.15.1 has no public recursive walk over layers; `_flatten_layers`
    is the one Keras uses to collect variables, and keras-hub's
    `Task.load_task_weights` to skip a backbone's layers.
    """
    return list(layer._flatten_layers())


TransformerEncoderParts = collections.namedtuple("TransformerEncoderParts", [
    "self_attention", "self_attention_layer_norm", "intermediate_dense", "output_dense",
    "output_layer_norm"])


def transformer_encoder_parts(layer):
    """The sub-layers of a built `keras_hub.layers.TransformerEncoder`, by role.

    keras-hub 0.32.0 keeps them in private attributes (made in `build`);
    checkpoint conversion names each variable of a block through them.
    """
    return TransformerEncoderParts(
        self_attention=layer._self_attention_layer,
        self_attention_layer_norm=layer._self_attention_layer_norm,
        intermediate_dense=layer._feedforward_intermediate_dense,
        output_dense=layer._feedforward_output_dense,
        output_layer_norm=layer._feedforward_layer_norm,
    )


MaskedLMHeadParts = collections.namedtuple("MaskedLMHeadParts", [
    "intermediate_dense", "intermediate_layer_norm", "bias"])


def masked_lm_head_parts(head):
    """The dense layer, LayerNorm and output bias of a built `keras_hub.layers.MaskedLMHead`.

    keras-hub 0.32.0 keeps them in private attributes (made in `build`);
    checkpoint conversion names the head's variables through them.
    """
    return MaskedLMHeadParts(intermediate_dense=head._intermediate_dense,
                             intermediate_layer_norm=head._intermediate_layer_norm,
                             bias=head._bias)


class DecayInUpdateStep:
    """Optimizer mixin, before the Keras optimizer in the bases: Keras' own weight decay
    does nothing, for an optimizer that decays in its `update_step`.

    Keras 3.15.1 decays every variable at the optimizer's one learning rate in
    `_apply_weight_decay`, before `update_step`; an optimizer whose rate
    differs per variable decays in `update_step` instead (`uses_weight_decay`
    tells which variables decay).
    """

    def _apply_weight_decay(self, variables):
        """Done in `update_step`."""


def uses_weight_decay(optimizer, variable):
    """Whether `optimizer` decays `variable`: Keras' `_use_weight_decay` (Keras 3.15.1), which
    applies `exclude_from_weight_decay`."""
    return optimizer._use_weight_decay(variable)


def variable_index(optimizer, variable):
    """`variable`'s position in the list `optimizer.build` was given: Keras'
    `_get_variable_index` (Keras 3.15.1)."""
    return optimizer._get_variable_index(variable)


def save_backup(callback, epoch, batches):
    """Makes a `keras.callbacks.BackupAndRestore` save now, as done up to `batches` of `epoch`.

    Keras 3.15.1 saves only at its own epoch or step interval, recording
    `_current_epoch` and `_last_batch_seen`; its `_save_model` writes them
    with the model.
    """
    callback._current_epoch, callback._last_batch_seen = epoch, batches
    callback._save_model()


class AfterBackupSaved:
    """`keras.callbacks.BackupAndRestore` mixin, before it in the bases: calls
    `self.backup_saved(epoch, batches)` after every save, with the position Keras recorded.

    Keras 3.15.1 saves in `_save_model` (the weights, then `training_metadata.json`
    holding `_current_epoch` and `_last_batch_seen`), at its own intervals and
    from `save_backup`; it has no public hook after a save.
    """

    def _save_model(self):
        super()._save_model()
        self.backup_saved(self._current_epoch, self._last_batch_seen)

    def backup_saved(self, epoch, batches):
        """Called after each save, with the position it recorded."""
