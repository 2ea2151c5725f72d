"""Hugging Face ELECTRA folders (`config.json`, weights, `vocab.txt`) in and out.

Weights are read with safetensors' NumPy API, so no PyTorch is needed;
a folder holding only `pytorch_model.bin` is read when `torch` is installed.
A Hub id (`google/electra-small-discriminator`) is downloaded with
`huggingface_hub.snapshot_download` when the machine is online.

Example:
```python
import pathlib
from electra_tf.convert import hugging_face

checkpoint = hugging_face.read("tests/fixtures/hf_electra/classifier")
checkpoint.architecture  # -> 'ElectraForSequenceClassification'
classifier, tokenizer = hugging_face.to_keras(checkpoint)  # same logits
type(classifier).__name__, type(tokenizer).__name__  # -> ('ElectraClassifier', 'ElectraTokenizer')
hugging_face.write(classifier, "hf_classifier")  # transformers' from_pretrained loads it
# -> [PosixPath('hf_classifier')]
sorted(path.name for path in pathlib.Path("hf_classifier").iterdir())
# -> ['config.json', 'model.safetensors', 'tokenizer_config.json', 'vocab.txt']
```
"""

import dataclasses
import json
import logging
import pathlib
import re

import keras_hub
import numpy as np

from electra_tf import tokenization
from electra_tf.config import ElectraConfig
from electra_tf.convert import weights
from electra_tf.convert.weights import ConversionError
from electra_tf.models.backbone import activation_of, normalize_first_of
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor
from electra_tf.models import model_dir
from electra_tf.models.encoders import build_encoder
from electra_tf.models.pretraining.detector import ElectraReplacedTokenDetector
from electra_tf.models.pretraining.electra_pretrainer import ElectraPretrainer
from electra_tf.models.pretraining.masked_lm import ElectraMaskedLM
from electra_tf.models.pretraining.masked_lm_preprocessor import ElectraMaskedLMPreprocessor
from electra_tf.models.pretraining.masked_lm_pretrainer import MaskedLMPretrainer
from electra_tf.models.tagging.preprocessor import ElectraTaggerPreprocessor
from electra_tf.models.tagging.tagger import ElectraTagger

# Hugging Face's `hidden_act` ↔ this package's activation names.
FROM_HF_ACTIVATION = {"gelu": "gelu", "gelu_new": "gelu_approximate",
                      "gelu_pytorch_tanh": "gelu_approximate"}
TO_HF_ACTIVATION = {"gelu": "gelu", "gelu_approximate": "gelu_new"}
ARCHITECTURES = ("ElectraModel", "ElectraForPreTraining", "ElectraForMaskedLM",
                 "ElectraForSequenceClassification", "ElectraForTokenClassification")
DEFAULT_SEQUENCE_LENGTH = 128
log = logging.getLogger(__name__)


@dataclasses.dataclass
class Checkpoint:
    """One Hugging Face ELECTRA model: its config, tensors and tokenizer files."""

    config: dict
    tensors: dict
    vocabulary: list
    lowercase: bool
    source: str

    @property
    def architecture(self):
        """The config's `architectures`, else read off the head's tensors (HFL's
        generator configs, for one, name none)."""
        names = self.config.get("architectures")
        if names:
            return names[0]
        heads = {"discriminator_predictions.dense.weight": "ElectraForPreTraining",
                 "generator_predictions.dense.weight": "ElectraForMaskedLM",
                 "classifier.out_proj.weight": "ElectraForSequenceClassification",
                 "classifier.weight": "ElectraForTokenClassification"}
        return next((heads[name] for name in heads if name in self.tensors), "ElectraModel")

    @property
    def prefix(self):
        """`"electra."` for task models; bare `ElectraModel` weights have none."""
        return "electra." if "electra.embeddings.word_embeddings.weight" in self.tensors else ""

    @property
    def labels(self):
        id2label = self.config.get("id2label") or {}
        return [str(id2label.get(str(i), id2label.get(i))) for i in range(len(id2label))]


