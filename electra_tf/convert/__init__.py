"""Released ELECTRA checkpoints in and out: Hugging Face, original TF1, keras-hub.

`convert(source, output_dir)` reads any of
* a Hugging Face folder or Hub id (`ElectraModel`, `ElectraForPreTraining`,
  `ElectraForMaskedLM`, `ElectraForSequenceClassification`,
  `ElectraForTokenClassification`; a generator given as `generator=` beside
  its discriminator makes the pair one `ElectraPretrainer`),
* an original TF1 pre-training checkpoint (folder or prefix, with `vocab.txt`),
* an `electra_tf` model directory or task preset (version 0.1's layouts too: converting
  one to `"electra_tf"` rewrites it in the current format; a masked-LM baseline run
  (`objective="mlm"`) as well), or a keras-hub ELECTRA preset,

and writes it in the format `to` names:
* `"electra_tf"`: a discriminator + generator pair becomes a pre-training
  model directory (`scripts/pretrain.py --init_from` continues it), any other
  model a preset of its class; every script's `--init_from` / `--model_dir`
  takes either;
* `"hugging_face"`: folders `transformers` loads (`from_pretrained`); a masked-LM
  baseline run becomes one `ElectraForMaskedLM` of the encoder's width;
* `"keras_hub"`: the discriminator as a plain `keras_hub.models.ElectraBackbone` preset.

Hugging Face and keras-hub have only post-LayerNorm blocks: a model trained
with `normalize_first` is refused by both targets.

Example:
```python
import pathlib
from electra_tf import convert

convert.convert("tests/fixtures/hf_electra/discriminator", "electra_small",
                generator="tests/fixtures/hf_electra/generator")  # a pre-training model dir
# -> [PosixPath('electra_small')]
convert.convert("electra_small", "electra_small_hf", to="hugging_face")  # a folder per model
# -> [PosixPath('electra_small_hf/discriminator'), PosixPath('electra_small_hf/generator')]
sorted(path.name for path in pathlib.Path("electra_small_hf/generator").iterdir())
# -> ['config.json', 'model.safetensors', 'tokenizer_config.json', 'vocab.txt']
```
"""

import logging
import pathlib

import keras_hub

from electra_tf.convert import hugging_face, tf1, weights
from electra_tf.convert.weights import ConversionError
from electra_tf.models import model_dir, registry
from electra_tf.models.backbone import ElectraBackbone, activation_of, normalize_first_of
from electra_tf.models.pretraining.base import Pretrainer

TARGETS = ("electra_tf", "hugging_face", "keras_hub")
log = logging.getLogger(__name__)

__all__ = ["TARGETS", "ConversionError", "convert", "load"]


def load(source, generator=None, *, vocab_file=None, lowercase=True, num_heads=None,
         sequence_length=None):
    """`(model, tokenizer)` from any source `convert` reads (see the module docstring)."""
    path = pathlib.Path(str(source))
    # A damaged folder of this package or keras-hub's raises a `model_dir.RunFolderError`
    # naming the file, as in every command.
    class_name = model_dir.saved_class(path)
    if class_name is not None:
        _no_generator(generator, source)
        return _load_saved(path, class_name)
    if tf1.is_checkpoint(path):
        _no_generator(generator, source)
        discriminator, generator = tf1.read(path, vocab_file, lowercase, num_heads)
        return hugging_face.to_keras(discriminator, generator, sequence_length)
    config = path / model_dir.BACKBONE_CONFIG_FILENAME
    if config.is_file() and "registered_name" in model_dir.read_json(config):
        _no_generator(generator, source)
        # An ELECTRA backbone preset, keras-hub's or ours.
        with model_dir.reading(path):
            return (ElectraBackbone.from_preset(str(path)),
                    keras_hub.models.ElectraTokenizer.from_preset(str(path)))
    checkpoint = hugging_face.read(source)
    generator = None if generator is None else hugging_face.read(generator)
    return hugging_face.to_keras(checkpoint, generator, sequence_length)


def _no_generator(generator, source):
    if generator is not None:
        raise ConversionError(
            f"a separate generator pairs only with a Hugging Face discriminator; {source} "
            "already holds what it has.")


def _load_saved(path, name):
    """A model this package saved in `path` (`name`: the class its task.json, or a 0.1
    layout's files, name) and its tokenizer."""
    task = registry.TASKS.get(name)
    if task is None or not task.convertible:
        convertible = [known.name for known in registry.TASKS.values() if known.convertible]
        raise ConversionError(f"{path} holds {registry.describe(name)}, which does not convert; "
                              f"convertible models: {', '.join(convertible)}.")
    model = task.cls.from_preset(str(path))
    # A keras-hub task keeps its tokenizer in its preprocessor; the others (pre-trainers,
    # multi-task) get it from `from_preset` as `.tokenizer`.
    if isinstance(model, keras_hub.models.Task):
        return model, model.preprocessor.tokenizer
    return model, model.tokenizer


def convert(source, output_dir, *, generator=None, to="electra_tf", **load_options):
    """Converts `source` (and an optional `generator`) into `output_dir`; returns the paths."""
    if to not in TARGETS:
        raise ConversionError(f"to must be one of {TARGETS}, got {to!r}.")
    model, tokenizer = load(source, generator, **load_options)
    output_dir = pathlib.Path(output_dir)
    if to == "hugging_face":
        return hugging_face.write(model, output_dir, tokenizer)
    if to == "keras_hub":
        backbone = model.encoder if isinstance(model, Pretrainer) else getattr(
            model, "backbone", model)
        weights.refuse_pre_layer_norm(
            normalize_first_of(backbone), "keras-hub's ElectraBackbone",
            "Convert to 'electra_tf' instead: its backbone loads with "
            "keras_hub.models.ElectraBackbone.from_preset once electra_tf is imported.")
        if activation_of(backbone) != "gelu_approximate":
            log.warning(
                "keras-hub's ElectraBackbone computes the tanh-approximated GELU; this model uses "
                "exact GELU, so the keras-hub preset's outputs differ slightly (~1e-3). "
                "electra_tf's ElectraBackbone.from_preset on the electra_tf output keeps them exact.")
        twin = backbone.to_keras_hub() if isinstance(backbone, ElectraBackbone) else backbone
        twin.save_to_preset(str(output_dir))
        tokenizer.save_to_preset(str(output_dir))
        return [output_dir]
    if isinstance(model, Pretrainer):
        return [model.save_to_preset(output_dir, tokenizer)]
    model.save_to_preset(str(output_dir))
    if not hasattr(model, "preprocessor"):  # a bare backbone: its tokenizer beside it
        tokenizer.save_to_preset(str(output_dir))
    return [output_dir]
