"""A pre-training run's records: what it writes about itself in its folder and reads back.

`run_pretraining` (`training.pretrain`) decides from these whether a folder
holds a new, an unfinished or a finished run:

- `electra_config.json`, the recipe: saved when the run starts, and a resumed
  run must bring the same one (only `train_steps` may change), so it goes on
  training the way it began (`record_config`).
- `backup/`, Keras' `BackupAndRestore` state (`training.preemption.StepBackup`):
  the step an unfinished run resumes at (`backup_step`).
- `pretraining_summary.json`, written last: its `steps_done` marks the run
  finished (`write_summary`, `finished_steps`); it also holds the FLOPs and
  the last training and held-out metrics.

The vocabulary (`pretrain.prepare_vocabulary`) and a budget's steps
(`training.budget`) are recorded where they are made. A record that cannot be
read raises `model_dir.RunFolderError` naming the file and the fix, rather
than being taken for missing: the run would then train again over its
weights, or with another recipe.

Example:
```python
import pathlib
from electra_tf import ElectraConfig
from electra_tf.training import run_records

run = pathlib.Path("runs/tiny")
run.mkdir(parents=True)
config = ElectraConfig.from_preset("tiny")
run_records.record_config(run, config)  # a new run: saves electra_config.json
run_records.record_config(run, config.replace(train_steps=400))  # a resumed run may go further
run_records.backup_step(run, checkpoint_steps=100), run_records.finished_steps(run)  # -> (0, 0)
run_records.write_summary(run, steps=400, flops_per_step=2e8, history={"loss": [3.1, 2.4]},
                          eval_metrics={})
run_records.finished_steps(run)  # -> 400
```
"""

import json
import os
import pathlib

from electra_tf.config import ConfigError, ElectraConfig
from electra_tf.models.model_dir import (
    BACKUP_DIRNAME,
    CONFIG_FILENAME,
    SUMMARY_FILENAME,
    folder_error,
    read_json,
)
from electra_tf.training.preemption import StepBackup

# The fix for a damaged record of a run (its recipe, vocabulary, budget): the run
# resumes only with the ones it started with.
RESTORE_RECORD = "restore it from a copy of the run folder, or start a new --model_dir"


def record_config(model_dir, config, save_dir=None):
    """Refuses a config that differs from the run's in `model_dir`; saves it to `save_dir`.

    The other workers of a multi-worker run read `model_dir`'s config while the
    chief may be saving it: the chief leaves an unchanged config alone, and
    saves a changed one (a new `train_steps`) under a temporary name first, so
    a reader sees the old file or the new one, never a half-written one.
    """
    path = pathlib.Path(model_dir) / CONFIG_FILENAME
    target = pathlib.Path(save_dir or model_dir) / CONFIG_FILENAME
    saved = None
    if path.is_file():
        try:
            saved = ElectraConfig.from_dict(read_json(path, RESTORE_RECORD),
                                            source=CONFIG_FILENAME)
        except ConfigError as error:
            raise folder_error(path, f"holds an invalid config ({error})",
                               RESTORE_RECORD) from None
        if saved.replace(train_steps=config.train_steps) != config.replace(
            train_steps=config.train_steps
        ):
            raise folder_error(
                model_dir, f"holds a run with another config ({path})",
                "resume with the same config (only train_steps may change) or choose a new "
                "--model_dir")
    if saved == config and target == path:
        return
    partial = target.with_name(f".{target.name}.partial")
    config.save(partial)
    os.replace(partial, target)


def backup_step(model_dir, checkpoint_steps):
    """The step the backup of an unfinished run resumes at, or 0 when starting afresh."""
    epoch, batches = StepBackup.position(pathlib.Path(model_dir) / BACKUP_DIRNAME)
    return epoch * checkpoint_steps + batches


def write_summary(model_dir, *, steps, flops_per_step, history, eval_metrics):
    """`pretraining_summary.json`: its `steps_done` (`steps`) marks the run finished.

    `history` is the training metrics' values (`fit`'s history), of which the
    last of each is kept; `eval_metrics` the held-out ones.
    """
    summary = {
        "steps_done": steps,
        "flops_per_step": flops_per_step,
        "total_flops": steps * flops_per_step,
        "train_metrics": {name: float(values[-1]) for name, values in history.items()},
        "heldout_metrics": eval_metrics,
    }
    (pathlib.Path(model_dir) / SUMMARY_FILENAME).write_text(json.dumps(summary, indent=2) + "\n")


def finished_steps(model_dir):
    """Steps of the finished run in `model_dir` (its summary's `steps_done`), or 0.

    A summary that cannot be read is an error: taking the run for unfinished
    would train it again from step 0 over its saved weights.
    """
    path = pathlib.Path(model_dir) / SUMMARY_FILENAME
    if not path.exists():
        return 0
    fix = (f"restore it from a copy of the run folder, or continue the run's saved model in a "
           f"new --model_dir with --init_from {model_dir}")
    summary = read_json(path, fix)
    try:
        return int(summary["steps_done"])
    except (KeyError, TypeError, ValueError):
        raise folder_error(path, "holds no steps_done count", fix) from None
