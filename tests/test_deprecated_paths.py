"""Code written against the flat models/ layout (before the models were grouped by task) still
runs: every public name of every old module imports from its old path, is the very object its
new path holds, and warns naming that path; saved models that name the old modules load; and
nothing in this repository uses an old path itself."""

import importlib
import importlib.util
import json
import pathlib
import re
import warnings

import numpy as np
import pytest

import electra_tf.models
from electra_tf import ElectraClassifier, ElectraConfig, tokenization

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The public names each module of the flat layout defined (multi_worker and tracing: handed
# on from electra_tf.compat), as that layout's code had them. Frozen: a name lost in a later
# move fails here.
FLAT_LAYOUT = {
    "backbone": ["ElectraBackbone", "ElectraTaskPresets", "ElectraTokenizer",
                 "FreshOptimizerOnLoad", "activation_of", "normalize_first_of"],
    "captioning": ["DIGIT_NAMES", "ImageCaptionBackbone", "ImageCaptionPreprocessor",
                   "ImageCaptioner", "digit_captions"],
    "classifier": ["ElectraClassifier", "ElectraTextClassifierPreprocessor"],
    "detector": ["ElectraReplacedTokenDetector"],
    "document": ["CHINESE_VOCAB_SIZE", "ELECTRA_model", "ENGLISH_VOCAB_SIZE",
                 "document_preprocessor", "generator_decoder", "greedy_generate",
                 "make_training_arrays", "seq2seq_lm"],
    "encoders": ["ElectraEncoderTask", "check_sequence_length", "default_sequence_length",
                 "output_dtype_policy", "pretrained_encoder", "random_encoder",
                 "saved_mixed_policy"],
    "generator": ["ElectraGenerator"],
    "losses": ["SmoothedSparseCategoricalCrossentropy"],
    "mask_predict": ["fill_masks", "mask_predict"],
    "masked_lm": ["ElectraMaskedLM", "ElectraMaskedLMPreprocessor"],
    "masked_lm_pretrainer": ["MaskedLMPretrainer"],
    "metrics": ["EntityF1", "WithinBatchRocAuc", "count_entities", "entity_scores"],
    "multi_worker": ["KERAS_VERSIONS", "MultiWorkerFit", "MultiWorkerKerasSteps",
                     "in_multi_worker_mode", "worker_count", "worker_logs"],
    "multitask": ["ElectraMultiTask", "KINDS"],
    "pretrainer": ["ElectraPretrainer"],
    "pretrainer_base": ["Pretrainer", "build_encoder"],
    "registry": ["PRETRAINERS", "TASKS", "TaskRecord", "describe"],
    "samplers": ["BeamCache", "LengthPenaltyBeamSampler"],
    "seq2seq_backbone": ["ElectraSeq2SeqBackbone", "EncoderDecoderBackbone", "encode_text",
                         "make_encoder"],
    "seq2seq_lm": ["ElectraSeq2SeqLM"],
    "seq2seq_preprocessor": ["ElectraSeq2SeqLMPreprocessor"],
    "tagger": ["ElectraTagger"],
    "tagger_preprocessor": ["ElectraTaggerPreprocessor"],
    "tracing": ["BuildOptimizerBeforeTraining"],
}
OLD_NAMES = [(f"electra_tf.models.{module}", name)
             for module, names in FLAT_LAYOUT.items() for name in names]
MOVED = re.compile(r"(?P<old>[\w.]+) moved to (?P<new>[\w.]+)\.(?P<name>\w+); import it from there")


def deprecations(caught):
    return sorted({str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)})


@pytest.mark.parametrize("old_module, name", OLD_NAMES, ids=[".".join(p) for p in OLD_NAMES])
def test_an_old_name_is_the_new_object_and_warns_where_it_moved(old_module, name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old_module)
        value = getattr(module, name)
    messages = deprecations(caught)
    if name in vars(module):  # still there: the module, or the package's face, holds it
        assert messages == []
        return
    assert len(messages) == 1, messages
    moved = MOVED.match(messages[0])
    assert moved, messages[0]
    assert (moved["old"], moved["name"]) == (f"{old_module}.{name}", name)
    assert moved["new"] != old_module
    assert getattr(importlib.import_module(moved["new"]), name) is value
    if hasattr(value, "__module__"):
        assert value.__module__ == moved["new"]


def test_from_import_of_an_old_module_warns_at_the_line_that_imports():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from electra_tf.models.seq2seq_lm import ElectraSeq2SeqLM  # noqa: F401
    assert [pathlib.Path(w.filename).name for w in caught
            if issubclass(w.category, DeprecationWarning)] == ["test_deprecated_paths.py"]


def test_an_old_module_serves_only_what_it_had():
    import electra_tf.models.classifier as old

    with pytest.raises(AttributeError):
        old.activation_of  # the new module imports it; it was never the old one's  # noqa: B018
    with pytest.raises(AttributeError):
        old._check_classes  # private  # noqa: B018
    with pytest.raises(ImportError):
        from electra_tf.models.classifier import NoSuchName  # noqa: F401
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("electra_tf.models.no_such_module")


def test_every_old_module_is_in_the_table():
    assert sorted(electra_tf.models.MOVED) == sorted(
        f"electra_tf.models.{module}" for module in FLAT_LAYOUT
        if module not in ("encoders", "losses", "metrics", "registry", "samplers"))


def test_a_saved_model_naming_the_old_modules_loads(tmp_path):
    """Keras finds this package's classes by registered name (`electra_tf>ElectraClassifier`),
    so configs saved under the flat layout, whose `module` fields name its modules, load."""
    texts = ["今天天气很好", "很差"]
    classifier = ElectraClassifier.from_scratch(
        ElectraConfig.from_preset("tiny"), tokenization.build_vocabulary(texts, 30),
        label_names=["neg", "pos"], sequence_length=8)
    classifier.save_to_preset(str(tmp_path))
    flat = {"electra_tf.models.classification.classifier": "electra_tf.models.classifier",
            "electra_tf.models.classification.preprocessor": "electra_tf.models.classifier",
            "electra_tf.models.tokenizer": "electra_tf.models.backbone"}
    rewritten = 0
    for path in tmp_path.glob("*.json"):
        text = path.read_text()
        for new, old in flat.items():
            rewritten += text.count(f'"{new}"')
            text = text.replace(f'"{new}"', f'"{old}"')
        json.loads(text)
        path.write_text(text)
    assert rewritten >= 2  # the task's and its preprocessor's
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        loaded = ElectraClassifier.from_preset(str(tmp_path))
    np.testing.assert_allclose(loaded.predict(texts, verbose=0),
                               classifier.predict(texts, verbose=0), atol=1e-6)


GONE = sorted(module for module in electra_tf.models.MOVED
              if importlib.util.find_spec(module).origin is None)
OWN_FILES = {ROOT / "electra_tf" / "models" / "__init__.py", pathlib.Path(__file__).resolve()}


def test_nothing_in_the_repository_uses_an_old_module():
    pattern = re.compile(r"\b(" + "|".join(re.escape(m) for m in GONE) + r")\b")
    found = []
    for path in sorted(ROOT.rglob("*")):
        if (path.suffix not in (".py", ".md", ".ipynb", ".cfg", ".toml") or path in OWN_FILES
                or any(part.startswith(".") for part in path.relative_to(ROOT).parts)
                or "fixtures" in path.parts):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert GONE and not found, "old module paths in use:\n" + "\n".join(found)
