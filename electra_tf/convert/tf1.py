"""Original TF1 checkpoints of google-research/electra, read as Hugging Face checkpoints.

The original pre-training checkpoint holds both towers by name: the shared
embeddings under `electra/embeddings/`, the discriminator under `electra/`, the
generator's own projection and layers under `generator/`, and the heads under
`discriminator_predictions/` and `generator_predictions/`. Renaming them to
Hugging Face's names (as transformers 4.x's `load_tf_weights_in_electra` did)
lets one weights table (`electra_tf.convert.weights`) serve both formats.

Such a checkpoint has no config file: sizes come from the tensors' shapes, and
the head count, which no shape shows, follows the original's rule
`max(1, hidden / 64)` unless `num_heads` says otherwise (ELECTRA-Small 4,
Base 12, Large 16: all follow it).

Example:
```python
from electra_tf.convert import hugging_face, tf1

# Google's release unzips to a folder like this one (a tiny copy made for the tests,
# whose 4 heads on 32 units do not follow max(1, width / 64), so num_heads is given)
discriminator, generator = tf1.read("tests/fixtures/tf1_electra", num_heads=4)
discriminator.architecture, generator.architecture  # read as their Hugging Face twins
# -> ('ElectraForPreTraining', 'ElectraForMaskedLM')
pretrainer, tokenizer = hugging_face.to_keras(discriminator, generator)
type(pretrainer).__name__, pretrainer.electra_config.num_heads  # -> ('ElectraPretrainer', 4)
```
"""

import pathlib
import re

import tensorflow as tf

from electra_tf import tokenization
from electra_tf.config import default_num_heads
from electra_tf.convert.hugging_face import Checkpoint
from electra_tf.convert.weights import ConversionError

# Training state the original saves beside the weights.
SKIPPED = re.compile(r"(^global_step$)|(/adam_[mv]$)")
_LEAF_NAMES = {"kernel": "weight", "gamma": "weight", "beta": "bias", "bias": "bias"}


def checkpoint_prefix(path):
    """The checkpoint prefix in a folder (its `checkpoint` file, else the one `.index`)."""
    path = pathlib.Path(path)
    if path.is_dir():
        latest = tf.train.latest_checkpoint(str(path))
        if latest:
            return latest
        indexes = sorted(path.glob("*.index"))
        if len(indexes) != 1:
            raise ConversionError(
                f"{path} holds {len(indexes)} TF1 checkpoints (*.index files); give the "
                "checkpoint prefix itself (e.g. electra_small/model.ckpt-1000000).")
        return str(indexes[0].with_suffix(""))
    if pathlib.Path(f"{path}.index").is_file():
        return str(path)
    raise ConversionError(f"{path} is not a TF1 checkpoint (no {path}.index, no folder).")


def is_checkpoint(path):
    try:
        checkpoint_prefix(path)
    except ConversionError:
        return False
    return True


