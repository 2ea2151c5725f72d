"""Hugging Face and TF1 ELECTRA checkpoints convert with exact numerical parity.

The fixtures in tests/fixtures/hf_electra were written by
tests/fixtures/make_hf_electra.py with torch and transformers, including the
logits transformers computes (expected.npz); no torch is needed here. The
parity check and its tolerance (1e-5; the conversion achieves ~1e-6) live in
tests/convert_parity.py; tests/test_convert_mutants.py shows that broken
converters fail it.
"""

import json
import shutil
import sys

import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import load_file, save_file

from convert_parity import (EXPECTED, FIXTURES, LENGTH, TF1_FIXTURE, TF1_NUM_HEADS,
                            assert_close, every_position, gap, ids, pretrainer_outputs)
from electra_tf import ElectraConfig, ElectraPretrainer, convert, tokenization
from electra_tf.convert import ConversionError, hugging_face, tf1, weights
from electra_tf.models.backbone import ElectraBackbone
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor
from electra_tf.models.pretraining.detector import ElectraReplacedTokenDetector
from electra_tf.models.pretraining.masked_lm import ElectraMaskedLM
from electra_tf.models.tagging.tagger import ElectraTagger


@pytest.fixture(scope="module")
def pretrainer():
    model, _ = convert.load(FIXTURES / "discriminator", FIXTURES / "generator")
    return model


# ------------------------------------------------------------------ parity
def test_pretraining_pair_matches_transformers(pretrainer):
    assert isinstance(pretrainer, ElectraPretrainer)
    config = pretrainer.electra_config
    assert (config.activation, config.hidden_size, config.generator_hidden_size) == ("gelu", 32, 16)
    assert (config.num_heads, config.generator_num_heads) == (4, 1)
    for key, value in pretrainer_outputs(pretrainer).items():
        assert_close(value, key)


def test_generator_alone_matches_transformers():
    masked_lm, _ = convert.load(FIXTURES / "generator")
    assert isinstance(masked_lm, ElectraMaskedLM) and masked_lm.backbone.hidden_dim == 16
    assert_close(masked_lm({**ids(), "mask_positions": every_position()}), "generator_logits")


@pytest.mark.parametrize("name, cls, key", [
    ("discriminator", ElectraReplacedTokenDetector, "discriminator_logits"),
    ("classifier", ElectraClassifier, "classifier_logits"),
    ("tagger", ElectraTagger, "tagger_logits"),
])
def test_task_models_match_transformers(name, cls, key):
    model, tokenizer = convert.load(FIXTURES / name)
    assert isinstance(model, cls)
    assert tokenizer.get_vocabulary() == tokenization.load_vocabulary(FIXTURES / name)
    assert_close(model(ids()), key)


def test_labels_come_from_id2label():
    classifier, _ = convert.load(FIXTURES / "classifier")
    assert classifier.label_names == ["negative", "positive", "neutral"] and classifier.head == "hf"
    tagger, _ = convert.load(FIXTURES / "tagger")
    assert tagger.tag_names == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_bare_electra_model(tmp_path):
    """`ElectraModel` weights have no `electra.` prefix and no head."""
    folder = copy_fixture("discriminator", tmp_path)
    tensors = {k[len("electra."):]: v for k, v in load_file(folder / "model.safetensors").items()
               if k.startswith("electra.")}
    save_file(tensors, str(folder / "model.safetensors"))
    edit_config(folder, architectures=["ElectraModel"])
    backbone, _ = convert.load(folder)
    assert isinstance(backbone, ElectraBackbone) and backbone.activation == "gelu"
    assert_close(backbone(ids())["sequence_output"], "discriminator_sequence_output")


