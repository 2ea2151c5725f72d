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

from electra_tf import ElectraPretrainer, convert, tokenization
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.model_dir import RunFolderError
from electra_tf.models.pretraining.detector import ElectraReplacedTokenDetector
from electra_tf.models.pretraining.masked_lm import ElectraMaskedLM
from electra_tf.models.tagging.tagger import ElectraTagger

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
    start = ElectraPretrainer.from_preset(converted)
    trained = ElectraPretrainer.from_preset(run_dir)
    config = trained.electra_config
    assert (config.activation, config.hidden_size, config.train_steps) == ("gelu", 32, 4)
    assert trained.tokenizer.get_vocabulary() == start.tokenizer.get_vocabulary()
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


def test_converted_models_export_and_answer_without_electra_tf(tmp_path):
    """A converted classifier, discriminator (+ RTD head) and generator, each exported by
    scripts/export.py (kind read from the preset) and asked in a TensorFlow-only process."""
    models = {"classifier": ElectraClassifier, "discriminator": ElectraReplacedTokenDetector,
              "generator": ElectraMaskedLM}
    requests = {}
    texts = {"classifier": ["今天天气很好", "北京很差"], "discriminator": ["今天天气很好", "北京很差"],
             "generator": ["今天[MASK]气很好"]}
    for name in models:
        convert.convert(FIXTURES / name, tmp_path / name, sequence_length=16)
        run_export_script(f"--model_dir={tmp_path / name}", f"--export_dir={tmp_path / 'serving'}",
                          f"--model_name={name}", "--version=1")
        requests[name] = (str(tmp_path / "serving" / name / "1"), "serving_default",
                          {"text": as_strings(texts[name])})
    answers = fresh_process(requests)
    assert "electra_tf" not in answers["imported"] and "keras_hub" not in answers["imported"]
    answers = answers["answers"]

    classifier = ElectraClassifier.from_preset(str(tmp_path / "classifier"))
    logits = classifier.predict(texts["classifier"], verbose=0)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(answers["classifier"]["probabilities"],
                               shifted / shifted.sum(-1, keepdims=True), atol=1e-5)
    assert [label.decode() for label in answers["classifier"]["label"]] == [
        ["negative", "positive", "neutral"][i] for i in logits.argmax(-1)]

    detector = ElectraReplacedTokenDetector.from_preset(str(tmp_path / "discriminator"))
    expected = 1 / (1 + np.exp(-detector.predict(texts["discriminator"], verbose=0)))
    real = np.arange(16)[None] < answers["discriminator"]["num_tokens"][:, None]
    np.testing.assert_allclose(answers["discriminator"]["replaced_probability"][real],
                               expected[real], atol=1e-5)

    masked_lm = ElectraMaskedLM.from_preset(str(tmp_path / "generator"))
    vocabulary = masked_lm.preprocessor.tokenizer.get_vocabulary()
    tokens = ["[CLS]", "今", "天", "[MASK]", "气", "很", "好", "[SEP]"]
    token_ids = np.zeros((1, 16), "int32")
    token_ids[0, :len(tokens)] = [vocabulary.index(t) for t in tokens]
    logits = masked_lm({"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
                        "padding_mask": (token_ids > 0).astype("int32"),
                        "mask_positions": np.array([[3]], "int32")}).numpy()[0, 0]
    logits[[vocabulary.index(t) for t in tokenization.SPECIAL_TOKENS]] = -np.inf
    assert answers["generator"]["num_masks"].tolist() == [1]
    assert answers["generator"]["predicted_tokens"][0, 0].decode() == vocabulary[logits.argmax()]


@pytest.mark.parametrize("content", ["", '{"class_name": "ElectraClass', "\xff\xfe"])
def test_a_corrupt_task_json_is_a_run_folder_error_naming_the_file(tmp_path, content):
    # The error every command raises for a damaged folder of this package.
    (tmp_path / "task.json").write_bytes(content.encode("latin-1"))
    with pytest.raises(RunFolderError, match="task.json is not readable JSON"):
        convert.load(tmp_path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "convert.py"), "--source", str(tmp_path),
         "--output_dir", str(tmp_path / "out")], capture_output=True, text=True, env=ENV,
        timeout=600)
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if "task.json" in line]
    assert line.startswith("error: ") and "is not readable JSON" in line
    assert "Traceback" not in result.stderr and "USAGE" not in result.stderr
