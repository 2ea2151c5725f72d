"""What a training run leaves for people to look at: TensorBoard summaries and a PNG of its curves.

`PretrainingSummaries` writes a pre-training run's scalars (loss components,
MLM accuracy, RTD accuracy / precision / recall / ROC AUC, the replaced share,
the learning rate, tokens per second) every few steps, keyed by the optimizer's
step, and at every checkpoint a text summary of a few sentences the way the
discriminator saw them. `read_scalars` reads any run's event files back and
`plot_curves` draws them, one panel per quantity, into a PNG.

Example:
```python
import tensorflow as tf
from electra_tf.training import summaries

with tf.summary.create_file_writer("logs/train").as_default():
    for step, loss in enumerate([3.0, 2.5, 2.1], start=1):
        tf.summary.scalar("loss", loss, step=step)
summaries.read_scalars("logs")  # {'train': {'loss': [(1, 3.0), (2, 2.5), (3, 2.1)]}}
summaries.plot_curves("logs", "curves.png")
```
"""

import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from electra_tf import inspection

TRAIN_RUN = "train"
TEXT_TAG = "replaced_tokens"
# What the commands name the PNG of a run's curves, in its model directory.
CURVES_FILENAME = "training_curves.png"


class PretrainingSummaries(keras.callbacks.Callback):
    """TensorBoard summaries of an `ElectraPretrainer.fit`, under `log_dir/train`.

    Keras' `TensorBoard` callback counts batches from zero in every process,
    so a resumed run's curves would start over; these are keyed by
    `optimizer.iterations`, which the checkpoint restores. Scalars are the
    training metrics (Keras' running means over the current checkpoint
    interval), `learning_rate` and `tokens_per_second` (sequence positions,
    padding included, per second of training since the last summary).

    Args:
        log_dir: the run's TensorBoard directory.
        tokens_per_step: global batch size × sequence length.
        every_steps: scalars every this many steps.
        tokenizer, sentences: when both are given, a text summary of
            `sentences` as the discriminator reads them (`inspection.to_markdown`)
            at the end of every epoch (checkpoint interval).
    """

    def __init__(self, log_dir, tokens_per_step, every_steps=100, tokenizer=None, sentences=()):
        super().__init__()
        self.log_dir = pathlib.Path(log_dir)
        self.tokens_per_step = tokens_per_step
        self.every_steps = max(1, int(every_steps))
        self.tokenizer = tokenizer
        self.sentences = list(sentences)
        self._writer = None

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(str(self.log_dir / TRAIN_RUN))
        self._last = (self._step(), time.perf_counter())

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        if step % self.every_steps:
            return
        last_step, last_time = self._last
        now = time.perf_counter()
        self._last = (step, now)
        with self._writer.as_default(step=step):
            for name, value in (logs or {}).items():
                tf.summary.scalar(name, float(value))
            tf.summary.scalar("learning_rate", self._learning_rate())
            tf.summary.scalar("tokens_per_second",
                              (step - last_step) * self.tokens_per_step / max(now - last_time, 1e-9))

    def on_epoch_end(self, epoch, logs=None):
        if self.tokenizer is not None and self.sentences:
            views = inspection.replaced_token_view(self.model, self.tokenizer, self.sentences)
            with self._writer.as_default(step=self._step()):
                tf.summary.text(TEXT_TAG, inspection.to_markdown(views))
        self._writer.flush()

    def on_train_end(self, logs=None):
        self._writer.close()

    def _step(self):
        return int(self.model.optimizer.iterations.numpy())

    def _learning_rate(self):
        # A LossScaleOptimizer (mixed_float16) wraps the one with the schedule.
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def read_scalars(log_dir):
    """`{run: {tag: [(step, value), ...]}}` from the event files under `log_dir`.

    A run is a sub-directory (`train`, `validation`); steps are sorted and a
    step written twice (a run resumed from a checkpoint) keeps the value of
    the file written last.
    """
    files = []  # (time of the first summary, run, [(tag, step, value), ...])
    for event_file in pathlib.Path(log_dir).rglob("*tfevents*"):
        points, first = [], float("inf")
        for event in _events(event_file):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    first = min(first, event.wall_time)
                    points.append((value.tag, event.step, float(tf.make_ndarray(value.tensor))))
        files.append((first, event_file.parent.relative_to(log_dir).as_posix(), points))
    runs = {}
    for _, run, points in sorted(files, key=lambda file: file[0]):
        for tag, step, value in points:
            runs.setdefault(run, {}).setdefault(tag, {})[step] = value
    return {run: {tag: sorted(points.items()) for tag, points in tags.items()}
            for run, tags in runs.items()}


def _events(event_file):
    # tf.compat.v1.train.summary_iterator does the same with a deprecation warning.
    for record in tf.data.TFRecordDataset(str(event_file)):
        yield tf.compat.v1.Event.FromString(record.numpy())


def plot_curves(log_dir, path, title=None):
    """Draws every scalar under `log_dir` into the PNG `path`, one panel per tag.

    Runs (train, validation) share a panel; Keras' `epoch_` prefix is dropped
    from the titles. Returns `path`, or `None` when there is nothing to draw.
    """
    import matplotlib

    matplotlib.use("Agg")  # Scripts run without a display.
    import matplotlib.pyplot as plt

    scalars = read_scalars(log_dir)
    tags = sorted({tag for tags in scalars.values() for tag in tags})
    if not tags:
        return None
    columns = min(3, len(tags))
    rows = -(-len(tags) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3 * rows), squeeze=False)
    for axis, tag in zip(axes.flat, tags):
        for run, run_tags in sorted(scalars.items()):
            if tag in run_tags:
                steps, values = np.array(run_tags[tag]).T
                axis.plot(steps, values, marker="." if len(steps) < 20 else None, label=run)
        axis.set_title(tag.removeprefix("epoch_"), fontsize=10)
        axis.set_xlabel("epoch" if tag.startswith("epoch_") else "step", fontsize=8)
        if len(scalars) > 1:
            axis.legend(fontsize=7)
    for axis in list(axes.flat)[len(tags):]:
        axis.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
