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

A folder that cannot be read (a file missing, empty, truncated, not JSON, or
weights of another model size) raises a `RunFolderError` naming the file,
what is wrong and the fix: the readers here raise it (`read_json`,
`read_vocabulary`, `check_weights_file`, `check_preset`, `reading`), and so
do the pre-training run's own readers (`training.pretrain`,
`training.run_records`, `training.budget`, `training.preemption`); every
command prints it as one line (`electra_tf.cli`).

A command reads each file once: it runs inside `read_once()`, within which the
readers here keep what they read (a file's bytes, a weights file's check) and
read a file again only if it has changed on disk since. So the command's own
checks and readers of one file (`saved_class` to choose the model class, then
`check_preset` before the loader, ...) share one reading of it. keras-hub and
Keras then read the files they build the model from themselves, once
`reading`'s check has passed.

Version 0.1 wrote other layouts (a pre-trainer's `pretrainer.weights.h5` with a
`discriminator/` preset; a multi-task `multitask.keras`); the readers here
read them too, asking `electra_tf.models.legacy` where their parts are, with
a warning saying how to rewrite them (`electra-convert --source OLD --output_dir NEW`).

Example:
```python
from electra_tf.models import model_dir

model_dir.encoder_preset("electra_base_discriminator_en")  # a keras-hub name: unchanged
# -> 'electra_base_discriminator_en'
```
"""

import contextlib
import json
import pathlib
import shutil
import tempfile
import zipfile

import h5py
import keras
import keras_hub

from electra_tf.config import ConfigError, ElectraConfig
from electra_tf.models import legacy, registry
# keras-hub finds a preset's tokenizer among the subclasses of its ElectraTokenizer, so this
# package's must be defined before any folder loads, whichever command loads it.
from electra_tf.models import tokenizer  # noqa: F401

# keras-hub's preset file names (keras_hub.src.utils.preset_utils).
BACKBONE_CONFIG_FILENAME = "config.json"
BACKBONE_WEIGHTS_FILENAME = "model.weights.h5"
SHARDED_WEIGHTS_FILENAME = "model.weights.json"
PREPROCESSOR_CONFIG_FILENAME = "preprocessor.json"
TASK_CONFIG_FILENAME = "task.json"
TASK_WEIGHTS_FILENAME = "task.weights.h5"
# A tokenizer saved as `<name>tokenizer.json` keeps its vocabulary in `assets/<name>tokenizer/`.
TOKENIZER_CONFIG_PATTERN = "*tokenizer.json"
VOCABULARY_ASSET = "vocabulary.txt"

# A pre-training run's records.
CONFIG_FILENAME = "electra_config.json"
SUMMARY_FILENAME = "pretraining_summary.json"
CHECKPOINTS_DIRNAME = "checkpoints"
BACKUP_DIRNAME = "backup"
LOGS_DIRNAME = "logs"

# `ElectraConfig.objective` -> the name of the class that pre-trains with it.
PRETRAINER_CLASSES = {objective: task.name for objective, task in registry.PRETRAINERS.items()}

# The fix for a damaged file of a saved model.
RESAVE = "copy the folder again from where it was written, or save the model again"
# The fix for a folder that holds no saved model at all.
NOT_A_MODEL = ("point at a folder that electra-pretrain, electra-finetune, electra-convert or a "
               "model's save_to_preset wrote")

# While a command runs (`read_once`): what the readers here read, by file version.
_read_files = None


class RunFolderError(ValueError):
    """A run or model folder cannot be read: a file is missing, empty, truncated or
    corrupt, or does not fit the rest of the folder (weights of another model size).

    The message is one line naming the file, what is wrong with it and the fix;
    every command prints it alone and exits with code 2 (`electra_tf.cli`).
    """


def folder_error(path, problem, fix=RESAVE) -> RunFolderError:
    """The `RunFolderError` "`path` `problem`; `fix`." on one line."""
    return RunFolderError(one_line(f"{path} {problem}; {fix}."))


def one_line(text) -> str:
    """`text` (an error message, say) with its line breaks and runs of spaces as single spaces."""
    return " ".join(str(text).split())


def describe_error(error, limit=300) -> str:
    """`"Type: message"` of a library's `error`, on one line and cut at `limit` characters
    (Keras lists every variable it could not load)."""
    text = one_line(f"{type(error).__name__}: {error}")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextlib.contextmanager
def read_once():
    """Within it, `read_json`, `read_vocabulary` and `check_weights_file` read each file
    once: a second call on a file that has not changed since (same inode, size and
    modification time) reuses the first reading. Every command runs inside it
    (`electra_tf.cli`); nested uses share the outermost one's readings.

    Example:
    ```python
    from electra_tf.models import model_dir

    config = "tests/fixtures/seq2seq_0_1/seq2seq/config.json"
    with model_dir.read_once():
        first = model_dir.read_json(config)
        again = model_dir.read_json(config)  # the first reading, not the disk
    first["class_name"], first == again  # -> ('ElectraSeq2SeqBackbone', True)
    ```
    """
    global _read_files
    if _read_files is not None:
        yield
        return
    _read_files = {}
    try:
        yield
    finally:
        _read_files = None


def _file_version(path):
    """What tells one version of the file `path` from another."""
    stat = path.stat()
    return str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns


def _read_bytes(path) -> bytes:
    """The bytes of the file `path`; inside `read_once`, read from disk once per version."""
    if _read_files is None:
        return path.read_bytes()
    key = ("bytes", *_file_version(path))
    if key not in _read_files:
        _read_files[key] = path.read_bytes()
    return _read_files[key]


def read_json(path, fix=RESAVE) -> dict:
    """The JSON object in the file `path`, or a `RunFolderError` saying it is missing,
    empty, not JSON or not an object, with `fix`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise folder_error(path, "is missing", fix)
    try:
        text = _read_bytes(path).decode("utf-8")
        value = json.loads(text)
    except OSError as error:
        raise folder_error(path, f"cannot be read ({error})", fix) from None
    except UnicodeDecodeError as error:
        raise folder_error(path, f"is not readable JSON (not UTF-8 text: {error}): the file is "
                           "corrupt", fix) from None
    except json.JSONDecodeError as error:
        problem = ("is not readable JSON: the file is empty" if not text.strip() else
                   f"is not readable JSON ({error}): the file is truncated or corrupt")
        raise folder_error(path, problem, fix) from None
    if not isinstance(value, dict):
        raise folder_error(path, f"holds a JSON {type(value).__name__} where an object belongs",
                           fix)
    return value


