"""How a task model loads from a preset: the two keras-hub task mixins every task here uses.

`FreshOptimizerOnLoad` leaves a saved optimizer's state out when a task is
loaded; `ElectraTaskPresets` (which includes it) also lets a task load on a
preset of either ELECTRA backbone class, keras-hub's or
`electra_tf.models.backbone.ElectraBackbone`.

Example:
```python
from electra_tf import ElectraClassifier, ElectraSeq2SeqLM
from electra_tf.models.task_presets import ElectraTaskPresets, FreshOptimizerOnLoad

issubclass(ElectraClassifier, ElectraTaskPresets)  # every encoder task  # -> True
issubclass(ElectraSeq2SeqLM, FreshOptimizerOnLoad)  # its backbone is its own class  # -> True
```
"""

import keras

from electra_tf import compat
from electra_tf.models import model_dir


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
        skipped = compat.flatten_layers(self.backbone)  # loaded from the backbone's own file
        if self.optimizer is not None and not self.optimizer.built:
            skipped.append(self.optimizer)
        keras.saving.load_weights(self, filepath, objects_to_skip=skipped)


class ElectraTaskPresets(FreshOptimizerOnLoad):
    """Task mixin: `from_preset` takes a preset of either ELECTRA backbone class.

    keras-hub's `Task.from_preset` looks for a registered task subclass whose
    `backbone_cls` is exactly the preset's backbone class, so a task declared
    for keras-hub's `ElectraBackbone` would refuse a preset holding electra_tf's
    subclass (`electra_tf.models.backbone`), and the other way round. The
    tasks here work with both, so this skips that search; keras-hub offers no
    public loader for it.
    """

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        load_task_weights = "num_classes" not in kwargs  # as keras-hub's classifiers
        with model_dir.reading(preset):  # a damaged folder: an error naming the file
            return compat.load_task_from_preset(cls, preset, load_weights, load_task_weights,
                                                **kwargs)
