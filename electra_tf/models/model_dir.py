"""What a pre-training model directory holds, by name, and where its encoder is.

```
model_dir/
  electra_config.json       the recipe (CONFIG_FILENAME)   vocab.txt   the vocabulary
  special_token_ids.json    ids of [PAD] [UNK] [CLS] [SEP] [MASK]
  pretrainer.weights.h5     generator + discriminator + heads (WEIGHTS_FILENAME)
  discriminator/            a keras-hub preset of the encoder (DISCRIMINATOR_DIRNAME)
  checkpoints/  backup/  logs/  pretraining_summary.json   (written while training)
```

Every head starts from an encoder named by a path: a model directory means
its `discriminator/` preset; anything else is a keras-hub preset (a folder
or a name) and passes through unchanged.

Example:
```python
from electra_tf.models import model_dir

model_dir.encoder_preset("electra_base_discriminator_en")  # a keras-hub name: unchanged
```
"""

import pathlib

CONFIG_FILENAME = "electra_config.json"
WEIGHTS_FILENAME = "pretrainer.weights.h5"
SPECIAL_TOKENS_FILENAME = "special_token_ids.json"
DISCRIMINATOR_DIRNAME = "discriminator"
SUMMARY_FILENAME = "pretraining_summary.json"
CHECKPOINTS_DIRNAME = "checkpoints"
BACKUP_DIRNAME = "backup"
LOGS_DIRNAME = "logs"


def is_pretraining_dir(path) -> bool:
    """Whether `path` is a pre-training model directory (it holds the recipe)."""
    return (pathlib.Path(str(path)) / CONFIG_FILENAME).is_file()


def encoder_preset(source) -> str:
    """The keras-hub preset of the encoder behind `source` (see the module docstring)."""
    path = pathlib.Path(str(source))
    if not is_pretraining_dir(path):
        return str(source)
    if not (path / DISCRIMINATOR_DIRNAME).is_dir():
        raise FileNotFoundError(
            f"{path} is an electra_tf model directory without a {DISCRIMINATOR_DIRNAME}/ "
            "preset; it was written by an older version or the copy is incomplete. "
            "Re-save it with ElectraPretrainer.save_to_model_dir."
        )
    return str(path / DISCRIMINATOR_DIRNAME)
