"""What runs leave to look at: TensorBoard event files read back, and the curves PNG.

Pre-training's summaries (every tag, continuous across a resume, the text view)
are checked on the killed-and-resumed run in test_pretrain_run.py.
"""

import os
import pathlib
import subprocess
import sys

import tensorflow as tf

from electra_tf.training import summaries

ROOT = pathlib.Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REVIEWS = [("pos", "这本书很好看"), ("neg", "质量太差了"), ("pos", "物流很快，包装完好"),
           ("neg", "再也不买了"), ("pos", "非常满意"), ("neg", "很失望")]


def write_scalars(directory, values, first_step=1):
    with tf.summary.create_file_writer(str(directory)).as_default():
        for step, value in enumerate(values, start=first_step):
            tf.summary.scalar("loss", value, step=step)
            tf.summary.text("note", "not a scalar", step=step)


def test_a_step_written_again_after_a_resume_keeps_its_last_value(tmp_path):
    write_scalars(tmp_path / "train", [5.0, 4.0, 3.0])
    write_scalars(tmp_path / "train", [2.5, 2.0], first_step=3)  # a later process
    assert summaries.read_scalars(tmp_path) == {
        "train": {"loss": [(1, 5.0), (2, 4.0), (3, 2.5), (4, 2.0)]}}


def test_curves_of_an_empty_log_dir_are_not_drawn(tmp_path):
    assert summaries.plot_curves(tmp_path, tmp_path / "curves.png") is None
    assert not (tmp_path / "curves.png").exists()


def test_the_finetune_command_logs_every_epoch_and_draws_its_curves(tmp_path):
    for split in ("train", "dev"):
        (tmp_path / f"{split}.tsv").write_text(
            "".join(f"{label}\t{text}\n" for label, text in REVIEWS * 3), encoding="utf-8")
    model_dir = tmp_path / "sentiment"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "finetune.py"), "--task=classification",
         f"--train_file={tmp_path / 'train.tsv'}", f"--dev_file={tmp_path / 'dev.tsv'}",
         "--config=tiny", "--vocab_size=60", "--epochs=3", "--batch_size=4",
         "--sequence_length=16", f"--model_dir={model_dir}"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"})
    assert result.returncode == 0, result.stderr[-3000:]
    scalars = summaries.read_scalars(model_dir / "logs")
    for tag in ("epoch_loss", "epoch_sparse_categorical_accuracy", "epoch_learning_rate"):
        assert [step for step, _ in scalars["train"][tag]] == [0, 1, 2], tag
    assert [step for step, _ in scalars["validation"]["epoch_loss"]] == [0, 1, 2]
    curves = model_dir / summaries.CURVES_FILENAME
    assert f"training curves: {curves}" in result.stdout
    assert curves.read_bytes().startswith(PNG_MAGIC) and curves.stat().st_size > 10_000
