"""scripts/translate.py and scripts/generate.py: train on a TSV, then serve stdin."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from electra_tf.models.model_dir import RunFolderError
from electra_tf.training import generation

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = ["--hidden_size", "32", "--num_layers", "1", "--sequence_length", "12", "--epochs", "2",
        "--vocab_size", "200", "--batch_size", "16", "--learning_rate", "3e-3"]
PAIRS = [("open file", "打开文件"), ("save file", "保存文件"), ("close file", "关闭文件"),
         ("open window", "打开窗口"), ("close window", "关闭窗口")]


def run(script, *args, stdin=None):
    return run_process(script, *args, stdin=stdin).stdout


def run_process(script, *args, stdin=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], input=stdin,
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_translate_trains_on_a_tsv_then_translates_stdin(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS * 8), encoding="utf-8")
    model_dir = tmp_path / "model"
    out = run("translate.py", "--train_file", str(tsv), "--test_file", str(tsv),
              "--max_test_pairs", "5", "--model_dir", str(model_dir), *TINY)
    results = json.loads(out.strip().splitlines()[-1])
    assert {"bleu", "chrf", "perplexity"} <= set(results)
    assert (model_dir / "target_tokenizer.json").is_file()
    lines = run("translate.py", "--model_dir", str(model_dir), "--sampler", "beam",
                stdin="open file\n\nclose window\n").split("\n")
    assert len(lines) == 4 and lines[-1] == ""  # one line out per line in
    # Under a dtype policy: the same one line out per line in, the compute path on stderr.
    served = run_process("translate.py", "--model_dir", str(model_dir), "--dtype_policy",
                         "mixed_bfloat16", stdin="open file\nclose window\n")
    assert len(served.stdout.split("\n")) == 3
    assert "compute dtype bfloat16 (dtype_policy mixed_bfloat16" in served.stderr


def test_generate_trains_on_peoples_daily_and_reports_perplexity(tmp_path):
    out = run("generate.py", "--dataset", "peoples_daily", "--max_train_pairs", "32",
              "--max_test_pairs", "4", "--model_dir", str(tmp_path), *TINY)
    results = json.loads(out.strip().splitlines()[-1])
    assert results["perplexity"] > 1 and "bleu" not in results


def test_serving_without_a_model_says_what_to_do(tmp_path):
    with pytest.raises(RunFolderError, match="train one"):
        generation.load(tmp_path)


def test_unknown_dataset_and_sampler_are_reported():
    with pytest.raises(ValueError, match="unknown dataset"):
        generation.builtin_dataset("nope")
    with pytest.raises(ValueError, match="unknown sampler"):
        generation.make_sampler("nope")


def test_perplexity_is_per_real_target_token():
    # An untrained model is about uniform over the target vocabulary, so its
    # perplexity is near the vocabulary size; dividing by padded positions
    # too (Keras' loss reduction) would report far less.
    lm = generation.build_lm(PAIRS, hidden_size=32, num_layers=1, sequence_length=32,
                             vocab_size=100)
    size = lm.backbone.target_vocabulary_size
    assert 0.5 * size < generation.perplexity(lm, PAIRS, batch_size=2) < 2 * size


# The translate command under MirroredStrategy with two replicas (two logical CPUs).
TWO_REPLICAS = """
import runpy, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_translate_trains_under_a_strategy_with_two_replicas(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS * 8), encoding="utf-8")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", TWO_REPLICAS, str(ROOT / "scripts" / "translate.py"),
         "--train_file", str(tsv), "--model_dir", str(tmp_path / "model"),
         "--strategy", "mirrored", "--verbose", *TINY],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    # TensorFlow names the replicas it mirrors over in an INFO note, which --verbose shows.
    assert "device:CPU:1" in result.stderr
    assert (tmp_path / "model" / "task.json").is_file()
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert results["train_pairs"] == len(PAIRS) * 8
