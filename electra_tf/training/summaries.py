"""What a training run leaves for people to look at: TensorBoard summaries and a PNG of its curves.

`StepSummaries` writes a `fit`'s scalars by optimizer step as training goes:
each point is the metrics' value over the steps since the previous point
(not Keras' running mean since the epoch began), the learning rate, each
epoch's means under `epoch/<name>` and the validation metrics at the step
they were measured. `PretrainingSummaries` adds tokens per second, the
cumulative training FLOPs and, at every checkpoint, a text summary of a few sentences the way the
discriminator saw them. `read_scalars` reads any run's event files back and
`plot_curves` draws them, one panel per quantity, into a PNG.

Example:
```python
import tensorflow as tf
from electra_tf.training import summaries

with tf.summary.create_file_writer("logs/train").as_default():
    for step, loss in enumerate([3.0, 2.5, 2.1], start=1):
        tf.summary.scalar("loss", loss, step=step)
summaries.read_scalars("logs")  # -> {'train': {'loss': [(1, 3.0), (2, 2.5), (3, 2.1)]}}
summaries.plot_curves("logs", "curves.png")  # None if there were nothing to draw  # -> 'curves.png'
```
"""

import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

from electra_tf import inspection

TRAIN_RUN = "train"
VALIDATION_RUN = "validation"
# Where a training run's epoch means go, beside its per-step points: `epoch/loss`, ...
EPOCH_PREFIX = "epoch/"
TEXT_TAG = "replaced_tokens"
# What the commands name the PNG of a run's curves, in its model directory.
CURVES_FILENAME = "training_curves.png"
# Points per epoch when `StepSummaries` is not told how often to write.
POINTS_PER_EPOCH = 20