def read_vocabulary(path, fix=RESAVE, size=None) -> list[str]:
    """The tokens of the vocabulary file `path` (one a line), checked to be UTF-8 text, not
    empty, without repeats and, given `size`, of `size` lines (the token embeddings of the
    model it belongs to); otherwise a `RunFolderError` with `fix`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise folder_error(path, "is missing", fix)
    try:
        # Split as keras-hub's WordPiece reads it: every "\n" ends a token, blank lines count.
        lines = _read_bytes(path).decode("utf-8").removesuffix("\n").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise folder_error(path, f"is not readable UTF-8 text ({error})", fix) from None
    tokens = [line.strip() for line in lines if line.strip()]
    if not tokens:
        raise folder_error(path, "is empty", fix)
    if len(set(tokens)) != len(tokens):
        raise folder_error(path, "repeats some tokens (each must appear once): it is corrupt", fix)
    if size is not None and len(lines) != size:
        raise folder_error(
            path, f"has {len(lines)} tokens where the model has {size} token embeddings: the "
            "file is truncated or belongs to another model", fix)
    return tokens


def check_weights_file(path, fix=RESAVE):
    """Raises a `RunFolderError` with `fix` unless `path` is a readable weights file: HDF5,
    or a `.keras` archive (a zip file).

    Opening it reads its header only; HDF5 and zip record the file's length there,
    so a truncated copy shows.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise folder_error(path, "is missing", fix)
    key = ("weights", *_file_version(path))
    if _read_files is None or key not in _read_files:
        try:
            if path.suffix == ".keras":
                zipfile.ZipFile(path).close()
            else:
                with h5py.File(path, "r"):
                    pass
            problem = None
        except (OSError, zipfile.BadZipFile) as error:
            problem = (f"is not a readable weights file ({error}): it is empty, truncated or "
                       "corrupt")
        if _read_files is not None:
            _read_files[key] = problem
    else:
        problem = _read_files[key]
    if problem:
        raise folder_error(path, problem, fix)


