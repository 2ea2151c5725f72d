"""What runs leave to look at: TensorBoard event files read back, and the curves PNG.

Pre-training's summaries (every tag, continuous across a resume, the text view)
are checked on the killed-and-resumed run in test_pretrain_run.py.
"""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

from electra_tf.models.metrics import EntityF1
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


class Replay(keras.Model):
    """Learns nothing: each train (test) step adds its batch's values, with their weights,
    to the weighted mean `loss`, and steps the optimizer."""

    def __init__(self):
        super().__init__()
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.unused = self.add_weight(shape=(), initializer="zeros")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        self.optimizer.apply([tf.zeros(())], [self.unused])
        return self.test_step(data)

    def test_step(self, data):
        values, weights = data
        self.loss_tracker.update_state(values, sample_weight=weights)
        return {"loss": self.loss_tracker.result()}


# Three epochs of four steps, two weighted values a step; step 6 has weight 0 only.
STEP_VALUES = np.arange(24, dtype="float32").reshape(12, 2) ** 1.5
STEP_WEIGHTS = np.tile(np.array([[1.0, 3.0]], "float32"), (12, 1))
STEP_WEIGHTS[5] = 0.0


def weighted_mean(steps):
    """The mean of the values of `steps` (numbered from 1), weighted."""
    rows = np.array(steps) - 1
    return float((STEP_VALUES[rows] * STEP_WEIGHTS[rows]).sum() / STEP_WEIGHTS[rows].sum())


def assert_points(points, expected):
    """Same steps, values equal to float32 precision."""
    assert [step for step, _ in points] == [step for step, _ in expected]
    np.testing.assert_allclose([value for _, value in points], [value for _, value in expected],
                               rtol=1e-6)


def replay(log_dir, every_steps, validation=None):
    model = Replay()
    model.compile(optimizer="sgd", run_eagerly=True)
    model.fit(tf.data.Dataset.from_tensor_slices((STEP_VALUES, STEP_WEIGHTS)),
              epochs=3, steps_per_epoch=4, validation_data=validation, shuffle=False, verbose=0,
              callbacks=[summaries.StepSummaries(log_dir, every_steps=every_steps)])
    return summaries.read_scalars(log_dir)


def test_each_step_is_logged_with_its_own_value(tmp_path):
    """Keras' logs would give the epoch's running mean: step 2's point would be the
    mean of steps 1 and 2, and the curve would jump at steps 5 and 9."""
    scalars = replay(tmp_path, every_steps=1)["train"]
    expected = [(step, weighted_mean([step])) for step in range(1, 13) if step != 6]
    assert_points(scalars["loss"], expected)  # step 6 counted nothing: no point
    assert_points(scalars["epoch/loss"], [(4, weighted_mean([1, 2, 3, 4])),
                                          (8, weighted_mean([5, 6, 7, 8])),
                                          (12, weighted_mean([9, 10, 11, 12]))])


def test_a_point_is_the_mean_of_its_steps_across_epochs_and_validation(tmp_path):
    validation = tf.data.Dataset.from_tensor_slices((np.full((2, 2), 1000.0, "float32"),
                                                     np.ones((2, 2), "float32")))
    scalars = replay(tmp_path, every_steps=3, validation=validation)
    # Points at steps 3, 6, 9, 12: the one at 6 spans the end of the first epoch and the
    # validation run after it, both of which reset the metric.
    assert_points(scalars["train"]["loss"],
                  [(step, weighted_mean(range(step - 2, step + 1))) for step in (3, 6, 9, 12)])
    assert_points(scalars["validation"]["loss"], [(4, 1000.0), (8, 1000.0), (12, 1000.0)])
    curves = summaries.plot_curves(tmp_path, tmp_path / "curves.png")
    assert curves.read_bytes().startswith(PNG_MAGIC)


def test_a_metric_with_several_results_gets_a_curve_for_each(tmp_path):
    """EntityF1 gives precision, recall and F1, which a compiled model's metrics nest
    under the metric's name (a tagger's: every NER fine-tuning run)."""
    tags = ["O", "B-PER", "I-PER"]
    model = keras.Sequential([keras.Input((4,), dtype="int32"), keras.layers.Embedding(3, 3)])
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[EntityF1(tags)])
    ids = np.array([[1, 2, 0, 1], [0, 1, 2, 0]], "int32")
    model.fit(ids, ids, batch_size=1, epochs=1, verbose=0,
              callbacks=[summaries.StepSummaries(tmp_path, every_steps=1)])
    scalars = summaries.read_scalars(tmp_path)["train"]
    assert [step for step, _ in scalars["entity_f1"]] == [1, 2]
    assert {"entity_precision", "entity_recall", "loss"} <= set(scalars)


def test_a_step_written_again_after_a_resume_keeps_its_last_value(tmp_path):
    write_scalars(tmp_path / "train", [5.0, 4.0, 3.0])
    write_scalars(tmp_path / "train", [2.5, 2.0], first_step=3)  # a later process
    assert summaries.read_scalars(tmp_path) == {
        "train": {"loss": [(1, 5.0), (2, 4.0), (3, 2.5), (4, 2.0)]}}


def test_curves_of_an_empty_log_dir_are_not_drawn(tmp_path):
    assert summaries.plot_curves(tmp_path, tmp_path / "curves.png") is None
    assert not (tmp_path / "curves.png").exists()


def test_the_finetune_command_logs_its_steps_and_epochs_and_draws_its_curves(tmp_path):
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
    # 18 examples in batches of 4: 5 steps an epoch, few enough to log each one.
    scalars = summaries.read_scalars(model_dir / "logs")
    for tag in ("loss", "sparse_categorical_accuracy", "learning_rate"):
        assert [step for step, _ in scalars["train"][tag]] == list(range(1, 16)), tag
    for tag in ("epoch/loss", "epoch/sparse_categorical_accuracy"):
        assert [step for step, _ in scalars["train"][tag]] == [5, 10, 15], tag
    # Validation at the step it was measured, on the training curves' axis.
    assert [step for step, _ in scalars["validation"]["loss"]] == [5, 10, 15]
    curves = model_dir / summaries.CURVES_FILENAME
    assert f"training curves: {curves}" in result.stdout
    assert curves.read_bytes().startswith(PNG_MAGIC) and curves.stat().st_size > 10_000
