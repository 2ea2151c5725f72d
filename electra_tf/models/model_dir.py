"""Model directories: one save format, keras-hub's preset, for every model here.

Task models (`ElectraClassifier`, `ElectraTagger`, ...) are keras-hub tasks
and save with keras-hub's own `save_to_preset`. The pre-trainers
(`ElectraPretrainer`, `MaskedLMPretrainer`) and `ElectraMultiTask` are not
keras-hub tasks (their backbones are shared by several heads); `save_preset`
writes them in the same layout, so one reader (`saved_class`) tells what any
directory holds:

```
model_dir/
  config.json  model.weights.h5  metadata.json   the encoder (keras-hub ElectraBackbone)
  tokenizer.json  assets/tokenizer/vocabulary.txt   its tokenizer
  task.json          the model's class and config (a pre-trainer's recipe, seed, ...)
  task.weights.h5    every weight of the model (generator, heads, ...)
```

so `keras_hub.models.ElectraBackbone.from_preset(model_dir)` reads the encoder
and `ElectraClassifier.from_preset(model_dir, num_classes=2)` puts a new head
on it. A pre-training run adds its records beside the preset:
`electra_config.json` and `vocab.txt` (the recipe and vocabulary it trains
with, written at the start so a resumed run can check them), `checkpoints/`,
`backup/`, `logs/` and `pretraining_summary.json`.

Version 0.1 wrote other layouts (a pre-trainer's `pretrainer.weights.h5` with a
`discriminator/` preset; a multi-task `multitask.keras`); they still load, with
a warning saying how to rewrite them (`electra-convert --source OLD --output_dir NEW`).

Example:
```python
from electra_tf.models import model_dir

model_dir.encoder_preset("electra_base_discriminator_en")  # a keras-hub name: unchanged
```
"""

import json
import logging
import pathlib
import shutil
import tempfile

import keras
import keras_hub

from electra_tf import tokenization
from electra_tf.config import ElectraConfig
from electra_tf.models import registry

# keras-hub's preset file names (keras_hub.src.utils.preset_utils).
TASK_CONFIG_FILENAME = "task.json"
TASK_WEIGHTS_FILENAME = "task.weights.h5"

# A pre-training run's records.
CONFIG_FILENAME = "electra_config.json"
SUMMARY_FILENAME = "pretraining_summary.json"
CHECKPOINTS_DIRNAME = "checkpoints"
BACKUP_DIRNAME = "backup"
LOGS_DIRNAME = "logs"

# Version 0.1's layouts.
LEGACY_PRETRAINER_WEIGHTS = "pretrainer.weights.h5"
LEGACY_DISCRIMINATOR_DIRNAME = "discriminator"
LEGACY_MULTITASK_MODEL = "multitask.keras"
LEGACY_MULTITASK_SETTINGS = "multitask.json"
_LEGACY_CLASSES = {LEGACY_PRETRAINER_WEIGHTS: "ElectraPretrainer",
                   LEGACY_MULTITASK_MODEL: "ElectraMultiTask"}

# `ElectraConfig.objective` -> the name of the class that pre-trains with it.
PRETRAINER_CLASSES = {objective: task.name for objective, task in registry.PRETRAINERS.items()}

log = logging.getLogger(__name__)


def saved_class(path):
    """The class name of the model saved in `path` (from its `task.json`, or a 0.1
    layout's files), or None when `path` holds no saved model."""
    path = pathlib.Path(str(path))
    task = path / TASK_CONFIG_FILENAME
    if task.is_file():
        return read_task_config(path).get("class_name")
    for filename, name in _LEGACY_CLASSES.items():
        if (path / filename).is_file():
            return name
    return None


def legacy_class(path):
    """The class name of the model saved in `path` in one of version 0.1's layouts, or None
    (no saved model, or one in the current layout)."""
    path = pathlib.Path(str(path))
    return None if (path / TASK_CONFIG_FILENAME).is_file() else saved_class(path)


def is_legacy(path) -> bool:
    """Whether `path` holds a model in one of version 0.1's layouts."""
    return legacy_class(path) is not None


def is_pretraining_dir(path) -> bool:
    """Whether `path` holds a saved pre-trainer of any objective (in any layout)."""
    return saved_class(path) in PRETRAINER_CLASSES.values()


def read_task_config(path) -> dict:
    """The parsed `task.json` of `path`, with an error naming the file if it is unreadable."""
    task = pathlib.Path(str(path)) / TASK_CONFIG_FILENAME
    try:
        return json.loads(task.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{task} is not readable JSON ({error}); the copy is incomplete or "
                         "corrupt: save the model again or restore the file.") from None


