"""Pre-training budgets: FLOPs or minutes, turned into a step count once, when a run starts.

`run_pretraining(budget_flops=...)` divides the budget by the analytic
training FLOPs of one step (`electra_tf.flops`); `budget_minutes=...` by
the measured seconds of one step (`measure_seconds_per_step`: the compiled
train step timed on the run's own input after warm-up steps, in a
throwaway copy of the model so the run itself starts untouched). The steps
replace the config's `train_steps`, so the linear decay brings the learning
rate to zero at the budget's end; a warmup as long as the run shrinks to
10% of it. A minutes budget counts training steps only: the measurement,
checkpoints, summaries and evaluation come on top.

The conversion is written to `budget.json` in the run folder (the budget
asked, FLOPs per step, measured seconds per step, the steps it gave, the
warmup, when). A resumed or pre-empted run reads its steps there and
measures nothing, so it stops at the same step and resumes exactly; a
different budget (or none) for that folder is refused.

Example:
```python
from electra_tf import ElectraConfig
from electra_tf.training.budget import resolve_budget

config = ElectraConfig.from_preset("tiny")  # 200 steps, warmup 20
config, record = resolve_budget("runs/budget", config, flops_per_step=2e8, budget_flops=1e10)
config.train_steps, config.warmup_steps  # -> (50, 20)
record["train_steps"]  # also in runs/budget/budget.json  # -> 50
```
"""

import datetime
import json
import logging
import math
import pathlib
import time

import keras

from electra_tf.models.model_dir import CONFIG_FILENAME, describe_error, folder_error, read_json

BUDGET_FILENAME = "budget.json"
# Steps run before timing (the first traces and compiles the train step), and steps timed.
MEASURE_WARMUP_STEPS = 2
MEASURED_STEPS = 5
# Share of a budget's steps the warmup keeps when the config's warmup does not fit in them.
WARMUP_FRACTION = 0.1

log = logging.getLogger(__name__)


def check_budget(budget_flops=None, budget_minutes=None):
    """`{"budget_flops": ..., "budget_minutes": ...}` (one of them None) for a valid budget,
    None for no budget; raises ValueError for both or for a value that is not positive."""
    if budget_flops is None and budget_minutes is None:
        return None
    if budget_flops is not None and budget_minutes is not None:
        raise ValueError(
            f"give budget_flops ({budget_flops}) or budget_minutes ({budget_minutes}), not both: "
            "a run's length is set by one of them.")
    for name, value in (("budget_flops", budget_flops), ("budget_minutes", budget_minutes)):
        if value is not None and not (isinstance(value, (int, float)) and 0 < value < math.inf):
            raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return {"budget_flops": None if budget_flops is None else float(budget_flops),
            "budget_minutes": None if budget_minutes is None else float(budget_minutes)}


def budget_config(config, train_steps):
    """`config` trained for `train_steps`, its warmup cut to `WARMUP_FRACTION` of them when it
    would not end before the last step (the schedule must decay, to zero at the end)."""
    warmup_steps = config.warmup_steps
    if warmup_steps >= train_steps:
        warmup_steps = int(train_steps * WARMUP_FRACTION)
    return config.replace(train_steps=train_steps, warmup_steps=warmup_steps)


def resolve_budget(model_dir, config, flops_per_step, *, budget_flops=None, budget_minutes=None,
                   measure=None, save_dir=None):
    """`(config, record)`: `config` with the budget's steps and the `budget.json` record, or
    `(config, None)` without a budget.

    A run folder that has a `budget.json` gives its recorded steps (the same
    budget must be asked); otherwise a FLOPs budget is divided by
    `flops_per_step`, and a minutes budget by `measure()`, a function that
    returns the seconds of one step. The record goes to `save_dir` (default
    `model_dir`).
    """
    model_dir = pathlib.Path(model_dir)
    asked = check_budget(budget_flops, budget_minutes)
    path = model_dir / BUDGET_FILENAME
    if path.is_file():
        record, recorded = _read_record(path)
        if asked != recorded:
            raise folder_error(
                model_dir, f"holds a run with a budget of {describe(recorded)} ({path})",
                f"resume it with the same budget (asked: {describe(asked)}), or choose a new "
                "--model_dir")
        log.info("budget of %s: %d steps, as recorded in %s", describe(asked), record["train_steps"],
                 path)
    elif asked is None:
        return config, None
    elif (model_dir / CONFIG_FILENAME).is_file():
        raise folder_error(
            model_dir, f"holds a run started without a budget ({model_dir / CONFIG_FILENAME})",
            "resume it without budget_flops / budget_minutes, or choose a new --model_dir for a "
            f"budget of {describe(asked)}")
    else:
        record = _new_record(asked, config, flops_per_step, measure)
        save_dir = pathlib.Path(save_dir or model_dir)
        save_dir.mkdir(parents=True, exist_ok=True)
        (save_dir / BUDGET_FILENAME).write_text(json.dumps(record, indent=2) + "\n")
        log.info("budget of %s: %d steps of %.3g FLOPs%s (recorded in %s)", describe(asked),
                 record["train_steps"], flops_per_step,
                 f" and {record['seconds_per_step']:.3g} s" if record["seconds_per_step"] else "",
                 save_dir / BUDGET_FILENAME)
    return budget_config(config, record["train_steps"]), record