# -------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", ["classifier", "tagger", "discriminator", "generator"])
def test_ours_to_hugging_face_and_back(name, tmp_path):
    model, _ = convert.load(FIXTURES / name)
    convert.convert(FIXTURES / name, tmp_path / "ours")
    convert.convert(tmp_path / "ours", tmp_path / "hf", to="hugging_face")
    again, _ = convert.load(tmp_path / "hf")
    inputs = ids()
    if name == "generator":
        inputs["mask_positions"] = np.tile(np.arange(4, dtype="int32"), (len(EXPECTED["input_ids"]), 1))
    np.testing.assert_array_equal(again(inputs).numpy(), model(inputs).numpy())
    written = json.loads((tmp_path / "hf" / "config.json").read_text())
    original = json.loads((FIXTURES / name / "config.json").read_text())
    for key in ("architectures", "hidden_size", "embedding_size", "num_attention_heads",
                "intermediate_size", "hidden_act", "vocab_size", "id2label"):
        assert written.get(key) == original.get(key), key
    assert set(load_file(tmp_path / "hf" / "model.safetensors")) == set(
        load_file(FIXTURES / name / "model.safetensors"))


def test_pretrainer_to_hugging_face_and_back(pretrainer, tmp_path):
    convert.convert(FIXTURES / "discriminator", tmp_path / "ours",
                    generator=FIXTURES / "generator")
    written = convert.convert(tmp_path / "ours", tmp_path / "hf", to="hugging_face")
    assert written == [tmp_path / "hf" / "discriminator", tmp_path / "hf" / "generator"]
    generator_tensors = load_file(tmp_path / "hf" / "generator" / "model.safetensors")
    assert set(generator_tensors) == set(load_file(FIXTURES / "generator" / "model.safetensors"))
    again, _ = convert.load(tmp_path / "hf" / "discriminator", tmp_path / "hf" / "generator")
    for key, value in pretrainer_outputs(again).items():
        np.testing.assert_array_equal(value, pretrainer_outputs(pretrainer)[key])


def test_ours_to_keras_hub_and_back(tmp_path):
    """A model trained here (keras-hub's GELU) round-trips with identical outputs; a
    converted one (exact GELU) keeps its weights exactly."""
    vocabulary = tokenization.load_vocabulary(FIXTURES / "discriminator")
    tokenizer = tokenization.make_tokenizer(vocabulary)
    config = ElectraConfig.from_preset("tiny").replace(sequence_length=LENGTH)
    ours = ElectraPretrainer(config, len(vocabulary), tokenization.special_token_ids(tokenizer))
    ours.save_to_preset(tmp_path / "run", tokenizer)
    convert.convert(tmp_path / "run", tmp_path / "keras_hub", to="keras_hub")
    plain = keras_hub.models.ElectraBackbone.from_preset(str(tmp_path / "keras_hub"))
    assert type(plain) is keras_hub.models.ElectraBackbone
    back = ElectraBackbone.from_preset(str(tmp_path / "keras_hub"))
    np.testing.assert_array_equal(back(ids())["sequence_output"].numpy(),
                                  ours.discriminator(ids())["sequence_output"].numpy())

    convert.convert(FIXTURES / "discriminator", tmp_path / "exact_keras_hub", to="keras_hub")
    exact, _ = convert.load(FIXTURES / "discriminator")
    plain = keras_hub.models.ElectraBackbone.from_preset(str(tmp_path / "exact_keras_hub"))
    for a, b in zip(plain.weights, exact.backbone.weights):
        if not a.path.startswith("pooled_dense"):  # unused; no checkpoint has it
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    # keras-hub's tokenizer class reads the preset too.
    assert keras_hub.models.ElectraTokenizer.from_preset(
        str(tmp_path / "exact_keras_hub")).get_vocabulary() == vocabulary