def pretraining_config(path):
    """The `ElectraConfig` a saved pre-trainer in `path` was built with."""
    path = pathlib.Path(str(path))
    if not is_pretraining_dir(path):
        raise FileNotFoundError(
            f"{path} holds no saved pre-trainer (it has no {TASK_CONFIG_FILENAME} naming "
            f"{' or '.join(PRETRAINER_CLASSES.values())}); point at a directory written by "
            "electra-pretrain or electra-convert.")
    if is_legacy(path):
        return ElectraConfig.load(path / CONFIG_FILENAME)
    return ElectraConfig.from_dict(read_task_config(path)["config"]["config"])


def vocabulary_file(path) -> pathlib.Path:
    """The vocabulary file of the model saved in `path` (in any layout)."""
    path = pathlib.Path(str(path))
    if is_legacy(path):
        return path / tokenization.VOCAB_FILENAME
    return path / "assets" / "tokenizer" / "vocabulary.txt"


def weights_file(path) -> pathlib.Path:
    """The file holding every weight of the model saved in `path` (in any layout)."""
    path = pathlib.Path(str(path))
    if legacy_class(path) == "ElectraPretrainer":
        return path / LEGACY_PRETRAINER_WEIGHTS
    return path / TASK_WEIGHTS_FILENAME


def encoder_preset(source) -> str:
    """The keras-hub preset of the encoder behind `source`: the directory itself,
    except for a 0.1 pre-training directory (its `discriminator/`); anything
    else (a keras-hub preset name or folder) passes through unchanged."""
    path = pathlib.Path(str(source))
    if legacy_class(path) != "ElectraPretrainer":
        return str(source)
    if not (path / LEGACY_DISCRIMINATOR_DIRNAME).is_dir():
        raise FileNotFoundError(
            f"{path} is an electra_tf 0.1 model directory without its "
            f"{LEGACY_DISCRIMINATOR_DIRNAME}/ preset: the copy is incomplete. Copy it again.")
    return str(path / LEGACY_DISCRIMINATOR_DIRNAME)


def save_preset(model, preset_dir, backbone, tokenizer):
    """Writes `model` (not a keras-hub task) as a keras-hub-style preset.

    `backbone` and `tokenizer` are saved as keras-hub saves a task's, `model`'s
    serialized config as `task.json` and all its weights as `task.weights.h5`.
    Everything is written to a temporary folder first and then moved in file
    by file, so a crash while saving never leaves a torn weights file beside
    a config that does not match it.
    """
    preset_dir = pathlib.Path(str(preset_dir))
    preset_dir.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".saving-", dir=preset_dir))
    try:
        backbone.save_to_preset(str(staging))
        tokenizer.save_to_preset(str(staging))
        config = keras.saving.serialize_keras_object(model)
        for key in ("compile_config", "build_config"):
            config.pop(key, None)
        (staging / TASK_CONFIG_FILENAME).write_text(json.dumps(config, indent=4))
        model.save_weights(staging / TASK_WEIGHTS_FILENAME)
        # The config last, so no reader ever sees it before its weights.
        for item in sorted(staging.iterdir(), key=lambda p: p.name == TASK_CONFIG_FILENAME):
            target = preset_dir / item.name
            if item.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            item.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return preset_dir


def load_preset(cls, preset_dir, load_weights=True):
    """The `cls` model `save_preset` wrote to `preset_dir`, built with its tokenizer."""
    preset_dir = pathlib.Path(str(preset_dir))
    name = saved_class(preset_dir)
    if name != cls.__name__:
        holds = f"an {name}" if name else "no saved model (no task.json)"
        raise ValueError(
            f"{preset_dir} holds {holds}, not an {cls.__name__}; load it with "
            f"{name or 'the class that saved it'}.from_preset, or point at a directory "
            f"{cls.__name__}.save_to_preset wrote.")
    # keras-hub's class picks the tokenizer registered for the preset's backbone class.
    tokenizer = keras_hub.models.ElectraTokenizer.from_preset(str(preset_dir))
    model = cls.from_config({**read_task_config(preset_dir)["config"], "tokenizer": tokenizer})
    if load_weights:
        load_weights_file(model, preset_dir / TASK_WEIGHTS_FILENAME)
    return model


def load_weights_file(model, path):
    """`model.load_weights` with errors that name the file and the fix."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file {path} is missing; retrain, or restore it from the "
            "checkpoints/ folder of the model directory.")
    try:
        model.load_weights(path)
    except Exception as error:  # h5py and Keras raise many types for a bad file.
        raise ValueError(
            f"cannot load weights from {path}: the file is corrupt or was written for "
            f"another config ({type(error).__name__}: {error}). Restore it from the "
            "checkpoints/ folder or retrain.") from error


def warn_legacy(path, cls_name):
    """Logs that `path` is in a 0.1 layout, and how to rewrite it."""
    log.warning(
        "%s is in electra_tf 0.1's layout; it loads, but rewrite it once in the current format: "
        "electra-convert --source %s --output_dir NEW_DIR (or %s.from_preset(old)"
        ".save_to_preset(new)).", path, path, cls_name)
