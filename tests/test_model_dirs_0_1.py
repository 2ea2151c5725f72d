"""Folders saved by version 0.1 (tests/fixtures/make_model_dirs.py) load and compute what
they computed when saved: a pre-training run folder and a multi-task folder; re-saved in the
current format (a keras-hub-style preset) they still do."""

import logging
import pathlib
import sys

import numpy as np

from electra_tf import ElectraClassifier, ElectraPretrainer
from electra_tf.convert import convert
from electra_tf.export.servables import detect_kind
from electra_tf.models import model_dir
from electra_tf.models.multitask.multitask import ElectraMultiTask

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "model_dirs_0_1"
sys.path.insert(0, str(FIXTURES.parent))
from make_model_dirs import INPUTS, deterministic_outputs  # noqa: E402

EXPECTED = np.load(FIXTURES / "expected.npz")


def test_a_pretraining_run_folder_computes_what_it_did():
    pretrainer = ElectraPretrainer.from_preset(FIXTURES / "pretraining")
    rtd_logits, mlm_logits = deterministic_outputs(pretrainer)
    np.testing.assert_allclose(rtd_logits, EXPECTED["pretraining_rtd_logits"], atol=1e-5)
    np.testing.assert_allclose(mlm_logits, EXPECTED["pretraining_mlm_logits"], atol=1e-5)
    assert pretrainer.tokenizer.token_to_id("今") == 5
    assert detect_kind(FIXTURES / "pretraining") == "discriminator"


def test_a_pretraining_run_folder_loads_with_a_warning_and_converts(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        ElectraPretrainer.from_preset(FIXTURES / "pretraining")
    assert "0.1's layout" in caplog.text and "electra-convert --source" in caplog.text
    convert(FIXTURES / "pretraining", tmp_path / "new")
    assert not model_dir.is_legacy(tmp_path / "new")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        upgraded = ElectraPretrainer.from_preset(tmp_path / "new")
    assert "0.1's layout" not in caplog.text
    rtd_logits, mlm_logits = deterministic_outputs(upgraded)
    np.testing.assert_allclose(rtd_logits, EXPECTED["pretraining_rtd_logits"], atol=1e-5)
    np.testing.assert_allclose(mlm_logits, EXPECTED["pretraining_mlm_logits"], atol=1e-5)
    assert detect_kind(tmp_path / "new") == "discriminator"


def test_a_pretraining_run_folder_starts_a_task_head():
    classifier = ElectraClassifier.from_model_dir(FIXTURES / "pretraining",
                                                  label_names=["neg", "pos"])
    assert classifier.preprocessor.sequence_length == 8  # the run's
    pretrainer = ElectraPretrainer.from_preset(FIXTURES / "pretraining")
    np.testing.assert_array_equal(
        classifier.backbone.token_embedding.embeddings.numpy(),
        pretrainer.discriminator.token_embedding.embeddings.numpy())


def test_a_multitask_folder_computes_what_it_did(tmp_path):
    old = ElectraMultiTask.from_preset(FIXTURES / "multitask")
    convert(FIXTURES / "multitask", tmp_path / "new")
    for model in (old, ElectraMultiTask.from_preset(tmp_path / "new")):
        outputs = model(INPUTS)
        assert sorted(outputs) == sorted(k.removeprefix("multitask_") for k in EXPECTED
                                         if k.startswith("multitask_"))
        for name, value in outputs.items():
            np.testing.assert_allclose(value, EXPECTED[f"multitask_{name}"], atol=1e-5)
        assert model.sequence_length == 8
        assert model.tokenizer.token_to_id("今") == 5
    assert detect_kind(FIXTURES / "multitask") == "multitask"
    assert detect_kind(tmp_path / "new") == "multitask"