# ------------------------------------------------------------------- reading
def resolve(source):
    """A local folder, or a Hub id downloaded with `huggingface_hub` (needs internet)."""
    path = pathlib.Path(source)
    if path.exists():
        if not path.is_dir():
            raise ConversionError(f"{source} is a file; give the folder that holds config.json.")
        return path
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", str(source)):
        raise ConversionError(f"{source} is neither a folder nor a Hugging Face Hub id (owner/name).")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ConversionError(
            f"{source} is not a local folder; downloading it needs huggingface_hub "
            "(pip install 'electra_tf[hub]'), or download it yourself and pass the folder."
        ) from None
    try:
        return pathlib.Path(snapshot_download(str(source), allow_patterns=[
            "*.json", "*.safetensors", "vocab.txt", "pytorch_model.bin"]))
    except Exception as error:  # offline, unknown repo, gated model: all the same to the user
        raise ConversionError(
            f"could not download {source} from the Hugging Face Hub ({type(error).__name__}: "
            f"{error}); check the id and the network, or pass a local folder."
        ) from error


def read(source):
    """A `Checkpoint` from a folder (or Hub id) written by `save_pretrained`."""
    folder = resolve(source)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ConversionError(f"{folder} has no config.json: is it a Hugging Face model folder?")
    config = _read_json(config_path)
    if config.get("model_type") != "electra":
        raise ConversionError(
            f"{config_path} describes model_type={config.get('model_type')!r}, not an ELECTRA "
            "model; only ELECTRA checkpoints convert.")
    tokenizer_config = folder / "tokenizer_config.json"
    lowercase = _read_json(tokenizer_config).get("do_lower_case", True) if (
        tokenizer_config.is_file()) else True
    checkpoint = Checkpoint(config, read_tensors(folder), read_vocabulary(folder),
                            bool(lowercase), str(source))
    if checkpoint.architecture not in ARCHITECTURES:
        raise ConversionError(
            f"{config_path}: architecture {checkpoint.architecture!r} is not supported; "
            f"supported: {', '.join(ARCHITECTURES)}.")
    return checkpoint


def _read_json(path):
    # The reader of model folders: `electra_tf.convert.load` has read config.json already, and
    # a command reads each file once (`model_dir.read_once`).
    try:
        return model_dir.read_json(path, "download or save the Hugging Face folder again")
    except model_dir.RunFolderError as error:
        raise ConversionError(str(error)) from None


def read_tensors(folder):
    """`{name: np.ndarray}` from safetensors (one file or shards), else `pytorch_model.bin`."""
    folder = pathlib.Path(folder)
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    index = folder / "model.safetensors.index.json"
    files = (sorted({folder / f for f in _read_json(index)["weight_map"].values()})
             if index.is_file() else [folder / "model.safetensors"])
    if all(f.is_file() for f in files):
        tensors = {}
        for path in files:
            try:
                tensors.update(load_file(str(path)))
            except (SafetensorError, OSError) as error:
                raise ConversionError(f"{path} is not a readable safetensors file ({error}).") from None
        return tensors
    binary = folder / "pytorch_model.bin"
    if binary.is_file():
        try:
            import torch
        except ImportError:
            raise ConversionError(
                f"{folder} holds only pytorch_model.bin, which needs PyTorch to read: install "
                "torch, or save the model with safe_serialization=True (model.safetensors)."
            ) from None
        state = torch.load(str(binary), map_location="cpu", weights_only=True)
        return {name: tensor.float().numpy() for name, tensor in state.items()}
    raise ConversionError(f"{folder} has no model.safetensors or pytorch_model.bin.")


