"""End to end: scripts/pretrain.py on a small corpus, killed and resumed."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from electra_tf import ElectraConfig
from electra_tf.training.pretrain import run_pretraining

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "pretrain.py"
LINES = [
    "今天天气很好，我们去公园散步。", "明天可能下雨，记得带伞。", "",
    "the weather is nice today and we walk in the park.", "tomorrow it may rain.", "",
    "人民日报发表新年献词。", "国家主席发表讲话，祝贺新年。", "",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    (directory / "train.txt").write_text("\n".join(LINES * 30) + "\n", encoding="utf-8")
    (directory / "heldout.txt").write_text("\n".join(LINES[:5]) + "\n", encoding="utf-8")
    return directory


def script_args(corpus, model_dir, train_steps=12):
    return [
        sys.executable, str(SCRIPT), "--config", "tiny",
        "--input_files", str(corpus / "train.txt"), "--heldout_files", str(corpus / "heldout.txt"),
        "--model_dir", str(model_dir), "--vocab_size", "300", "--train_steps", str(train_steps),
        "--checkpoint_steps", "4", "--batch_size", "8", "--eval_steps", "2",
    ]


def env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}


@pytest.fixture(scope="module")
def resumed_run(corpus, tmp_path_factory):
    """Kills a run right after its first checkpoint, then runs the same command again."""
    model_dir = tmp_path_factory.mktemp("run")
    metadata = model_dir / "backup" / "training_metadata.json"
    process = subprocess.Popen(script_args(corpus, model_dir), env=env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if metadata.is_file() and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= 1:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = json.loads(metadata.read_text())["epoch"] * 4
    assert killed_at < 12
    second = subprocess.run(script_args(corpus, model_dir), env=env(), capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    return model_dir, killed_at, second.stdout


def test_a_killed_run_resumes_from_its_last_checkpoint(resumed_run):
    model_dir, killed_at, output = resumed_run
    assert f"resuming from the checkpoint at step {killed_at}" in output
    summary = json.loads((model_dir / "pretraining_summary.json").read_text())
    assert summary["steps_done"] == 12  # not 12 + killed_at: the resumed run did only the rest
    for name in ("electra_config.json", "vocab.txt", "pretrainer.weights.h5",
                 "discriminator/config.json", "discriminator/model.weights.h5"):
        assert (model_dir / name).is_file(), name
    assert sorted(p.name for p in (model_dir / "checkpoints").iterdir())[-1] == "ckpt-0003.weights.h5"
    assert any((model_dir / "logs").rglob("*tfevents*"))
    heldout = summary["heldout_metrics"]
    assert set(heldout) >= {"mlm_accuracy", "rtd_accuracy", "rtd_precision", "rtd_recall"}
    assert "held-out: generator MLM accuracy" in output


def test_a_finished_run_is_not_trained_over_and_can_be_extended(resumed_run, corpus, capsys):
    model_dir, _, _ = resumed_run
    config = ElectraConfig.load(model_dir / "electra_config.json")
    weights = (model_dir / "pretrainer.weights.h5").read_bytes()
    run_pretraining(config, [str(corpus / "train.txt")], model_dir, checkpoint_steps=4, verbose=0)
    assert "already holds a finished run of 12 steps" in capsys.readouterr().out
    assert (model_dir / "pretrainer.weights.h5").read_bytes() == weights
    result = run_pretraining(config.replace(train_steps=16), [str(corpus / "train.txt")], model_dir,
                             checkpoint_steps=4, verbose=0)
    assert "continuing the finished run from step 12" in capsys.readouterr().out
    assert int(result.pretrainer.optimizer.iterations.numpy()) == 16


def test_another_config_in_the_same_model_dir_is_refused(resumed_run, corpus):
    model_dir, _, _ = resumed_run
    config = ElectraConfig.load(model_dir / "electra_config.json").replace(hidden_size=128)
    with pytest.raises(ValueError, match="another config"):
        run_pretraining(config, [str(corpus / "train.txt")], model_dir, verbose=0)


def test_bad_inputs_name_the_file(tmp_path, corpus):
    config = ElectraConfig.from_preset("tiny")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="empty.txt"):
        run_pretraining(config, [str(tmp_path / "empty.txt")], tmp_path / "a", vocab_size=100)
    with pytest.raises(FileNotFoundError, match="nothing"):
        run_pretraining(config, [str(tmp_path / "nothing*.txt")], tmp_path / "b", vocab_size=100)
    with pytest.raises(ValueError, match="--vocab_size"):
        run_pretraining(config, [str(corpus / "train.txt")], tmp_path / "c")


def test_help_explains_every_flag():
    result = subprocess.run([sys.executable, str(SCRIPT), "--helpfull"], env=env(),
                            capture_output=True, text=True, timeout=120)
    for flag in ("--config", "--input_files", "--model_dir", "--train_steps", "--batch_size",
                 "--seed", "--vocab_file", "--vocab_size", "--checkpoint_steps", "--strategy"):
        assert flag in result.stdout, flag
