"""Pre-emption: on SIGTERM, save at the next step boundary and stop `fit` cleanly.

Cloud VMs and Kubernetes send SIGTERM some seconds before they take a machine
away. TensorFlow's `tf.distribute.experimental.PreemptionCheckpointHandler`
catches it (and, across workers, agrees on the step to save at); here its
`save_fn` writes Keras' own `BackupAndRestore` files with the position inside
the checkpoint interval, and its `exit_fn` raises `TrainingPreempted` out of
`fit` (stopping it the polite way, `stop_training`, would still run the
epoch-end callbacks, which would save the half-done interval as a finished
one). The same command run again resumes from that step: weights, optimizer state, step counter, learning-rate schedule position,
masking and sampling streams, dropout's random streams (the states of the
Keras `SeedGenerator`s of the model's layers, which Keras' weights files leave
out: `StepBackup` keeps them in the backup's metadata), and the input (the
pipeline skips what was trained on).

On GCP CPU and TPU VMs TensorFlow's handler declines to act (it logs so); a
run there resumes from its last checkpoint interval, as after a kill.

Example:
```python
import keras
from electra_tf.training.preemption import SaveOnPreemption, StepBackup

backup = StepBackup("runs/tiny/backup")
callbacks = [backup, SaveOnPreemption(backup, first_step=0, steps_per_epoch=100)]
# model.fit(..., steps_per_epoch=100, callbacks=callbacks)
backup.restore_from  # resumes from its own folder unless told otherwise  # -> 'runs/tiny/backup'
```
"""

import json
import logging
import os
import pathlib
import shutil
import signal
import tempfile
import threading

import keras
import numpy as np
import tensorflow as tf

from electra_tf import compat
from electra_tf.models.model_dir import (
    RunFolderError,
    check_weights_file,
    describe_error,
    folder_error,
    read_json,
)

# What a process killed by SIGTERM returns, and TensorFlow's "restart me" code
# on GCE (failure_handling_util._RESTARTABLE_EXIT_CODE).
EXIT_CODE = 143
# Keras' `BackupAndRestore` files; with `double_checkpoint` each has a `.bkp` copy of
# the interval before.
BACKUP_WEIGHTS = "latest.weights.h5"
BACKUP_METADATA = "training_metadata.json"
# The key of the metadata that holds the states of the model's random seed generators.
SEED_STATES_KEY = "seed_generators"

log = logging.getLogger(__name__)


class TrainingPreempted(RuntimeError):
    """Training stopped on a pre-emption signal after saving; run it again to resume."""

    def __init__(self, step, backup_dir):
        super().__init__(
            f"pre-empted (SIGTERM): saved the run at step {step} in {backup_dir}; run the same "
            "command again to resume from there.")
        self.step = step


