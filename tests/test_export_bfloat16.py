"""Every export kind under `mixed_bfloat16` (`load_servable(kind, dir, dtype_policy=...)`,
`electra-export --dtype_policy`): the model computes in bfloat16 with float32 variables, every
signature has the float32 export's outputs with the same dtypes (TF Serving clients see no
difference), its values are close to the float32 export's, and a seq2seq model that has learnt
its pairs generates the same text. A folder in 0.1's layout loads only as saved."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.export import servables, serving
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.encoders import random_encoder
from electra_tf.models.model_dir import RunFolderError
from electra_tf.models.multitask.multitask import ElectraMultiTask
from electra_tf.models.tagging.tagger import ElectraTagger
from electra_tf.training import generation

VOCAB = list(tokenization.SPECIAL_TOKENS) + list("今天气很好差张三在北京的了")
TINY = ElectraConfig.from_preset("tiny").replace(num_layers=1)
PAIRS = [("今天很好", "天气很好"), ("张三在北京", "北京很好"), ("天气差", "今天差了")]
# Probabilities lie in [0, 1]; bfloat16's rounding moves these tiny models' logits by about
# 1e-2 at most, and their probabilities by less (the classifier's test allows the same).
ATOL = 0.05


def save_pretrainer(folder):
    tokenizer = tokenization.make_tokenizer(VOCAB)
    ElectraPretrainer(TINY, len(VOCAB), tokenization.special_token_ids(tokenizer)
                      ).save_to_preset(folder, tokenizer)


def save_tagger(folder):
    ElectraTagger.from_scratch(TINY, VOCAB, tag_names=["O", "B-PER", "I-PER"],
                               sequence_length=16).save_to_preset(str(folder))


def save_classifier(folder):
    ElectraClassifier.from_scratch(TINY, VOCAB, label_names=["neg", "pos"],
                                   sequence_length=16).save_to_preset(str(folder))


def save_multitask(folder):
    backbone, tokenizer = random_encoder(TINY, VOCAB)
    ElectraMultiTask(backbone, {
        "sentiment": {"kind": "classification", "labels": ["neg", "pos"]},
        "ner": {"kind": "tagging", "labels": ["O", "B-PER", "I-PER"]},
    }, tokenizer=tokenizer, sequence_length=16).save_to_preset(folder)


def save_seq2seq(folder):
    """A tiny LM that has learnt `PAIRS` by heart: its decisions have large margins."""
    keras.utils.set_random_seed(0)
    lm = generation.build_lm(PAIRS, hidden_size=32, num_layers=1, sequence_length=12,
                             vocab_size=60, dropout=0.0)
    # One long epoch: each epoch costs seconds of set-up here, its steps milliseconds. 75
    # steps: after 38 a bfloat16 beam still preferred a wrong line for one source.
    generation.train(lm, PAIRS * 400, epochs=1, batch_size=16, learning_rate=3e-3)
    generation.save(lm, folder)


SAVERS = {"discriminator": save_pretrainer, "generator": save_pretrainer,
          "classifier": save_classifier, "tagger": save_tagger, "multitask": save_multitask,
          "seq2seq": save_seq2seq}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """One model folder per saver, written on first use."""
    saved = {}

    def folder(kind):
        saver = SAVERS[kind]
        if saver not in saved:
            saved[saver] = tmp_path_factory.mktemp(kind)
            saver(saved[saver])
        return saved[saver]

    return folder


def export(servable, base_dir, check_ops):
    path = serving.export_for_serving(servable, base_dir, "model", check_ops=check_ops)
    return tf.saved_model.load(str(path))


def output_dtypes(signature):
    return {name: spec.dtype for name, spec in signature.structured_outputs.items()}


def test_every_servable_kind_takes_a_dtype_policy():
    assert set(SAVERS) == set(servables.SERVABLES)


@pytest.mark.parametrize("kind", sorted(SAVERS))
def test_an_export_under_mixed_bfloat16_serves_as_the_float32_export(kind, folders, tmp_path):
    folder = folders(kind)
    model = servables.load_model(kind, folder, dtype_policy="mixed_bfloat16")
    assert servables.encoder_policy(model).compute_dtype == "bfloat16"
    # Floating variables, that is: the pre-trainers' random streams count in int32.
    assert {variable.dtype for variable in model.weights
            if variable.dtype.startswith(("float", "bfloat"))} == {"float32"}
    servable = servables.SERVABLES[kind](model)
    # The op check covers the bfloat16 graph; the float32 export is only the reference.
    as_bfloat16 = export(servable, tmp_path / "bfloat16", check_ops=True)
    float32 = export(servables.load_servable(kind, folder), tmp_path / "float32", False)

    assert sorted(as_bfloat16.signatures) == sorted(float32.signatures)
    for name, signature in float32.signatures.items():
        assert output_dtypes(as_bfloat16.signatures[name]) == output_dtypes(signature), name
    for name, inputs in servable.warmup_requests().items():
        inputs = {key: tf.constant(value) for key, value in inputs.items()}
        expected = float32.signatures[name](**inputs)
        actual = as_bfloat16.signatures[name](**inputs)
        for key, value in expected.items():
            assert actual[key].shape == value.shape, (name, key)
            if value.dtype.is_floating:
                np.testing.assert_allclose(actual[key], value, atol=ATOL, err_msg=f"{name} {key}")
    if kind == "seq2seq":
        # Text it has learnt (the warm-up texts are noise to it, with near ties).
        sources = tf.constant([source for source, _ in PAIRS])
        for name in (serving.DEFAULT_SIGNATURE, "generate_beam"):
            generated = as_bfloat16.signatures[name](text=sources)["generated_text"]
            assert [text.decode() for text in generated.numpy()] == [t for _, t in PAIRS], name


def test_a_folder_in_the_old_layout_loads_only_as_saved():
    old = pathlib.Path(__file__).resolve().parent / "fixtures" / "model_dirs_0_1" / "pretraining"
    with pytest.raises(RunFolderError, match="electra-convert --source"):
        servables.load_servable("discriminator", old, dtype_policy="mixed_bfloat16")
