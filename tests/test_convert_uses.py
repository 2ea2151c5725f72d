"""Converted checkpoints work everywhere: continued pre-training, fine-tuning, export.

Starts from the Hugging Face fixtures (tests/fixtures/hf_electra), converted
with scripts/convert.py as a user would.
"""

import json
import pathlib
import random
import subprocess
import sys

import numpy as np
import pytest

from electra_tf import ElectraPretrainer, convert
from electra_tf.models.classifier import ElectraClassifier
from electra_tf.models.tagger import ElectraTagger

from export_helpers import as_strings, fresh_process, run_export_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "hf_electra"
CHARACTERS = "今天气很好明也差北京在会见的了是不人我他"
ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}


def run_script(name, *args):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args],
                            capture_output=True, text=True, env=ENV, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The fixture pair converted by the script into a pre-training model directory."""
    out = tmp_path_factory.mktemp("converted") / "electra_tiny"
    stdout = run_script("convert.py", f"--source={FIXTURES / 'discriminator'}",
                        f"--generator={FIXTURES / 'generator'}", f"--output_dir={out}",
                        "--sequence_length=16")
    assert f"wrote {out}" in stdout
    return out


def test_convert_help_explains_every_flag():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "convert.py"), "--helpfull"],
                            capture_output=True, text=True, env=ENV, timeout=300)
    for flag in ("--source", "--generator", "--output_dir", "--to", "--vocab_file",
                 "--[no]lowercase", "--num_heads", "--sequence_length"):
        assert flag in result.stdout, flag
    assert "ElectraForPreTraining" in result.stdout and "hugging_face" in result.stdout


def test_bad_source_is_a_usage_error(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "convert.py"), f"--source={tmp_path}",
         f"--output_dir={tmp_path / 'out'}"], capture_output=True, text=True, env=ENV, timeout=300)
    assert result.returncode != 0
    assert "has no config.json" in result.stderr and "Traceback" not in result.stderr


def test_pretraining_continues_from_converted_weights(converted, tmp_path):
    corpus = tmp_path / "corpus.txt"
    rng = random.Random(0)
    corpus.write_text("".join(
        "".join(rng.choice(CHARACTERS) for _ in range(rng.randint(6, 14))) + "\n"
        + ("\n" if i % 8 == 7 else "") for i in range(160)), encoding="utf-8")
    run_dir = tmp_path / "continued"
    run_script("pretrain.py", f"--init_from={converted}", f"--input_files={corpus}",
               f"--model_dir={run_dir}", "--train_steps=4", "--batch_size=4",
               "--checkpoint_steps=2", "--learning_rate=1e-3")
    summary = json.loads((run_dir / "pretraining_summary.json").read_text())
    assert summary["steps_done"] == 4 and np.isfinite(summary["train_metrics"]["loss"])
    start, _ = ElectraPretrainer.from_model_dir(converted)
    trained, _ = ElectraPretrainer.from_model_dir(run_dir)
    config = trained.electra_config
    assert (config.activation, config.hidden_size, config.train_steps) == ("gelu", 32, 4)
    assert (run_dir / "vocab.txt").read_text() == (converted / "vocab.txt").read_text()
    gaps = [np.abs(a.numpy() - b.numpy()).max()
            for a, b in zip(start.trainable_weights, trained.trainable_weights)]
    # Trained from the converted weights: every tower moved a little, none restarted.
    assert 0 < max(gaps) < 0.05
    word = start.discriminator.token_embedding.embeddings.numpy()
    np.testing.assert_allclose(trained.discriminator.token_embedding.embeddings.numpy(), word,
                               atol=0.01)


def fit_and_measure(model, x, y):
    before = model.backbone.get_weights()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    return max(np.abs(a - b).max() for a, b in zip(model.backbone.get_weights(), before))


def test_converted_discriminator_fine_tunes_a_classifier_and_a_tagger(converted):
    texts = ["今天天气很好", "明天也很好", "今天很差", "明天天气差"] * 2
    classifier = ElectraClassifier.from_model_dir(converted, label_names=["neg", "pos"])
    assert classifier.backbone.activation == "gelu"
    assert classifier.preprocessor.sequence_length == 16  # the converted config's
    assert fit_and_measure(classifier, texts, [1, 1, 0, 0] * 2) > 0
    assert len(classifier.predict_labels(["今天很好"])) == 1

    tagger = ElectraTagger.from_model_dir(
        converted, tag_names=["O", "B-LOC", "I-LOC", "B-PER", "I-PER"])
    sentences = [list("北京很好"), list("我在北京"), list("他在京")]
    tags = [["B-LOC", "I-LOC", "O", "O"], ["O", "O", "B-LOC", "I-LOC"], ["B-PER", "O", "B-LOC"]]
    before = tagger.backbone.get_weights()
    tagger.fit(tagger.dataset(sentences, tags, batch_size=2), epochs=2, verbose=0)
    assert max(np.abs(a - b).max() for a, b in zip(tagger.backbone.get_weights(), before)) > 0
    assert isinstance(tagger.tag(["我在北京"])[0], list)


def test_converted_classifier_exports_and_answers_without_electra_tf(tmp_path):
    model_dir = tmp_path / "classifier"
    convert.convert(FIXTURES / "classifier", model_dir, sequence_length=16)
    classifier = ElectraClassifier.from_preset(str(model_dir))
    texts = ["今天天气很好", "北京很差"]
    expected = classifier.predict(texts, verbose=0)
    run_export_script(f"--model_dir={model_dir}", f"--export_dir={tmp_path / 'serving'}",
                      "--model_name=converted", "--version=1")
    export = tmp_path / "serving" / "converted" / "1"
    answers = fresh_process({"converted": (str(export), "serving_default",
                                           {"text": as_strings(texts)})})
    assert "electra_tf" not in answers["imported"] and "keras_hub" not in answers["imported"]
    probabilities = answers["answers"]["converted"]["probabilities"]
    shifted = expected - expected.max(axis=-1, keepdims=True)
    np.testing.assert_allclose(
        probabilities, np.exp(shifted) / np.exp(shifted).sum(-1, keepdims=True), atol=1e-5)
    assert [label.decode() for label in answers["answers"]["converted"]["label"]] == [
        ["negative", "positive", "neutral"][i] for i in expected.argmax(-1)]
