"""The task registry: every model class this package saves, and what reads it.

One record per class, keyed by the class name a saved model's `task.json`
records (version 0.1's layouts imply it from their files: `legacy`).
A record says what the class exports as for TF Serving, which pre-training
objective it trains, if any, and whether `electra_tf.convert` rewrites it.
`electra_tf.convert`, `electra_tf.export` and `model_dir` read this table
and keep no list of their own, so adding a task is adding its record here
(and, for a new kind of export, its servable to `export.SERVABLES`).

Example:
```python
from electra_tf.models import registry

task = registry.TASKS["ElectraClassifier"]
task.exports  # -> ('classifier',)
task.cls  # -> <class 'electra_tf.models.classification.classifier.ElectraClassifier'>
registry.PRETRAINERS["mlm"].name  # -> 'MaskedLMPretrainer'
```
"""

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskRecord:
    """One saved model class.

    Attributes:
        name: the class name, as `task.json` records it.
        module: the module that defines the class. It is imported on first use
            of `cls`, not here: `model_dir` reads this table while the model
            modules that import it are still loading.
        description: how messages name a saved model of this class.
        exports: the servable kinds (`electra_tf.export.SERVABLES`) it exports
            as, the default first; empty when it has no export.
        objective: for a pre-trainer, the `ElectraConfig.objective` it trains.
        convertible: whether `electra_tf.convert` reads it (and writes it back).
    """

    name: str
    module: str
    description: str
    exports: tuple = ()
    objective: str | None = None
    convertible: bool = True

    @property
    def cls(self):
        """The class itself."""
        return getattr(importlib.import_module(self.module), self.name)


TASKS = {task.name: task for task in (
    TaskRecord(name="ElectraPretrainer", module="electra_tf.models.pretraining.electra_pretrainer",
               description="an ELECTRA pre-training run", objective="electra",
               exports=("discriminator", "generator")),
    TaskRecord(name="MaskedLMPretrainer",
               module="electra_tf.models.pretraining.masked_lm_pretrainer",
               description="a masked-LM baseline pre-training run", objective="mlm",
               exports=("generator",)),
    TaskRecord(name="ElectraReplacedTokenDetector",
               module="electra_tf.models.pretraining.detector",
               description="a replaced-token detector", exports=("discriminator",)),
    TaskRecord(name="ElectraMaskedLM", module="electra_tf.models.pretraining.masked_lm",
               description="a masked language model", exports=("generator",)),
    TaskRecord(name="ElectraClassifier", module="electra_tf.models.classification.classifier",
               description="a text classifier", exports=("classifier",)),
    TaskRecord(name="ElectraTagger", module="electra_tf.models.tagging.tagger",
               description="a token tagger", exports=("tagger",)),
    TaskRecord(name="ElectraMultiTask", module="electra_tf.models.multitask.multitask",
               description="a multi-task model", exports=("multitask",)),
    # Hugging Face and keras-hub have no encoder-decoder ELECTRA to convert to.
    TaskRecord(name="ElectraSeq2SeqLM", module="electra_tf.models.seq2seq.seq2seq_lm",
               description="a sequence-to-sequence model", exports=("seq2seq",),
               convertible=False),
)}

# `ElectraConfig.objective` -> the record of the class that pre-trains with it.
PRETRAINERS = {task.objective: task for task in TASKS.values() if task.objective}


def describe(name):
    """How messages name a saved model of class `name` (None: no saved model)."""
    if name is None:
        return "no saved model (no task.json)"
    task = TASKS.get(name)
    return f"{task.description} ({name})" if task else f"a {name}"