# -------------------------------------------------------------------- TF1
def test_tf1_checkpoint_matches_transformers():
    """tests/fixtures/tf1_electra: the HF pair in the original's names, written by
    tests/fixtures/make_tf1_electra.py (shared embeddings, generator tower, heads,
    global_step and an Adam slot)."""
    names = tf.train.list_variables(str(TF1_FIXTURE / "model.ckpt-1000"))
    names = {name for name, _ in names}
    assert {"electra/embeddings_project/kernel", "generator/encoder/layer_1/output/LayerNorm/beta",
            "discriminator_predictions/dense_1/kernel", "generator_predictions/output_bias",
            "global_step"} <= names
    converted, _ = convert.load(TF1_FIXTURE, num_heads=TF1_NUM_HEADS)
    assert isinstance(converted, ElectraPretrainer)
    config = converted.electra_config
    assert (config.num_heads, config.generator_hidden_size, config.generator_num_heads) == (
        TF1_NUM_HEADS, 16, 1)
    for key, value in pretrainer_outputs(converted).items():
        assert_close(value, key)


def test_tf1_head_count_matters():
    """No TF1 tensor records the head count; left to the original's max(1, 32 / 64) = 1 while
    the fixture's discriminator has 4, the discriminator's outputs miss by far."""
    converted, _ = convert.load(TF1_FIXTURE)
    assert converted.electra_config.num_heads == 1
    outputs = pretrainer_outputs(converted)
    assert gap(outputs["discriminator_sequence_output"], "discriminator_sequence_output") > 0.1
    assert_close(outputs["generator_logits"], "generator_logits")  # 1 head is its right count


def test_tf1_unknown_tensors_are_named(tmp_path):
    prefix = tmp_path / "ckpt" / "model.ckpt"
    prefix.parent.mkdir()
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=["task_specific/classify/kernel"],
                      shape_and_slices=[""], tensors=[tf.zeros([4, 2])])
    shutil.copy(FIXTURES / "discriminator" / "vocab.txt", prefix.parent / "vocab.txt")
    with pytest.raises(ConversionError, match="task_specific/classify/kernel"):
        tf1.read(prefix.parent)


# ---------------------------------------------------------------- mismatches
def copy_fixture(name, tmp_path):
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


def edit_config(folder, **changes):
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def edit_tensors(folder, drop=(), add=None):
    tensors = load_file(folder / "model.safetensors")
    for name in drop:
        del tensors[name]
    tensors.update(add or {})
    save_file(tensors, str(folder / "model.safetensors"))


@pytest.mark.parametrize("change, message", [
    (lambda f: edit_tensors(f, drop=["electra.encoder.layer.1.output.LayerNorm.bias"]),
     r"missing from the checkpoint: electra\.encoder\.layer\.1\.output\.LayerNorm\.bias \(32,\)"),
    (lambda f: edit_tensors(f, add={"electra.pooler.dense.weight": np.zeros((32, 32), "float32")}),
     r"unknown tensors\): electra\.pooler\.dense\.weight"),
    (lambda f: edit_config(f, intermediate_size=40),
     r"electra\.encoder\.layer\.0\.intermediate\.dense\.weight: .* has \(48, 32\), the model "
     r"needs \(40, 32\)"),
    (lambda f: (f / "vocab.txt").write_text("\n".join(
        tokenization.load_vocabulary(f)[:-1]) + "\n"),
     r"vocab_size=38 but its vocabulary has 37"),
    (lambda f: edit_config(f, architectures=["ElectraForQuestionAnswering"]),
     r"ElectraForQuestionAnswering.*not supported"),
    (lambda f: edit_config(f, model_type="bert"), r"model_type='bert', not an ELECTRA"),
    (lambda f: edit_config(f, hidden_act="relu"), r"hidden_act='relu'"),
    (lambda f: (f / "config.json").unlink(), r"no config.json"),
    (lambda f: (f / "model.safetensors").write_bytes(b"not safetensors"),
     r"not a readable safetensors file"),
    (lambda f: (f / "model.safetensors").unlink(), r"no model.safetensors or pytorch_model.bin"),
])
def test_mismatches_fail_loudly(change, message, tmp_path):
    folder = copy_fixture("classifier", tmp_path)
    change(folder)
    with pytest.raises(ConversionError, match=message):
        convert.load(folder)


