"""Version 0.1's layouts: everything electra_tf still knows of them, so they keep loading.

Version 0.1 saved three things in layouts of its own:

* a pre-training run folder: its recipe `electra_config.json`, `vocab.txt`,
  every weight in `pretrainer.weights.h5` and the discriminator as a
  keras-hub preset in `discriminator/`;
* a multi-task model: the whole model in `multitask.keras`, beside `vocab.txt`
  and `multitask.json` (sequence length, lower-casing);
* a sequence-to-sequence or captioning preset in today's layout, but with
  weight files that name the decoder's layers at the backbone's top level.

The readers of today's format ask this module about the rest:
`electra_tf.models.model_dir` about a folder without a `task.json` (what it
holds, where its recipe, vocabulary, weights and encoder are, and how to build
its model, which `model_dir.load_preset` then gives its weights), and
`EncoderDecoderBackbone.load_weights` about a weights file
(`seq2seq_weights`). Each old folder loads with a warning saying how to
rewrite it once (`electra-convert --source OLD --output_dir NEW`). This module
only describes the old files; the errors for damaged ones are `model_dir`'s.

Example:
```python
from electra_tf.models import legacy

legacy.saved_class("tests/fixtures/model_dirs_0_1/multitask")  # -> 'ElectraMultiTask'
legacy.saved_class("tests/fixtures/hf_electra/generator")  # not a 0.1 layout  # -> None
```
"""

import contextlib
import json
import logging
import os
import pathlib
import re
import tempfile
import zipfile

import h5py

from electra_tf import tokenization
from electra_tf.config import ElectraConfig

# The pre-training run folder. Today's run folders still write the recipe under
# this name beside their preset (`model_dir.CONFIG_FILENAME`).
CONFIG_FILENAME = "electra_config.json"
PRETRAINER_WEIGHTS = "pretrainer.weights.h5"
DISCRIMINATOR_DIRNAME = "discriminator"
# The multi-task folder.
MULTITASK_MODEL = "multitask.keras"
MULTITASK_SETTINGS = "multitask.json"

# The file that marks each layout, and the class it holds.
CLASSES = {PRETRAINER_WEIGHTS: "ElectraPretrainer", MULTITASK_MODEL: "ElectraMultiTask"}

log = logging.getLogger(__name__)


def saved_class(path):
    """The class name of the model saved in `path` in one of version 0.1's folder layouts,
    or None. (A folder whose `task.json` names a class is in today's: `model_dir`.)"""
    path = pathlib.Path(str(path))
    for filename, name in CLASSES.items():
        if (path / filename).is_file():
            return name
    return None


def warn(path, cls_name):
    """Logs that `path` is in a 0.1 layout, and how to rewrite it."""
    log.warning(
        "%s is in electra_tf 0.1's layout; it loads, but rewrite it once in the current format: "
        "electra-convert --source %s --output_dir NEW_DIR (or %s.from_preset(old)"
        ".save_to_preset(new)).", path, path, cls_name)


def pretraining_config(path):
    """The `ElectraConfig` of a 0.1 pre-training run folder."""
    return ElectraConfig.load(pathlib.Path(str(path)) / CONFIG_FILENAME)


def vocabulary_file(path) -> pathlib.Path:
    """The vocabulary file of a 0.1 folder (either layout)."""
    return pathlib.Path(str(path)) / tokenization.VOCAB_FILENAME


def weights_file(path) -> pathlib.Path:
    """The file holding every weight of the model in a 0.1 folder: the pre-trainer's
    HDF5 file, or the multi-task model's `.keras` archive."""
    path = pathlib.Path(str(path))
    return path / (PRETRAINER_WEIGHTS if saved_class(path) == "ElectraPretrainer"
                   else MULTITASK_MODEL)


def encoder_preset(path):
    """The keras-hub preset of the encoder of a 0.1 pre-training run folder (its
    `discriminator/`), or None for a 0.1 folder that keeps no encoder preset."""
    path = pathlib.Path(str(path))
    return path / DISCRIMINATOR_DIRNAME if saved_class(path) == "ElectraPretrainer" else None


def build(cls, path):
    """The model of class `cls` that the 0.1 folder `path` holds, with its tokenizer as
    `.tokenizer` and fresh weights: `weights_file(path)` holds its own."""
    path = pathlib.Path(str(path))
    if saved_class(path) == "ElectraPretrainer":
        config = pretraining_config(path)
        tokenizer = tokenization.make_tokenizer(path, lowercase=config.lowercase)
        return cls(config, vocabulary_size=tokenizer.vocabulary_size(),
                   special_token_ids=tokenization.special_token_ids(tokenizer),
                   tokenizer=tokenizer)
    settings = json.loads((path / MULTITASK_SETTINGS).read_text(encoding="utf-8"))
    with zipfile.ZipFile(path / MULTITASK_MODEL) as archive:
        saved = json.loads(archive.read("config.json"))
    return cls.from_config({
        **saved["config"], "sequence_length": settings["sequence_length"],
        "tokenizer": tokenization.make_tokenizer(path, lowercase=settings["lowercase"])})


# electra_tf 0.1 kept the decoder's layers in the backbone's functional layer
# list, so its weight files name them at the top: `layers/reversible_embedding`,
# `layers/position_embedding`, `layers/layer_normalization`,
# `layers/transformer_decoder[_i]` (Keras names a layer list's entries by
# class). Now they sit inside the decoder (`layers/electra_decoder/...`).
_DECODER_LAYERS = {
    "reversible_embedding": "token_embedding",
    "position_embedding": "position_embedding",
    "layer_normalization": "embeddings_layer_norm",
}
_DECODER_BLOCK = re.compile(r"transformer_decoder(_\d+)?$")


def is_seq2seq_weights(filepath) -> bool:
    """Whether `filepath` is an encoder-decoder weights file in 0.1's layout."""
    filepath = str(filepath)
    if not filepath.endswith(".h5"):
        return False
    with h5py.File(filepath, "r") as weights:
        return "reversible_embedding" in weights.get("layers", {})


@contextlib.contextmanager
def seq2seq_weights(filepath):
    """`filepath`, or for an encoder-decoder weights file in 0.1's layout a copy in
    today's."""
    filepath = str(filepath)
    if not is_seq2seq_weights(filepath):
        yield filepath
        return
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.weights.h5")
        with h5py.File(filepath, "r") as source, h5py.File(path, "w") as target:
            target.attrs.update(source.attrs)
            for name in source:
                if name != "layers":
                    source.copy(source[name], target, name)
            for name in source["layers"]:
                source.copy(source["layers"][name], target,
                            _decoder_path(name) or f"layers/{name}")
        yield path


def _decoder_path(name):
    """Where a top-level entry of a 0.1 file's `layers/` group lives now (`None`: where
    it was)."""
    if name in _DECODER_LAYERS:
        return f"layers/electra_decoder/{_DECODER_LAYERS[name]}"
    if _DECODER_BLOCK.match(name):
        return f"layers/electra_decoder/transformer_layers/{name}"
    return None