class StepSummaries(keras.callbacks.Callback):
    """TensorBoard scalars of a `fit`, under `log_dir/train` and `log_dir/validation`.

    Keras' `logs` at a batch's end hold running means since the epoch began,
    so curves drawn from them are flat within an epoch and jump where the
    next one starts. Every `every_steps` steps this writes, for each metric,
    its value over the steps since the previous point, from the metric's
    own state: Keras' metrics (means, accuracies, precision, recall, AUC, ...)
    and this package's add up totals and counts, so the state now minus the
    state at the previous point is the state of the steps in between, and the
    metric's result of it is their value, exact however the updates were
    weighted. With `every_steps=1` each point is the step's own value. A
    metric whose state did not change since the previous point, having
    counted nothing (the head of a multi-task model that no batch of its
    task reached; precision where nothing was predicted positive), gets no
    point there rather than a made-up 0.

    Also, at each point, `learning_rate`; at each epoch's end, the epoch's
    means (Keras' epoch logs) under `epoch/<name>` and the validation metrics
    (`val_<name>`) as `<name>` in the validation run. Every point is keyed
    by `optimizer.iterations`, which a checkpoint restores, so a resumed
    run's curves continue where they stopped.

    Args:
        log_dir: the run's TensorBoard directory.
        every_steps: steps between points; default: about 20 points an epoch.

    Example:
    ```python
    import keras
    import numpy as np
    from electra_tf.training.summaries import StepSummaries, read_scalars

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2, epochs=2, verbose=0,
              callbacks=[StepSummaries("logs", every_steps=1)])
    read_scalars("logs")["train"]["loss"]  # each step's own loss
    # -> [(1, ...), (2, ...), (3, ...), (4, ...), (5, ...), (6, ...), (7, ...), (8, ...)]
    read_scalars("logs")["train"]["epoch/loss"]  # -> [(4, ...), (8, ...)]
    ```
    """

    def __init__(self, log_dir, every_steps=None):
        super().__init__()
        self.log_dir = pathlib.Path(log_dir)
        self.every_steps = every_steps
        self._writers = {}
        self._epoch_closed = True  # until `fit` begins an epoch

    def on_train_begin(self, logs=None):
        if self.every_steps is None:
            self.every_steps = max(1, (self.params.get("steps") or 0) // POINTS_PER_EPOCH)
        self.every_steps = max(1, int(self.every_steps))
        self._carried = None  # the state of the steps since the last point, across an epoch's end
        self._last_point = (self._step(), time.perf_counter())

    def on_epoch_begin(self, epoch, logs=None):
        # Keras has just reset the metrics: the steps since the last point count from zero,
        # plus those the previous epoch ended with.
        self._base = _subtract(self._state(), self._carried) if self._carried else self._state()
        self._epoch_closed = False

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        if step % self.every_steps:
            return
        state, (last_step, last_time), now = self._state(), self._last_point, time.perf_counter()
        window = _subtract(state, self._base)
        self._base, self._last_point = state, (step, now)
        with self._writer(TRAIN_RUN).as_default(step=step):
            for name, value in self._results(window).items():
                tf.summary.scalar(name, value, description=self._description())
            tf.summary.scalar("learning_rate", self._learning_rate())
            self.write_point_scalars(step - last_step, now - last_time)

    def write_point_scalars(self, steps, seconds):
        """Writes a subclass's own scalars at a point, `steps` and `seconds` after the previous."""

    def on_test_begin(self, logs=None):
        # Validation inside `fit` resets and reuses the training metrics.
        self._close_epoch()

    def _close_epoch(self):
        """Keeps the state of the steps since the last point, once per epoch, before anything
        resets the metrics."""
        if self._epoch_closed:
            return  # not inside a `fit` epoch (an `evaluate` of its own), or done already
        self._carried = _subtract(self._state(), self._base)
        self._epoch_closed = True

    def on_epoch_end(self, epoch, logs=None):
        self._close_epoch()
        step = self._step()
        for name, value in (logs or {}).items():
            validation = name.startswith("val_")
            run, tag = (VALIDATION_RUN, name[4:]) if validation else (TRAIN_RUN, EPOCH_PREFIX + name)
            with self._writer(run).as_default(step=step):
                tf.summary.scalar(tag, float(value))
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _writer(self, run):
        if run not in self._writers:
            self._writers[run] = tf.summary.create_file_writer(str(self.log_dir / run))
        return self._writers[run]

    def _state(self):
        return [[np.array(variable) for variable in metric.variables]
                for metric in self.model.metrics]

    def _results(self, window):
        """`{name: value}` of each metric over `window` (its state's change), if it changed."""
        results = {}
        for metric, change in zip(self.model.metrics, window):
            if not any(np.any(value) for value in change):
                continue
            result = metric.stateless_result(change)
            result = result if isinstance(result, dict) else {metric.name: result}
            for name, value in result.items():
                # A compiled model's metrics nest a metric of several results (EntityF1's
                # precision, recall, F1) under its name.
                results.update(value if isinstance(value, dict) else {name: value})
        return {name: float(keras.ops.convert_to_numpy(value)) for name, value in results.items()}

    def _description(self):
        if self.every_steps == 1:
            return "each step's own value"
        return f"mean of the {self.every_steps} steps up to each point"

    def _step(self):
        return int(self.model.optimizer.iterations.numpy())

    def _learning_rate(self):
        # A LossScaleOptimizer (mixed_float16) wraps the one with the schedule.
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _subtract(state, base):
    """`state - base`, metric by metric; a metric `base` lacks (built since) counts from zero."""
    return [values if i >= len(base) or len(base[i]) != len(values)
            else [value - old for value, old in zip(values, base[i])]
            for i, values in enumerate(state)]


class PretrainingSummaries(StepSummaries):
    """`StepSummaries` of an `ElectraPretrainer.fit`, with its throughput and text.

    At each point also `tokens_per_second` (sequence positions, padding
    included, per second of training since the previous point) and, given
    `flops_per_step`, `flops`: the training FLOPs of every step so far (step x
    `flops_per_step`, the analytic count of `electra_tf.flops`); at the end
    of every epoch (checkpoint interval), when `tokenizer` and `sentences`
    are given, a text summary of `sentences` as the discriminator reads them
    (`inspection.to_markdown`).

    Args:
        log_dir: the run's TensorBoard directory.
        tokens_per_step: global batch size × sequence length.
        every_steps: steps between points.
        tokenizer, sentences: for the text summary.
        flops_per_step: training FLOPs of one step; None logs no `flops`.
    """

    def __init__(self, log_dir, tokens_per_step, every_steps=100, tokenizer=None, sentences=(),
                 flops_per_step=None):
        super().__init__(log_dir, every_steps)
        self.tokens_per_step = tokens_per_step
        self.tokenizer = tokenizer
        self.sentences = list(sentences)
        self.flops_per_step = flops_per_step

    def write_point_scalars(self, steps, seconds):
        tf.summary.scalar("tokens_per_second", steps * self.tokens_per_step / max(seconds, 1e-9))
        if self.flops_per_step is not None:
            tf.summary.scalar("flops", float(self._step() * self.flops_per_step))

    def on_epoch_end(self, epoch, logs=None):
        self._close_epoch()  # before the model reads the sentences
        if self.tokenizer is not None and self.sentences:
            views = inspection.replaced_token_view(self.model, self.tokenizer, self.sentences)
            with self._writer(TRAIN_RUN).as_default(step=self._step()):
                tf.summary.text(TEXT_TAG, inspection.to_markdown(views))
        super().on_epoch_end(epoch, logs)


def read_scalars(log_dir):
    """`{run: {tag: [(step, value), ...]}}` from the event files under `log_dir`.

    A run is a sub-directory (`train`, `validation`); steps are sorted and a
    step written twice (a run resumed from a checkpoint) keeps the value of
    the file written last.
    """
    return _read_scalars(log_dir)[0]


def _read_scalars(log_dir):
    """`(read_scalars(log_dir), {(run, tag): description})`, for the tags written with one."""
    files, descriptions = [], {}  # files: (time of the first summary, run, [(tag, step, value)])
    for event_file in pathlib.Path(log_dir).rglob("*tfevents*"):
        run = event_file.parent.relative_to(log_dir).as_posix()
        points, first = [], float("inf")
        for event in _events(event_file):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    first = min(first, event.wall_time)
                    points.append((value.tag, event.step, float(tf.make_ndarray(value.tensor))))
                    if value.metadata.summary_description:
                        descriptions[run, value.tag] = value.metadata.summary_description
        files.append((first, run, points))
    runs = {}
    for _, run, points in sorted(files, key=lambda file: file[0]):
        for tag, step, value in points:
            runs.setdefault(run, {}).setdefault(tag, {})[step] = value
    scalars = {run: {tag: sorted(points.items()) for tag, points in tags.items()}
               for run, tags in runs.items()}
    return scalars, descriptions


def _events(event_file):
    # tf.compat.v1.train.summary_iterator does the same with a deprecation warning.
    for record in tf.data.TFRecordDataset(str(event_file)):
        yield tf.compat.v1.Event.FromString(record.numpy())


def plot_curves(log_dir, path, title=None):
    """Draws every scalar under `log_dir` into the PNG `path`, one panel per quantity.

    Runs (train, validation) share a quantity's panel, and so do a run's epoch
    means (`epoch/<name>`), as dots at the step each epoch ended. A panel's
    title says what a point is where the run wrote that down (`StepSummaries`:
    "mean of the 10 steps up to each point"). Keras' `epoch_` prefix (runs its
    `TensorBoard` callback logged, by epoch) is dropped from the titles.
    Returns `path`, or `None` when there is nothing to draw.
    """
    import matplotlib

    matplotlib.use("Agg")  # Scripts run without a display.
    import matplotlib.pyplot as plt

    scalars, descriptions = _read_scalars(log_dir)
    quantities = sorted({tag.removeprefix(EPOCH_PREFIX) for tags in scalars.values() for tag in tags})
    if not quantities:
        return None
    columns = min(3, len(quantities))
    rows = -(-len(quantities) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for axis, quantity in zip(axes.flat, quantities):
        _draw_panel(axis, quantity, scalars, descriptions)
    for axis in list(axes.flat)[len(quantities):]:
        axis.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _draw_panel(axis, quantity, scalars, descriptions):
    """`quantity`'s curves from every run, its epoch means as dots, and what a point is."""
    notes, series = [], 0
    for run, tags in sorted(scalars.items()):
        for tag in (quantity, EPOCH_PREFIX + quantity):
            if tag not in tags:
                continue
            steps, values = np.array(tags[tag]).T
            if tag == quantity:
                axis.plot(steps, values, marker="." if len(steps) < 20 else None, label=run)
            else:
                axis.plot(steps, values, "o", markersize=4, label=f"{run}, epoch mean")
            series += 1
            if (run, tag) in descriptions:
                notes.append(f"{run}: {descriptions[run, tag]}")
    axis.set_title("\n".join([quantity.removeprefix("epoch_"), *notes]), fontsize=9)
    axis.set_xlabel("epoch" if quantity.startswith("epoch_") else "step", fontsize=8)
    if series > 1:
        axis.legend(fontsize=7)