def test_nothing_is_half_loaded():
    classifier, _ = convert.load(FIXTURES / "classifier")
    before = [w.copy() for w in classifier.get_weights()]
    tensors = load_file(FIXTURES / "classifier" / "model.safetensors")
    tensors = {k: v + 1 for k, v in tensors.items() if k != "classifier.out_proj.bias"}
    entries = weights.backbone_entries(classifier.backbone) + weights.dense(
        "classifier.dense", classifier.head_dense) + weights.dense(
        "classifier.out_proj", classifier.output_dense)
    with pytest.raises(ConversionError, match="classifier.out_proj.bias"):
        weights.load(entries, tensors, "test")
    for a, b in zip(classifier.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_pytorch_weights_without_torch(tmp_path, monkeypatch):
    folder = copy_fixture("classifier", tmp_path)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails
    with pytest.raises(ConversionError, match="needs PyTorch to read: install torch"):
        convert.load(folder)


def test_a_generator_that_is_not_the_pair(tmp_path):
    generator = copy_fixture("generator", tmp_path)
    tensors = load_file(generator / "model.safetensors")
    tensors["electra.embeddings.word_embeddings.weight"] = tensors[
        "electra.embeddings.word_embeddings.weight"] * 2
    save_file(tensors, str(generator / "model.safetensors"))
    with pytest.raises(ConversionError, match="do not share their embeddings.*word_embeddings"):
        convert.load(FIXTURES / "discriminator", generator)
    edit_config(generator, num_attention_heads=2)
    with pytest.raises(ConversionError, match=r"num_attention_heads=2 \(expected 1\)"):
        convert.load(FIXTURES / "discriminator", generator)
    with pytest.raises(ConversionError, match="pairs with an ElectraForPreTraining"):
        convert.load(FIXTURES / "classifier", FIXTURES / "generator")


def test_original_classifier_head_has_no_hugging_face_form(tmp_path):
    vocabulary = tokenization.load_vocabulary(FIXTURES / "classifier")
    classifier = ElectraClassifier.from_scratch(
        ElectraConfig.from_preset("tiny"), vocabulary, num_classes=2, sequence_length=16)
    with pytest.raises(ConversionError, match="Fine-tune with head='hf'"):
        hugging_face.write(classifier, tmp_path / "hf")


def test_pre_layer_norm_models_have_no_post_layer_norm_form(tmp_path):
    vocabulary = tokenization.load_vocabulary(FIXTURES / "discriminator")
    tokenizer = tokenization.make_tokenizer(vocabulary)
    config = ElectraConfig.from_preset("tiny").replace(sequence_length=LENGTH,
                                                       normalize_first=True)
    ElectraPretrainer(config, len(vocabulary), tokenization.special_token_ids(tokenizer)
                      ).save_to_preset(tmp_path / "run", tokenizer)
    for target in ("hugging_face", "keras_hub"):
        with pytest.raises(ConversionError, match=r"normalize_first=True.*post-LayerNorm only"):
            convert.convert(tmp_path / "run", tmp_path / target, to=target)
        assert not (tmp_path / target).exists()
    classifier = ElectraClassifier.from_scratch(config, vocabulary, num_classes=2,
                                                sequence_length=16, head="hf")
    for model in (classifier, classifier.backbone):
        with pytest.raises(ConversionError, match="normalize_first=True"):
            hugging_face.write(model, tmp_path / "hf", tokenizer)


def test_unknown_sources_are_named(tmp_path):
    with pytest.raises(ConversionError, match="neither a folder nor a Hugging Face Hub id"):
        convert.load(tmp_path / "missing" / "folder")
    with pytest.raises(ConversionError, match="to must be one of"):
        convert.convert(FIXTURES / "classifier", tmp_path / "out", to="onnx")


# Sizes from the released config.json files (Google's on the Hugging Face Hub,
# HFL's in ymcui/Chinese-ELECTRA/config): discriminator, then generator.
RELEASED = {
    "google/electra-small": ((30522, 128, 256, 12, 4, 1024), (256, 4, 1024)),
    "google/electra-base": ((30522, 768, 768, 12, 12, 3072), (256, 4, 1024)),
    "google/electra-large": ((30522, 1024, 1024, 24, 16, 4096), (256, 4, 1024)),
    "hfl/chinese-electra-180g-small": ((21128, 128, 256, 12, 4, 1024), (64, 1, 256)),
    "hfl/chinese-electra-180g-base": ((21128, 768, 768, 12, 12, 3072), (192, 3, 768)),
    "hfl/chinese-electra-180g-large": ((21128, 1024, 1024, 24, 16, 4096), (256, 4, 1024)),
}


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_released_pairs_map_onto_the_pretraining_config(name):
    (vocab, embedding, hidden, layers, heads, ffn), (g_hidden, g_heads, g_ffn) = RELEASED[name]
    common = dict(model_type="electra", vocab_size=vocab, embedding_size=embedding,
                  num_hidden_layers=layers, max_position_embeddings=512, hidden_act="gelu")
    vocabulary = [f"t{i}" for i in range(vocab)]
    discriminator = hugging_face.Checkpoint(
        dict(common, architectures=["ElectraForPreTraining"], hidden_size=hidden,
             num_attention_heads=heads, intermediate_size=ffn), {}, vocabulary, True, "d")
    generator = hugging_face.Checkpoint(  # HFL's generator configs name no architecture
        dict(common, hidden_size=g_hidden, num_attention_heads=g_heads, intermediate_size=g_ffn),
        {"generator_predictions.dense.weight": None}, vocabulary, True, "g")
    assert generator.architecture == "ElectraForMaskedLM"
    config = hugging_face.electra_config(discriminator, generator)
    assert (config.generator_hidden_size, config.generator_num_heads,
            config.generator_intermediate_size) == (g_hidden, g_heads, g_ffn)
    assert (config.hidden_size, config.num_heads, config.activation) == (hidden, heads, "gelu")


def test_hub_ids_download_with_huggingface_hub(monkeypatch, tmp_path):
    huggingface_hub = pytest.importorskip("huggingface_hub")  # in the test extra
    asked = []

    def snapshot_download(repo_id, allow_patterns):
        asked.append((repo_id, allow_patterns))
        if repo_id == "google/no-such-model":
            raise OSError("404 Client Error: repository not found")
        return str(FIXTURES / "classifier")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    classifier, _ = convert.load("someone/electra-classifier")
    assert asked[0][0] == "someone/electra-classifier" and "*.safetensors" in asked[0][1]
    assert_close(classifier(ids()), "classifier_logits")
    with pytest.raises(ConversionError, match="could not download google/no-such-model.*404"):
        convert.load("google/no-such-model")


def test_a_keras_hub_preset_seeds_every_head(tmp_path):
    """keras-hub's own ElectraBackbone preset (tanh GELU) starts each task model here."""
    convert.convert(FIXTURES / "discriminator", tmp_path / "preset", to="keras_hub")
    preset = str(tmp_path / "preset")
    plain = keras_hub.models.ElectraBackbone.from_preset(preset)
    expected = plain(ids())["sequence_output"].numpy()
    models = [
        ElectraClassifier.from_model_dir(preset, num_classes=2),
        ElectraClassifier.from_preset(  # keras-hub's idiom; 24 positions, so a short preprocessor
            preset, num_classes=2,
            preprocessor=ElectraTextClassifierPreprocessor.from_preset(preset, sequence_length=16)),
        ElectraTagger.from_model_dir(preset, tag_names=["O", "B-X", "I-X"]),
        ElectraReplacedTokenDetector.from_model_dir(preset),
    ]
    for model in models:
        assert model.preprocessor.tokenizer.get_vocabulary() == tokenization.load_vocabulary(
            FIXTURES / "discriminator")
        np.testing.assert_array_equal(model.backbone(ids())["sequence_output"].numpy(), expected)
    from electra_tf.models.seq2seq.backbone import make_encoder
    np.testing.assert_array_equal(make_encoder(preset)(ids())["sequence_output"].numpy(), expected)