class StepBackup(compat.AfterBackupSaved, keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore`, which can also save in the middle of an epoch.

    `save_at(epoch, batches)` writes the same files `BackupAndRestore` writes at
    an epoch's end, recording `batches` done in `epoch`; `position(backup_dir)`
    reads them back. Keras restores the weights (optimizer included) and the
    epoch; finishing the epoch from `batches` is the caller's part (Keras
    starts epochs at their first batch). Saving mid-epoch uses Keras'
    private attributes (`electra_tf.compat.save_backup`).

    `restore_from` (default: `backup_dir`) is where it resumes from: a
    multi-worker run's other workers resume from the chief's backup and
    write their own elsewhere.

    Keras' weights files hold a model's weights and its optimizer, not the
    states of its layers' random seed generators (`keras.random.SeedGenerator`,
    one per `Dropout` and attention-dropout layer), so a run resumed from
    them alone would draw other dropout masks than the uninterrupted run.
    Every save here adds those states to the metadata Keras writes beside the
    weights (`training_metadata.json`, under `"seed_generators"`), and a
    restore puts them back after Keras has loaded the weights. Keras' own
    fallback to the interval before (`.bkp` files) copies the metadata with
    its weights, so the states always belong to the weights restored.
    """

    def __init__(self, backup_dir, restore_from=None, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.restore_from = str(restore_from or backup_dir)

    def on_train_begin(self, logs=None):
        try:
            if pathlib.Path(self.restore_from) != pathlib.Path(self.backup_dir):
                chief = keras.callbacks.BackupAndRestore(self.restore_from,
                                                         delete_checkpoint=False)
                chief.set_model(self.model)
                chief.on_train_begin(logs)
            super().on_train_begin(logs)
        except (OSError, ValueError, KeyError) as error:
            raise folder_error(
                pathlib.Path(self.restore_from) / BACKUP_WEIGHTS,
                f"does not load into this run's model ({describe_error(error)}): it is damaged, "
                "or the model was built from another config or vocabulary than the backup's",
                repair_backup(self.restore_from)) from error
        # The metadata of the weights Keras loaded last: this backup's own, else the chief's.
        for backup_dir in (self.backup_dir, self.restore_from):
            if (pathlib.Path(backup_dir) / BACKUP_METADATA).is_file():
                self._restore_seed_states(pathlib.Path(backup_dir))
                break

    def backup_saved(self, epoch, batches):
        # Keras has written the weights, then {"epoch", "batch"}: the metadata again, with the
        # seed generators' states, through a temporary file so that it is always whole.
        path = pathlib.Path(self.backup_dir) / BACKUP_METADATA
        metadata = {"epoch": epoch, "batch": batches,
                    SEED_STATES_KEY: [state.numpy().tolist() for state in seed_states(self.model)]}
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(metadata))
        os.replace(partial, path)

    def _restore_seed_states(self, backup_dir):
        metadata_file = backup_dir / BACKUP_METADATA
        saved = read_json(metadata_file, repair_backup(backup_dir)).get(SEED_STATES_KEY)
        states = seed_states(self.model)
        if saved is None:  # a backup written before the states were saved
            log.info("%s holds no random seed states: dropout masks from here on differ from "
                     "those of an uninterrupted run", metadata_file)
            return
        try:
            values = [np.asarray(value, dtype=state.dtype) for value, state in zip(saved, states)]
            if len(saved) != len(states) or any(
                    value.shape != tuple(state.shape) for value, state in zip(values, states)):
                raise ValueError(f"{len(saved)} states for the model's {len(states)}")
        except (TypeError, ValueError) as error:
            raise folder_error(
                metadata_file, f"holds random seed states that do not fit this run's model "
                f"({describe_error(error)})", repair_backup(backup_dir)) from None
        for state, value in zip(states, values):
            state.assign(value)

    def save_at(self, epoch, batches):
        compat.save_backup(self, epoch, batches)

    @staticmethod
    def position(backup_dir):
        """`(epoch, batches done in it)` of the backup in `backup_dir`; `(0, 0)` if none.

        The position of the weights Keras restores: a process killed while
        writing them leaves them unreadable, and Keras then restores the copy of
        the interval before, whose position is in the metadata's copy. A backup
        that cannot be resumed from (its position or weights unreadable, no
        copy to fall back on) raises a `model_dir.RunFolderError` saying how to
        repair it.
        """
        backup_dir = pathlib.Path(backup_dir)
        metadata_file = backup_dir / BACKUP_METADATA
        if not metadata_file.exists():
            return 0, 0
        fix = repair_backup(backup_dir)
        weights = backup_dir / BACKUP_WEIGHTS
        if not _readable(weights) and _readable(backup_dir / f"{BACKUP_WEIGHTS}.bkp"):
            metadata_file = backup_dir / f"{BACKUP_METADATA}.bkp"
        else:
            check_weights_file(weights, fix)
        metadata = read_json(metadata_file, fix)
        try:
            return int(metadata["epoch"]), int(metadata.get("batch") or 0)
        except (KeyError, TypeError, ValueError):
            raise folder_error(metadata_file, "holds no training position (epoch, batch)",
                               fix) from None


def seed_states(model):
    """The state variables of `model`'s random seed generators, in the order of its layers.

    Keras' `model.variables` are its weights (`model.weights`, what weights
    files save) and the state of every `keras.random.SeedGenerator` its layers
    hold (dropout's masks are drawn from them).
    """
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def _readable(weights):
    """Whether `weights` is a readable weights file."""
    try:
        check_weights_file(weights)
    except RunFolderError:
        return False
    return True


def repair_backup(backup_dir):
    """What to do about a damaged backup in `backup_dir`."""
    return (f"to resume from the checkpoint interval before, copy {BACKUP_WEIGHTS}.bkp over "
            f"{BACKUP_WEIGHTS} and {BACKUP_METADATA}.bkp over {BACKUP_METADATA} in {backup_dir} "
            f"(where they exist); or delete {backup_dir} to train the run again from step 0")


class SaveOnPreemption(keras.callbacks.Callback):
    """Saves `backup` at the step boundary after a SIGTERM, then raises `TrainingPreempted`.

    `first_step` is the run's step `fit` starts at and `steps_per_epoch` the
    steps of a whole epoch (a checkpoint interval), so the backup records the
    run's position even when this `fit` began inside an epoch. The process's
    own SIGTERM handler is put back when training ends.
    """

    def __init__(self, backup: StepBackup, first_step=0, steps_per_epoch=None):
        super().__init__()
        self.backup = backup
        self.first_step = first_step
        self.steps_per_epoch = steps_per_epoch
        self._handler = None

    def on_train_begin(self, logs=None):
        self._step = self.first_step
        if threading.current_thread() is not threading.main_thread():
            log.warning("pre-emption saving is off: signal handlers can only be set from the "
                        "main thread, and fit runs in another.")
            return
        self._previous_handler = signal.getsignal(signal.SIGTERM)
        # Callbacks run outside the strategy's scope: ask the model which it was built in.
        strategy = self.model.distribute_strategy
        self._checkpoint_dir = tempfile.mkdtemp(prefix="electra_tf-preemption-")
        self._handler = tf.distribute.experimental.PreemptionCheckpointHandler(
            getattr(strategy, "cluster_resolver", None),  # multi-worker strategies have one
            # The handler needs a checkpoint to manage; `save_fn` replaces its saving.
            tf.train.Checkpoint(),
            checkpoint_dir=self._checkpoint_dir,
            termination_config=tf.distribute.experimental.TerminationConfig(
                save_fn=self._save, exit_fn=self._stop),
        )

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._handler is not None:
            # Its saving path logs a deprecation notice about its own counter.
            logger, level = tf.get_logger(), tf.get_logger().level
            logger.setLevel(logging.ERROR)
            try:
                self._handler.save_checkpoint_if_preempted()
            finally:
                logger.setLevel(level)

    def on_train_end(self, logs=None):
        self._release()

    def _release(self):
        if self._handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._handler = None
            shutil.rmtree(self._checkpoint_dir, ignore_errors=True)

    def _save(self):
        steps_per_epoch = self.steps_per_epoch or self.params["steps"]
        self.backup.save_at(*divmod(self._step, steps_per_epoch))

    def _stop(self):
        self._release()
        raise TrainingPreempted(self._step, self.backup.backup_dir)