def check_preset(path):
    """Raises a `RunFolderError` naming the first damaged file of the preset folder `path`.

    Checks what the loaders read: the configs (`config.json`, `task.json`,
    `preprocessor.json`, the tokenizers' `*tokenizer.json`) are JSON objects,
    each tokenizer's vocabulary is UTF-8 text (for the encoder's tokenizer,
    one line per token embedding) and the weights files are readable HDF5.
    Weights of another model size show only when loaded (`reading`).
    Folders in version 0.1's layouts (`legacy`) are not checked here.
    """
    path = pathlib.Path(str(path))
    if is_legacy(path):
        return
    config_file = path / BACKBONE_CONFIG_FILENAME
    if not config_file.is_file():
        raise folder_error(config_file, f"is missing, so {path} holds no saved model", NOT_A_MODEL)
    config = read_json(config_file)
    for name in (TASK_CONFIG_FILENAME, PREPROCESSOR_CONFIG_FILENAME):
        if (path / name).exists():
            read_json(path / name)
    for tokenizer_file in sorted(path.glob(TOKENIZER_CONFIG_PATTERN)):
        read_json(tokenizer_file)
        encoder = tokenizer_file.name == "tokenizer.json"
        read_vocabulary(path / "assets" / tokenizer_file.stem / VOCABULARY_ASSET,
                        size=_token_embeddings(config) if encoder else None)
    if not (path / SHARDED_WEIGHTS_FILENAME).exists():
        check_weights_file(path / BACKBONE_WEIGHTS_FILENAME)
    if (path / TASK_WEIGHTS_FILENAME).exists():
        check_weights_file(path / TASK_WEIGHTS_FILENAME)


def _token_embeddings(backbone_config):
    """The token embeddings of the ELECTRA encoder a `config.json` describes (a
    seq2seq model's encoder included), or None for another backbone."""
    encoder = backbone_config.get("config", {}).get("encoder")
    for candidate in (backbone_config, encoder):
        if isinstance(candidate, dict) and candidate.get("class_name") == "ElectraBackbone":
            return candidate.get("config", {}).get("vocab_size")
    return None


@contextlib.contextmanager
def reading(path):
    """Loading a model from the folder `path`, with every failure a `RunFolderError`.

    The folder's files are checked first (`check_preset`); an error raised while
    the model is then built from them (weights of another model size, a config
    this version cannot build) becomes a `RunFolderError` naming the folder, its
    configs and weights, and quoting the error. A path that does not exist is refused; a keras-hub
    preset name (no folder) is left to keras-hub.

    Example:
    ```python
    import keras_hub
    from electra_tf.models import model_dir

    preset = "tests/fixtures/model_dirs_0_1/pretraining/discriminator"
    with model_dir.reading(preset):
        backbone = keras_hub.models.ElectraBackbone.from_preset(preset)
    try:
        with model_dir.reading("runs/nowhere"):
            pass
    except model_dir.RunFolderError as error:
        message = str(error)
    backbone.hidden_dim  # -> 32
    message  # -> runs/nowhere does not exist; point at a folder that electra-pretrain, ...
    ```
    """
    path = pathlib.Path(str(path))
    if not path.is_dir():
        if _names_a_path(str(path)):
            raise folder_error(path, "does not exist", NOT_A_MODEL)
        yield
        return
    check_preset(path)
    try:
        yield
    except RunFolderError:
        raise
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise folder_error(
            path, f"does not load ({describe_error(error)}): its files are readable, so its "
            f"weights ({BACKBONE_WEIGHTS_FILENAME}, {TASK_WEIGHTS_FILENAME}) may be those of "
            f"another model size than its configs ({BACKBONE_CONFIG_FILENAME}, "
            f"{TASK_CONFIG_FILENAME}) describe") from error


def _names_a_path(preset):
    """Whether `preset` is meant as a local folder rather than a keras-hub preset name or a
    `kaggle://` / `hf://` handle."""
    return "://" not in preset and ("/" in preset or preset.startswith("."))


def saved_class(path):
    """The class name of the model saved in `path` (from its `task.json`, or a 0.1
    layout's files), or None when `path` holds no saved model."""
    path = pathlib.Path(str(path))
    task = path / TASK_CONFIG_FILENAME
    if task.is_file():
        return read_task_config(path).get("class_name")
    return legacy.saved_class(path)


def is_legacy(path) -> bool:
    """Whether `path` holds a model in one of version 0.1's layouts (`legacy`)."""
    path = pathlib.Path(str(path))
    return not (path / TASK_CONFIG_FILENAME).is_file() and legacy.saved_class(path) is not None


def is_pretraining_dir(path) -> bool:
    """Whether `path` holds a saved pre-trainer of any objective (in any layout)."""
    return saved_class(path) in PRETRAINER_CLASSES.values()