def read_vocabulary(folder):
    """`vocab.txt`, else the WordPiece vocabulary inside `tokenizer.json`."""
    folder = pathlib.Path(folder)
    if (folder / tokenization.VOCAB_FILENAME).is_file():
        return tokenization.load_vocabulary(folder / tokenization.VOCAB_FILENAME)
    if (folder / "tokenizer.json").is_file():
        vocab = _read_json(folder / "tokenizer.json").get("model", {}).get("vocab")
        if isinstance(vocab, dict):
            return [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    raise ConversionError(f"{folder} has no vocab.txt (or WordPiece tokenizer.json).")


# ----------------------------------------------------------- config mapping
def electra_config(checkpoint, generator=None, name="converted"):
    """The `ElectraConfig` of a discriminator checkpoint (and its generator)."""
    config = checkpoint.config
    _check_supported(checkpoint)
    if config["vocab_size"] != len(checkpoint.vocabulary):
        raise ConversionError(
            f"{checkpoint.source}: config.json says vocab_size={config['vocab_size']} but its "
            f"vocabulary has {len(checkpoint.vocabulary)} entries; use the vocab.txt the "
            "model was trained with.")
    positions = config["max_position_embeddings"]
    values = dict(
        name=name, vocab_size=config["vocab_size"],
        embedding_size=config.get("embedding_size", config["hidden_size"]),
        hidden_size=config["hidden_size"], num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"], intermediate_size=config["intermediate_size"],
        dropout=config.get("hidden_dropout_prob", 0.1), max_position_embeddings=positions,
        activation=FROM_HF_ACTIVATION[config.get("hidden_act", "gelu")],
        sequence_length=min(DEFAULT_SEQUENCE_LENGTH, positions), lowercase=checkpoint.lowercase,
    )
    if generator is None:
        return ElectraConfig(**values)
    _check_supported(generator)
    fraction = generator.config["hidden_size"] / config["hidden_size"]
    if not 0 < fraction <= 1:
        raise ConversionError(
            f"{generator.source} is wider ({generator.config['hidden_size']}) than its "
            f"discriminator {checkpoint.source} ({config['hidden_size']}); ELECTRA's generator "
            "is at most as wide.")
    electra = ElectraConfig(**values, generator_hidden_fraction=fraction)
    _check_generator(checkpoint, generator, electra)
    return electra


def _check_supported(checkpoint):
    config, source = checkpoint.config, checkpoint.source
    problems = []
    if config.get("hidden_act", "gelu") not in FROM_HF_ACTIVATION:
        problems.append(f"hidden_act={config['hidden_act']!r} (supported: "
                        f"{sorted(FROM_HF_ACTIVATION)})")
    if config.get("position_embedding_type", "absolute") != "absolute":
        problems.append(f"position_embedding_type={config['position_embedding_type']!r} "
                        "(only 'absolute')")
    if config.get("type_vocab_size", 2) != 2:
        problems.append(f"type_vocab_size={config['type_vocab_size']} (only 2 segments)")
    if abs(config.get("layer_norm_eps", 1e-12) - 1e-12) > 1e-15:
        problems.append(f"layer_norm_eps={config['layer_norm_eps']} (keras-hub's ElectraBackbone "
                        "fixes 1e-12)")
    if problems:
        raise ConversionError(f"{source}: unsupported setting(s): " + "; ".join(problems) + ".")


def _check_generator(discriminator, generator, config):
    """Raises unless `generator` has the shape `config` builds its generator with."""
    d, g = discriminator.config, generator.config
    expected = {
        "vocab_size": d["vocab_size"], "embedding_size": d.get("embedding_size"),
        "max_position_embeddings": d["max_position_embeddings"],
        "num_hidden_layers": d["num_hidden_layers"], "hidden_act": d.get("hidden_act", "gelu"),
        "hidden_size": config.generator_hidden_size,
        "num_attention_heads": config.generator_num_heads,
        "intermediate_size": config.generator_intermediate_size,
    }
    wrong = [f"{key}={g.get(key)} (expected {value})" for key, value in expected.items()
             if g.get(key) != value]
    if wrong:
        raise ConversionError(
            f"{generator.source} does not fit {discriminator.source} as its generator: "
            + "; ".join(wrong) + ". Generators here have the discriminator's depth, vocabulary "
            "and embeddings, max(1, width / 64) heads and a 4 x width feed-forward layer.")
    if discriminator.vocabulary != generator.vocabulary:
        raise ConversionError(f"{generator.source} and {discriminator.source} have different "
                              "vocabularies; a generator and its discriminator share one.")


# ------------------------------------------------------------ HF -> Keras
def to_keras(checkpoint, generator=None, sequence_length=None):
    """The Keras model of `checkpoint` (and a generator checkpoint to pair with it).

    `ElectraModel` → `ElectraBackbone`; `ElectraForPreTraining` →
    `ElectraReplacedTokenDetector`, or with `generator` an `ElectraPretrainer`;
    `ElectraForMaskedLM` alone → `ElectraMaskedLM`;
    `ElectraForSequenceClassification` → `ElectraClassifier` (`head="hf"`);
    `ElectraForTokenClassification` → `ElectraTagger`. Returns
    `(model, tokenizer)`.
    """
    architecture = checkpoint.architecture
    if generator is not None and architecture != "ElectraForPreTraining":
        raise ConversionError(
            f"a generator pairs with an ElectraForPreTraining discriminator, but "
            f"{checkpoint.source} is {architecture}.")
    if generator is not None and generator.architecture != "ElectraForMaskedLM":
        raise ConversionError(
            f"{generator.source} is {generator.architecture}, not an ElectraForMaskedLM generator.")
    config = electra_config(checkpoint, generator)
    if sequence_length is not None:
        config = config.replace(sequence_length=sequence_length)
    tokenizer = tokenization.make_tokenizer(checkpoint.vocabulary, lowercase=config.lowercase)
    if generator is not None:
        return _pretrainer(checkpoint, generator, config, tokenizer), tokenizer
    backbone = build_encoder(config, tokenizer.vocabulary_size(), name=(
        "generator" if architecture == "ElectraForMaskedLM" else "discriminator"))
    entries = weights.backbone_entries(backbone, checkpoint.prefix)
    head_dropout = checkpoint.config.get("classifier_dropout")
    ignore = ()
    if architecture == "ElectraModel":
        model = backbone
    elif architecture == "ElectraForMaskedLM":
        _check_exact_gelu_head(checkpoint, "generator head")
        model = ElectraMaskedLM(backbone, ElectraMaskedLMPreprocessor(
            tokenizer, sequence_length=config.sequence_length))
        entries += weights.mlm_head_entries(model.masked_lm_head)
        ignore = _tied_output(checkpoint)
    elif architecture == "ElectraForPreTraining":
        model = ElectraReplacedTokenDetector(backbone, ElectraTextClassifierPreprocessor(
            tokenizer, sequence_length=config.sequence_length))
        entries += weights.rtd_head_entries(model.rtd_head)
    elif architecture == "ElectraForSequenceClassification":
        _check_exact_gelu_head(checkpoint, "classification head")
        model = ElectraClassifier(
            backbone, label_names=checkpoint.labels, head="hf", dropout=head_dropout,
            preprocessor=ElectraTextClassifierPreprocessor(
                tokenizer, sequence_length=config.sequence_length))
        entries += [*weights.dense("classifier.dense", model.head_dense),
                    *weights.dense("classifier.out_proj", model.output_dense)]
    else:
        model = ElectraTagger(backbone, tag_names=checkpoint.labels, dropout=head_dropout,
                              preprocessor=ElectraTaggerPreprocessor(
                                  tokenizer, sequence_length=config.sequence_length))
        entries += weights.dense("classifier", model.tag_dense)
    weights.load(entries, checkpoint.tensors, checkpoint.source, ignore=ignore)
    return model, tokenizer


def _tied_output(checkpoint):
    """The generator's output matrix, which must be its word embeddings (tied), as a name to skip."""
    name, embeddings = "generator_lm_head.weight", f"{checkpoint.prefix}embeddings.word_embeddings.weight"
    tensors = checkpoint.tensors
    if name in tensors and embeddings in tensors and not np.array_equal(tensors[name], tensors[embeddings]):
        raise ConversionError(
            f"{checkpoint.source}: generator_lm_head.weight differs from the word embeddings; "
            "ELECTRA ties them and so does this package (an untied output layer does not convert).")
    return (name,)


def _check_exact_gelu_head(checkpoint, what):
    # Hugging Face applies exact GELU in these heads whatever hidden_act says;
    # here a head uses its encoder's GELU.
    if checkpoint.config.get("hidden_act", "gelu") != "gelu":
        raise ConversionError(
            f"{checkpoint.source}: hidden_act={checkpoint.config['hidden_act']!r}, but Hugging "
            f"Face's {what} always uses exact GELU; this package's heads use the encoder's, so "
            "the converted model would not compute the same numbers.")


def _pretrainer(discriminator, generator, config, tokenizer):
    _check_exact_gelu_head(generator, "generator head")
    pretrainer = ElectraPretrainer(config, tokenizer.vocabulary_size(),
                                   tokenization.special_token_ids(tokenizer))
    weights.load(weights.backbone_entries(pretrainer.discriminator, discriminator.prefix)
                 + weights.rtd_head_entries(pretrainer.rtd_head),
                 discriminator.tensors, discriminator.source)
    # One set of embeddings serves both towers: the generator's copy must be the same.
    shared = [entry.name for entry in weights.embedding_entries(pretrainer.discriminator)]
    different = [name for name in shared if name in generator.tensors and not np.array_equal(
        generator.tensors[name], discriminator.tensors[name])]
    if different:
        raise ConversionError(
            f"{generator.source} and {discriminator.source} do not share their embeddings "
            f"(differing: {', '.join(different)}); ELECTRA's generator and discriminator use "
            "one set, so these are not a pair.")
    weights.load(weights.generator_entries(pretrainer.generator), generator.tensors,
                 generator.source, ignore=[*shared, *_tied_output(generator)])
    return pretrainer


# ------------------------------------------------------------ Keras -> HF
def write(model, output_dir, tokenizer=None):
    """Writes `model` as Hugging Face folder(s) that `from_pretrained` loads.

    An `ElectraPretrainer` becomes `output_dir/discriminator`
    (`ElectraForPreTraining`) and `output_dir/generator` (`ElectraForMaskedLM`);
    `ElectraReplacedTokenDetector`, `ElectraMaskedLM`, a `MaskedLMPretrainer`
    (an `ElectraForMaskedLM` of the encoder's width), `ElectraClassifier`
    (`head="hf"`), `ElectraTagger` and a bare `ElectraBackbone` become one folder. `tokenizer`
    defaults to the model's preprocessor's; a pretrainer needs it passed.
    Returns the folders written. A model with pre-LayerNorm blocks
    (`normalize_first=True`) has no Hugging Face form and is refused.
    """
    encoder = model.discriminator if isinstance(model, ElectraPretrainer) else getattr(
        model, "backbone", model)
    weights.refuse_pre_layer_norm(
        normalize_first_of(encoder), "Hugging Face's ELECTRA",
        "Keep it in electra_tf's format (to='electra_tf'), or pre-train with normalize_first "
        "false for a model Hugging Face can read.")
    output_dir = pathlib.Path(output_dir)
    if tokenizer is None:
        preprocessor = getattr(model, "preprocessor", None)
        if preprocessor is None:
            raise ValueError("pass the tokenizer: the model has no preprocessor to take it from.")
        tokenizer = preprocessor.tokenizer
    if isinstance(model, ElectraPretrainer):
        discriminator, generator = model.discriminator, model.generator
        tensors = weights.dump(weights.backbone_entries(discriminator)
                               + weights.rtd_head_entries(model.rtd_head))
        _write_folder(output_dir / "discriminator", _hf_config(
            discriminator, "ElectraForPreTraining"), tensors, tokenizer)
        _warn_if_approximate(discriminator, "ElectraForMaskedLM's generator head")
        tensors = weights.dump(weights.embedding_entries(discriminator)
                               + weights.generator_entries(generator))
        config = _hf_config(discriminator, "ElectraForMaskedLM", hidden_size=generator.hidden_dim,
                            num_attention_heads=generator.num_heads,
                            intermediate_size=generator.intermediate_dim)
        _write_folder(output_dir / "generator", config, tensors, tokenizer)
        return [output_dir / "discriminator", output_dir / "generator"]
    if isinstance(model, keras_hub.models.ElectraBackbone):  # either backbone class
        backbone, architecture, entries, extra = model, "ElectraModel", [], {}
    else:
        backbone = model.encoder if isinstance(model, MaskedLMPretrainer) else model.backbone
        entries, architecture, extra = _head(model, backbone)
    tensors = weights.dump(weights.backbone_entries(
        backbone, "" if architecture == "ElectraModel" else "electra.") + entries)
    _write_folder(output_dir, _hf_config(backbone, architecture, **extra), tensors, tokenizer)
    return [output_dir]


def _head(model, backbone):
    """`(entries, architecture, config additions)` of the head `model` puts on `backbone`."""
    if isinstance(model, ElectraReplacedTokenDetector):
        return weights.rtd_head_entries(model.rtd_head), "ElectraForPreTraining", {}
    if isinstance(model, (ElectraMaskedLM, MaskedLMPretrainer)):
        _warn_if_approximate(backbone, "ElectraForMaskedLM's generator head")
        return weights.mlm_head_entries(model.masked_lm_head), "ElectraForMaskedLM", {}
    if isinstance(model, ElectraClassifier):
        if model.head != "hf":
            raise ConversionError(
                "this classifier has the original ELECTRA head (one dense layer on [CLS]); "
                "Hugging Face's ElectraForSequenceClassification has dense + GELU + dense. "
                "Fine-tune with head='hf' (--head hf) to export to Hugging Face format.")
        _warn_if_approximate(backbone, "ElectraForSequenceClassification's head")
        entries = [*weights.dense("classifier.dense", model.head_dense),
                   *weights.dense("classifier.out_proj", model.output_dense)]
        names = model.label_names or [f"LABEL_{i}" for i in range(model.num_classes)]
        return entries, "ElectraForSequenceClassification", _labels(names)
    if isinstance(model, ElectraTagger):
        return (weights.dense("classifier", model.tag_dense), "ElectraForTokenClassification",
                _labels(model.tag_names))
    raise ConversionError(
        f"{type(model).__name__} has no Hugging Face counterpart; export an ElectraPretrainer, "
        "MaskedLMPretrainer, ElectraReplacedTokenDetector, ElectraMaskedLM, ElectraClassifier, "
        "ElectraTagger or ElectraBackbone.")


def _labels(names):
    return {"id2label": {str(i): n for i, n in enumerate(names)},
            "label2id": {n: i for i, n in enumerate(names)}}


def _warn_if_approximate(backbone, what):
    if activation_of(backbone) != "gelu":
        log.warning(
            "%s always applies exact GELU in Hugging Face; this model was trained with the tanh "
            "approximation, so the exported head's outputs differ slightly (~1e-3). Train with "
            "activation='gelu' for exact parity.", what)


def _hf_config(backbone, architecture, **overrides):
    config = {
        "architectures": [architecture],
        "model_type": "electra",
        "vocab_size": backbone.vocab_size,
        "embedding_size": backbone.embedding_dim,
        "hidden_size": backbone.hidden_dim,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_dim,
        "hidden_act": TO_HF_ACTIVATION[activation_of(backbone)],
        "hidden_dropout_prob": backbone.dropout,
        "attention_probs_dropout_prob": backbone.dropout,
        "max_position_embeddings": backbone.max_sequence_length,
        "type_vocab_size": backbone.num_segments,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "position_embedding_type": "absolute",
    }
    return {**config, **overrides}


def _write_folder(folder, config, tensors, tokenizer):
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = tokenizer.get_vocabulary()
    config["pad_token_id"] = vocabulary.index(tokenization.PAD)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    tokenization.save_vocabulary(vocabulary, folder)
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"do_lower_case": bool(tokenizer.lowercase), "tokenizer_class": "ElectraTokenizer"},
        indent=2) + "\n")