def read(path, vocab_file=None, lowercase=True, num_heads=None):
    """`(discriminator, generator)` Checkpoints of an original pre-training checkpoint.

    `generator` is `None` for a checkpoint without one. `vocab_file` defaults
    to `vocab.txt` beside the checkpoint.
    """
    prefix = checkpoint_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as error:
        raise ConversionError(f"cannot read the TF1 checkpoint {prefix}: {error}") from None
    names = [n for n in reader.get_variable_to_shape_map() if not SKIPPED.search(n)]
    vocab_file = vocab_file or pathlib.Path(prefix).parent / tokenization.VOCAB_FILENAME
    if not pathlib.Path(vocab_file).is_file():
        raise ConversionError(f"no vocabulary: {vocab_file} does not exist; pass vocab_file.")
    vocabulary = tokenization.load_vocabulary(vocab_file)

    towers = {"discriminator": {}, "generator": {}}
    unknown = []
    for name in names:
        placed = _hugging_face_names(name)
        if not placed:
            unknown.append(name)
        for tower, hf_name, transpose in placed:
            value = reader.get_tensor(name)
            towers[tower][hf_name] = value.T if transpose else value
    if unknown:
        raise ConversionError(
            f"{prefix} holds tensors that are not ELECTRA pre-training weights: "
            f"{', '.join(sorted(unknown))}. Fine-tuned TF1 checkpoints do not convert; convert "
            "the pre-trained one and fine-tune here.")
    discriminator_tensors, generator_tensors = towers["discriminator"], towers["generator"]
    # The generator reads the shared tables unless it has untied ones of its own.
    own = {k for k in generator_tensors if k.startswith("electra.embeddings.")}
    for key, value in discriminator_tensors.items():
        if key.startswith("electra.embeddings.") and key not in own:
            generator_tensors[key] = value

    source = str(prefix)
    discriminator = Checkpoint(
        _config(discriminator_tensors, "ElectraForPreTraining" if any(
            k.startswith("discriminator_predictions.") for k in discriminator_tensors)
            else "ElectraModel", num_heads),
        discriminator_tensors, vocabulary, lowercase, source)
    if not any(k.startswith("electra.encoder.") for k in generator_tensors):
        return discriminator, None
    generator = Checkpoint(_config(generator_tensors, "ElectraForMaskedLM", None),
                           generator_tensors, vocabulary, lowercase, f"{source} (generator)")
    return discriminator, generator


def _hugging_face_names(name):
    """`[(tower, Hugging Face name, transpose)]` for one TF1 variable name (empty if unknown)."""
    parts = name.split("/")
    scope = parts[0]
    if scope == "generator_predictions" and parts[1:] == ["output_bias"]:
        return [("generator", "generator_lm_head.bias", False)]
    if scope == "discriminator_predictions" and len(parts) == 3 and parts[1] == "dense_1":
        parts[1] = "dense_prediction"
    towers = {"electra": "discriminator", "generator": "generator",
              "discriminator_predictions": "discriminator", "generator_predictions": "generator"}
    if scope not in towers:
        return []
    if parts[1:2] == ["embeddings"] and len(parts) == 3 and parts[2].endswith("_embeddings"):
        return [(towers[scope], f"electra.embeddings.{parts[2]}.weight", False)]
    if parts[-1] not in _LEAF_NAMES:
        return []
    body = [re.sub(r"^layer_(\d+)$", r"layer.\1", p) for p in parts[1:-1]]
    head = scope.endswith("_predictions")
    hf_name = ".".join((([scope] if head else ["electra"]) + body + [_LEAF_NAMES[parts[-1]]]))
    return [(towers[scope], hf_name, parts[-1] == "kernel")]


def _config(tensors, architecture, num_heads):
    """A Hugging Face-style config of a tower, read off its tensors' shapes."""
    try:
        vocab_size, embedding_size = tensors["electra.embeddings.word_embeddings.weight"].shape
        positions = tensors["electra.embeddings.position_embeddings.weight"].shape[0]
        segments = tensors["electra.embeddings.token_type_embeddings.weight"].shape[0]
        hidden = tensors["electra.encoder.layer.0.attention.self.query.weight"].shape[0]
        intermediate = tensors["electra.encoder.layer.0.intermediate.dense.weight"].shape[0]
    except KeyError as error:
        raise ConversionError(f"the TF1 checkpoint lacks {error.args[0]} (as a Hugging Face "
                              "name); it is not an ELECTRA pre-training checkpoint.") from None
    layers = len({k.split(".")[3] for k in tensors if k.startswith("electra.encoder.layer.")})
    return {
        "architectures": [architecture], "model_type": "electra", "vocab_size": int(vocab_size),
        "embedding_size": int(embedding_size), "hidden_size": int(hidden),
        "num_hidden_layers": layers, "num_attention_heads": num_heads or default_num_heads(int(hidden)),
        "intermediate_size": int(intermediate), "hidden_act": "gelu",
        "max_position_embeddings": int(positions), "type_vocab_size": int(segments),
        "hidden_dropout_prob": 0.1, "layer_norm_eps": 1e-12,
    }