def _read_record(path):
    """`(record, budget)`: the `budget.json` at `path` and the budget it was made for (as
    `check_budget` gives it); a `model_dir.RunFolderError` when it cannot be read."""
    fix = "restore it from a copy of the run folder, or start a new --model_dir"
    record = read_json(path, fix)
    try:
        budget = check_budget(record["budget_flops"], record["budget_minutes"])
        record["train_steps"] = int(record["train_steps"])
    except (KeyError, TypeError, ValueError) as error:
        raise folder_error(path, f"holds no valid budget record ({describe_error(error)})",
                           fix) from None
    return record, budget


def describe(budget):
    """A budget as people read it: `"1e+15 FLOPs"`, `"60 minutes"` or `"none"`."""
    if budget is None:
        return "none"
    if budget["budget_flops"] is not None:
        return f"{budget['budget_flops']:.4g} FLOPs"
    return f"{budget['budget_minutes']:g} minutes"


def _new_record(asked, config, flops_per_step, measure):
    seconds_per_step = None
    if asked["budget_flops"] is not None:
        steps = int(asked["budget_flops"] // flops_per_step)
        cost = f"{flops_per_step:.4g} FLOPs"
    else:
        if measure is None:
            raise ValueError("a budget in minutes needs measure=: a function timing one step.")
        seconds_per_step = float(measure())
        steps = int(asked["budget_minutes"] * 60 // seconds_per_step)
        cost = f"{seconds_per_step:.3g} s"
    if steps < 1:
        raise ValueError(
            f"a budget of {describe(asked)} is less than one step ({cost} here); raise the "
            "budget, or make the batch, the sequences or the model smaller.")
    return {
        **asked,
        "flops_per_step": flops_per_step,
        "seconds_per_step": seconds_per_step,
        "measurement": None if seconds_per_step is None else (
            f"mean wall time of {MEASURED_STEPS} steps of the compiled train step (fit on the "
            f"run's input, no callbacks) after {MEASURE_WARMUP_STEPS} warm-up steps"),
        "train_steps": steps,
        "warmup_steps": budget_config(config, steps).warmup_steps,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def measure_seconds_per_step(model, dataset, warmup_steps=MEASURE_WARMUP_STEPS,
                             steps=MEASURED_STEPS):
    """Mean wall-clock seconds of `steps` training steps of the compiled `model` on `dataset`,
    after `warmup_steps` (the first traces and compiles the step). It trains `model`: pass a
    copy whose weights do not matter.

    Example:
    ```python
    import keras, tensorflow as tf
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    batches = tf.data.Dataset.from_tensors((tf.ones((8, 4)), tf.ones((8, 1)))).repeat()
    0 < measure_seconds_per_step(model, batches) < 0.5  # a few milliseconds  # -> True
    ```
    """
    if warmup_steps < 1 or steps < 1:
        raise ValueError(f"warmup_steps and steps must be >= 1 (the first step compiles), got "
                         f"{warmup_steps} and {steps}.")
    timer = _StepEnds()
    model.fit(dataset, epochs=1, steps_per_epoch=warmup_steps + steps, callbacks=[timer],
              verbose=0, shuffle=False)
    return (timer.times[-1] - timer.times[warmup_steps - 1]) / steps


class _StepEnds(keras.callbacks.Callback):
    """The wall-clock time at the end of every training step."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        # Reading the step counter waits for the step's ops to finish.
        self.model.optimizer.iterations.numpy()
        self.times.append(time.perf_counter())
