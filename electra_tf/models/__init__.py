"""The models, grouped by task as keras-hub groups them by model.

* The task packages: `pretraining` (ELECTRA's towers and the masked-LM
  baseline), `classification`, `tagging`, `multitask`, `seq2seq` and
  `captioning`, each with its task models and their preprocessors.
* What every task may use, here at the top: `backbone` (`ElectraBackbone`),
  `tokenizer`, `task_presets` (how a task loads from a preset), `encoders`
  (where a task's encoder comes from), `losses`, `metrics`, `samplers`,
  `model_dir` (the saved-model format), `legacy` (version 0.1's) and
  `registry` (every saved model class). None of them imports a task package.

The modules of the flat layout before (`electra_tf.models.classifier`,
`electra_tf.models.seq2seq_lm`, ...) still import, for code written against
it: `MOVED` says where each went, and an old name is served from its new
module with a `DeprecationWarning` naming the new path. Saved models name
their classes by registered name (`electra_tf>ElectraClassifier`), not by
module, so folders saved before load unchanged.

Example:
```python
import warnings
from electra_tf.models.classification.classifier import ElectraClassifier

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from electra_tf.models.classifier import ElectraClassifier as Old
Old is ElectraClassifier  # -> True
new_path = str(caught[0].message).split(" moved to ")[1].split(";")[0]
new_path  # -> 'electra_tf.models.classification.classifier.ElectraClassifier'
```
"""

import importlib
import importlib.abc
import importlib.util
import inspect
import sys
import warnings

_MODELS = "electra_tf.models."

# Old module (under electra_tf.models) -> the modules its public names moved to, searched
# in order. A module that still exists (backbone, multitask, captioning) serves its moved
# names through a module `__getattr__`; one that is gone is served whole (`_MovedModules`).
MOVED = {_MODELS + old: tuple(new if new.startswith("electra_tf.") else _MODELS + new
                              for new in news) for old, news in {
    "backbone": ("tokenizer", "task_presets"),
    "captioning": ("captioning.backbone", "captioning.preprocessor", "captioning.captioner",
                   "electra_tf.data.captioning"),
    "classifier": ("classification.classifier", "classification.preprocessor"),
    "detector": ("pretraining.detector",),
    "document": ("seq2seq.document",),
    "generator": ("pretraining.generator",),
    "mask_predict": ("pretraining.mask_predict",),
    "masked_lm": ("pretraining.masked_lm", "pretraining.masked_lm_preprocessor"),
    "masked_lm_pretrainer": ("pretraining.masked_lm_pretrainer",),
    "multi_worker": ("electra_tf.compat.multi_worker",),
    "multitask": ("multitask.multitask",),
    "pretrainer": ("pretraining.electra_pretrainer",),
    "pretrainer_base": ("pretraining.base", "encoders"),
    "seq2seq_backbone": ("seq2seq.backbone", "seq2seq.encoder_decoder_backbone"),
    "seq2seq_lm": ("seq2seq.seq2seq_lm",),
    "seq2seq_preprocessor": ("seq2seq.preprocessor",),
    "tagger": ("tagging.tagger", "tagging.preprocessor", "metrics"),
    "tagger_preprocessor": ("tagging.preprocessor",),
    "tracing": ("electra_tf.compat.tracing",),
}.items()}


def moved_attribute(old_module, name):
    """`name` of the old module `old_module`, from where it moved, with a
    `DeprecationWarning` naming the new path; `AttributeError` if it never was there.

    A name counts as moved if a module in `MOVED[old_module]` defines it (a class or
    function of that module, or a constant); names those modules only import are left out.
    """
    if not name.startswith("_"):
        for new_module in MOVED.get(old_module, ()):
            module = importlib.import_module(new_module)
            value = getattr(module, name, None)
            if value is None or inspect.ismodule(value):
                continue
            if getattr(value, "__module__", new_module) != new_module:
                continue
            warnings.warn(f"{old_module}.{name} moved to {new_module}.{name}; import it from "
                          "there (the old path will be removed)", DeprecationWarning,
                          stacklevel=3)
            return value
    raise AttributeError(f"module {old_module!r} has no attribute {name!r}")


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module that no longer exists as a module of its moved names.

    It stands last on `sys.meta_path`, so a module that exists is always found first.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return None  # the default module

    def exec_module(self, module):
        name = module.__name__

        def __getattr__(attribute):
            return moved_attribute(name, attribute)

        module.__getattr__ = __getattr__
        module.__doc__ = f"Moved: see {', '.join(MOVED[name])}."


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())