def read_task_config(path) -> dict:
    """The parsed `task.json` of `path`; a `RunFolderError` naming the file if it is unreadable."""
    return read_json(pathlib.Path(str(path)) / TASK_CONFIG_FILENAME)


def pretraining_config(path):
    """The `ElectraConfig` a saved pre-trainer in `path` was built with."""
    path = pathlib.Path(str(path))
    if not is_pretraining_dir(path):
        raise folder_error(
            path, f"holds no saved pre-trainer (it has no {TASK_CONFIG_FILENAME} naming "
            f"{' or '.join(PRETRAINER_CLASSES.values())})",
            "point at a directory written by electra-pretrain or electra-convert")
    if is_legacy(path):
        return legacy.pretraining_config(path)
    task = path / TASK_CONFIG_FILENAME
    try:
        return ElectraConfig.from_dict(read_task_config(path)["config"]["config"])
    except (KeyError, TypeError) as error:
        raise folder_error(task, f"lacks the pre-training config ({describe_error(error)})"
                           ) from None
    except ConfigError as error:
        raise folder_error(task, f"holds an invalid pre-training config ({error})") from None


def vocabulary_file(path) -> pathlib.Path:
    """The vocabulary file of the model saved in `path` (in any layout)."""
    path = pathlib.Path(str(path))
    if is_legacy(path):
        return legacy.vocabulary_file(path)
    return path / "assets" / "tokenizer" / VOCABULARY_ASSET


def weights_file(path) -> pathlib.Path:
    """The file holding every weight of the model saved in `path` (in any layout)."""
    path = pathlib.Path(str(path))
    if is_legacy(path):
        return legacy.weights_file(path)
    return path / TASK_WEIGHTS_FILENAME


def encoder_preset(source) -> str:
    """The keras-hub preset of the encoder behind `source`: the directory itself,
    except for a 0.1 pre-training directory (its `discriminator/`); anything
    else (a keras-hub preset name or folder) passes through unchanged."""
    path = pathlib.Path(str(source))
    preset = legacy.encoder_preset(path) if is_legacy(path) else None
    if preset is None:
        return str(source)
    if not preset.is_dir():
        raise folder_error(
            path, f"is an electra_tf 0.1 model directory without its {preset.name}/ preset: "
            "the copy is incomplete", "copy it again")
    return str(preset)


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


def load_preset(cls, preset_dir, load_weights=True, configure=None):
    """The `cls` model `save_preset` wrote to `preset_dir`, built with its tokenizer.

    `configure` (a function of the saved config, returning the config to build
    from) changes how the model is built, e.g. under another dtype policy. A
    folder in one of version 0.1's layouts loads too (`legacy.build`), with a
    warning saying how to rewrite it, but only as it was saved.
    """
    preset_dir = pathlib.Path(str(preset_dir))
    name = saved_class(preset_dir)
    if name != cls.__name__:
        holds = f"an {name}" if name else "no saved model (no task.json)"
        raise folder_error(
            preset_dir, f"holds {holds}, not an {cls.__name__}",
            f"load it with {name or 'the class that saved it'}.from_preset, or point at a "
            f"directory {cls.__name__}.save_to_preset wrote")
    if is_legacy(preset_dir):
        if configure is not None:
            raise folder_error(
                preset_dir, "is in electra_tf 0.1's layout, which loads only as it was saved",
                f"rewrite it first: electra-convert --source {preset_dir} --output_dir NEW_DIR")
        legacy.warn(preset_dir, cls.__name__)
        model = legacy.build(cls, preset_dir)
    else:
        with reading(preset_dir):
            # keras-hub's class picks the tokenizer registered for the preset's backbone class.
            tokenizer = keras_hub.models.ElectraTokenizer.from_preset(str(preset_dir))
            config = read_task_config(preset_dir)["config"]
            model = cls.from_config({**(configure or dict)(config), "tokenizer": tokenizer})
    if load_weights:
        load_weights_file(model, weights_file(preset_dir))
    return model


def load_weights_file(model, path):
    """`model.load_weights(path)`, with a `RunFolderError` naming the file and the fix."""
    path = pathlib.Path(path)
    fix = "restore it from the checkpoints/ folder of the model directory, or retrain"
    check_weights_file(path, fix)
    try:
        model.load_weights(path)
    except Exception as error:  # h5py and Keras raise many types for a bad file.
        raise folder_error(
            path, f"does not fit the model ({describe_error(error)}): the file is "
            "corrupt or holds the weights of a model of another size than the folder's config "
            "and vocabulary describe", fix) from error

