"""The task registry (electra_tf/models/registry.py) is the one list of saved model classes:
its records name real classes, and convert, export and model_dir answer from it."""

import json

import pytest

from electra_tf import convert
from electra_tf.export import SERVABLES, detect_kind, load_servable
from electra_tf.models import model_dir, registry
from electra_tf.models.pretraining.base import Pretrainer
from electra_tf.training.pretrain import PRETRAINERS


def saved_as(path, class_name):
    """A folder whose task.json names `class_name` (nothing else: enough to be recognised)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / model_dir.TASK_CONFIG_FILENAME).write_text(json.dumps({"class_name": class_name}))
    return path


@pytest.mark.parametrize("name", sorted(registry.TASKS))
def test_each_record_names_its_class(name):
    task = registry.TASKS[name]
    assert (task.name, task.cls.__name__, task.cls.__module__) == (name, name, task.module)
    # A pre-trainer's objective is the one the class trains; other models have none.
    assert task.objective == (task.cls.objective if issubclass(task.cls, Pretrainer) else None)
    assert set(task.exports) <= set(SERVABLES)


def test_every_servable_kind_has_a_model_and_every_objective_a_pretrainer():
    assert {kind for task in registry.TASKS.values() for kind in task.exports} == set(SERVABLES)
    assert set(model_dir.PRETRAINER_CLASSES) == set(PRETRAINERS) == {"electra", "mlm"}
    for objective, cls in PRETRAINERS.items():
        assert model_dir.PRETRAINER_CLASSES[objective] == cls.__name__


@pytest.mark.parametrize("name", sorted(registry.TASKS))
def test_export_defaults_to_the_registry_kind(name, tmp_path):
    assert detect_kind(saved_as(tmp_path, name)) == registry.TASKS[name].exports[0]
    assert model_dir.is_pretraining_dir(tmp_path) == (registry.TASKS[name].objective is not None)


def test_a_kind_the_model_has_not_is_named_before_loading(tmp_path):
    with pytest.raises(ValueError, match=r"holds a text classifier \(ElectraClassifier\), which "
                                         "has no discriminator export: export it with --kind "
                                         "classifier"):
        load_servable("discriminator", saved_as(tmp_path / "classifier", "ElectraClassifier"))
    with pytest.raises(ValueError, match=r"holds a MyModel, which has no default export"):
        detect_kind(saved_as(tmp_path / "mine", "MyModel"))
    with pytest.raises(ValueError, match=r"holds no saved model \(no task.json\), which has no "
                                         "tagger export"):
        load_servable("tagger", tmp_path / "empty")


def test_convert_refuses_what_the_registry_marks_unconvertible(tmp_path):
    with pytest.raises(convert.ConversionError,
                       match=r"sequence-to-sequence model \(ElectraSeq2SeqLM\), which does not "
                             "convert; convertible models: ElectraPretrainer, MaskedLMPretrainer"):
        convert.load(saved_as(tmp_path, "ElectraSeq2SeqLM"))
