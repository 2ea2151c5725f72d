"""Pre-emption: SIGTERM saves the run at a step boundary, exits cleanly, and the same command
resumes from that step; the resumed run ends where an uninterrupted one does."""

import json
import logging
import re
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np

from test_pretrain_run import CHECKPOINT_STEPS, STEPS, _closed, corpus, env, script_args  # noqa: F401

from electra_tf.training.preemption import EXIT_CODE, StepBackup


def test_sigterm_saves_exits_and_the_same_command_resumes(corpus, tmp_path):
    model_dir = tmp_path / "run"
    first_checkpoint = model_dir / "checkpoints" / "ckpt-0001.weights.h5"
    process = subprocess.Popen(script_args(corpus, model_dir), env=env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if first_checkpoint.is_file() and _closed(first_checkpoint):
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before the signal"
    checkpoint_bytes = first_checkpoint.read_bytes()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == EXIT_CODE, stderr[-3000:]
    assert "Traceback" not in stderr
    saved = int(re.search(r"pre-empted \(SIGTERM\): saved the run at step (\d+)", stderr)[1])
    assert CHECKPOINT_STEPS <= saved < STEPS
    epoch, batches = StepBackup.position(model_dir / "backup")
    assert epoch * CHECKPOINT_STEPS + batches == saved

    second = subprocess.run(script_args(corpus, model_dir), env=env(), capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"resuming from the checkpoint at step {saved}" in second.stdout
    summary = json.loads((model_dir / "pretraining_summary.json").read_text())
    assert summary["steps_done"] == STEPS
    assert first_checkpoint.read_bytes() == checkpoint_bytes
    assert not (model_dir / "backup").exists()  # a finished run leaves no backup behind


# One process, deterministic ops, dropout 0.1: an uninterrupted run, then a run that signals
# itself mid-way through its second checkpoint interval, then the same call again, which
# resumes it, and a run from step 0 in a new folder. The last two build their pre-trainer as a
# relaunched process could: with other states of its dropout layers' random seed generators
# (Keras' weights files leave them out), so only restoring the backup's brings the resumed
# run back to the uninterrupted one's dropout masks, and the run from step 0 draws others.
PROGRAM = textwrap.dedent(
    """
    import json, os, signal, sys
    import keras
    import tensorflow as tf
    tf.config.experimental.enable_op_determinism()
    from electra_tf import ElectraConfig
    from electra_tf.training import pretrain
    from electra_tf.training.preemption import BACKUP_METADATA, TrainingPreempted, seed_states
    from electra_tf.training.pretrain import run_pretraining

    corpus, out = sys.argv[1], sys.argv[2]
    config = ElectraConfig.from_preset("tiny").replace(train_steps=12, batch_size=8, dropout=0.1)

    class SignalAtStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == 5:
                os.kill(os.getpid(), signal.SIGTERM)

    def run(model_dir, callbacks=()):
        keras.utils.set_random_seed(0)
        return run_pretraining(config, [corpus], model_dir, vocab_size=300, checkpoint_steps=4,
                               callbacks=list(callbacks), verbose=0)

    run(out + "/uninterrupted")
    try:
        run(out + "/preempted", [SignalAtStep()])
        raise SystemExit("the signal did not stop the run")
    except TrainingPreempted as stopped:
        saved = stopped.step
    with open(out + "/preempted/backup/" + BACKUP_METADATA) as metadata:
        seeds = json.load(metadata)["seed_generators"]

    build = pretrain._build_pretrainer
    def relaunched(*args, **kwargs):
        pretrainer = build(*args, **kwargs)
        for state in seed_states(pretrainer):
            state.assign(state + [1, 0])
        return pretrainer
    pretrain._build_pretrainer = relaunched
    resumed = run(out + "/preempted")
    run(out + "/restarted")
    print(json.dumps({"saved": saved, "resumed_steps": len(resumed.history["loss"]),
                      "seeds": seeds}))
    """
)


def test_a_preempted_run_with_dropout_ends_with_the_uninterrupted_runs_weights(corpus,
                                                                                tmp_path):
    result = subprocess.run([sys.executable, "-c", PROGRAM, str(corpus / "train.txt"),
                             str(tmp_path)], env=env(), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # Saved mid-interval (steps 5-8 form the second), so the resumed run first finishes it.
    assert CHECKPOINT_STEPS < report["saved"] < 2 * CHECKPOINT_STEPS
    # Keras "epochs" of the resumed run: the rest of the second interval, then the third.
    assert report["resumed_steps"] == 2
    # The backup holds the states of the dropout layers' seed generators (13 in `tiny`'s
    # generator and discriminator), each [seed, draws so far].
    assert len(report["seeds"]) == 13 and all(draws > 0 for _, draws in report["seeds"])
    uninterrupted = _datasets(tmp_path / "uninterrupted" / "task.weights.h5")
    resumed = _datasets(tmp_path / "preempted" / "task.weights.h5")
    assert uninterrupted.keys() == resumed.keys()
    # Weights, Adam's moments and step counter, the masking and sampling counters.
    assert any("optimizer" in name for name in resumed)
    for name, value in uninterrupted.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)
    # Without the backup's seed states (a run from step 0 with the relaunch's) the dropout
    # masks differ, and so do the weights (measured 3.7e-3; a resume without them: 2.7e-3).
    restarted = _datasets(tmp_path / "restarted" / "task.weights.h5")
    assert max(float(np.max(np.abs(restarted[name] - value)))
               for name, value in uninterrupted.items() if value.dtype.kind == "f") > 1e-3


def _datasets(h5_file):
    """Every array in a Keras weights file, by its path."""
    arrays = {}
    with h5py.File(h5_file, "r") as handle:
        handle.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
    return arrays


def test_fit_outside_the_main_thread_trains_without_preemption_saving(tmp_path, caplog):
    # Signal handlers can only be set from the main thread (notebook executors may run elsewhere).
    import threading

    import keras

    from electra_tf.training.preemption import SaveOnPreemption

    caplog.set_level(logging.WARNING, logger="electra_tf.training.preemption")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    backup = StepBackup(str(tmp_path / "backup"))
    errors = []

    def train():
        try:
            model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=4, epochs=1, verbose=0,
                      callbacks=[SaveOnPreemption(backup)])
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)

    thread = threading.Thread(target=train)
    thread.start()
    thread.join(timeout=120)
    assert not errors, errors
    assert int(model.optimizer.iterations.numpy()) == 2
    assert "pre-emption saving is off" in caplog.text
