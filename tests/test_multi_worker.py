"""Two real `MultiWorkerMirroredStrategy` workers on 127.0.0.1, each its own process.

Workers run `run_pretraining` / `run_finetuning` (what `electra-pretrain` and
`electra-finetune --strategy multi_worker` run) on the `tiny` config. They must end with
identical weights, equal (within 1e-6) to one process training on the same global
batch with two replicas (`MirroredStrategy` over two logical CPUs: the same split of every
batch, the same per-replica random streams), and only the chief may write the run folder. A
SIGTERM to one worker must make both save at the same step and exit, and the relaunched
workers must resume from that step (not start over) and end with the variables of the
uninterrupted two-worker run (dropout on: the states of the dropout layers' seed generators
resume too; without them the first array compared was 1.7e-4 off). Processes are always
cleaned up, and every launch is bounded in time.
"""

import json
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from test_preemption import _datasets
from test_pretrain_run import _logged_steps, corpus, env  # noqa: F401

from electra_tf.compat.multi_worker import KERAS_VERSIONS
from electra_tf.training.preemption import EXIT_CODE, StepBackup

TIMEOUT = 420
# Every process these tests start runs its ops on one thread: two or three of them share a
# CI machine's two cores, and TensorFlow's default pools (a thread per core each) spin for
# work the other processes hold (measured on a loaded machine: the file took 304 CPU seconds
# with the default pools, 229 with one thread).
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1"}

# The pre-training runs: STEPS steps in checkpoint intervals of CHECKPOINT_STEPS.
STEPS, CHECKPOINT_STEPS = 9, 4
# Under the strategy argv[1] names: pre-trains `tiny` for argv[5] steps on a text file, or
# fine-tunes a classifier (random `tiny` encoder) for 2 epochs on a TSV file. argv[4] is
# "signal" (worker 1 sends itself SIGTERM after step 4), "relaunch" (the pre-trainer is built
# with other initial weights than a first launch's: only restoring the backup can bring it
# back to the first launch's path) or "no-signal". Prints the sum of every weight of the
# freshly built pre-trainer and of the final model, or the step a pre-emption saved at.
PROGRAM = textwrap.dedent(
    """
    import logging, os, signal, sys
    import numpy as np
    strategy_name, data, model_dir, send_signal, steps, checkpoint_steps = sys.argv[1:7]
    import tensorflow as tf
    if strategy_name == "mirrored":  # one process, two replicas
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from electra_tf import ElectraClassifier, ElectraConfig
    from electra_tf.config import FinetuneConfig
    from electra_tf.training.distribute import strategy_from_name
    from electra_tf.training.finetune import FinetuneSpec, run_finetuning
    from electra_tf.training import pretrain
    from electra_tf.training.preemption import EXIT_CODE, TrainingPreempted
    logging.basicConfig(level=logging.INFO, stream=sys.stdout)

    def checksum(model):
        return repr(sum(float(np.sum(w.numpy(), dtype="float64")) for w in model.weights))

    def report(model):
        print("weights checksum", checksum(model))

    build = pretrain._build_pretrainer

    def build_and_report(*args, **kwargs):
        pretrainer = build(*args, **kwargs)
        if send_signal == "relaunch":
            for weight in pretrainer.trainable_weights:
                weight.assign(weight + 0.01)
        print("initial checksum", checksum(pretrainer))
        return pretrainer

    pretrain._build_pretrainer = build_and_report

    class SignalAfterStep4(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == 4:
                os.kill(os.getpid(), signal.SIGTERM)

    # Before any other op: collective ops are configured when the strategy is made.
    strategy = strategy_from_name(strategy_name)
    worker = getattr(getattr(strategy, "cluster_resolver", None), "task_id", 0)
    keras.utils.set_random_seed(0)  # the same initial weights in every process
    if data.endswith(".tsv"):
        # Every worker saves (the others into a folder removed afterwards): report there.
        save = ElectraClassifier.save_to_preset
        ElectraClassifier.save_to_preset = lambda self, path: (report(self), save(self, path))
        run_finetuning(FinetuneSpec(
            task="classification", model_dir=model_dir, train_file=data, dev_file=data,
            config="tiny", vocab_size=60, recipe=FinetuneConfig(
                epochs=2, batch_size=8, sequence_length=16, learning_rate=1e-3, dropout=0.0)),
            strategy)
    else:
        # Dropout on: its masks are drawn per replica, and must resume where they were.
        config = ElectraConfig.from_preset("tiny").replace(train_steps=int(steps), batch_size=8,
                                                           dropout=0.1)
        callbacks = [SignalAfterStep4()] if send_signal == "signal" and worker == 1 else []
        try:
            result = pretrain.run_pretraining(config, [data], model_dir, vocab_size=300,
                                              checkpoint_steps=int(checkpoint_steps),
                                              strategy=strategy, verbose=0, callbacks=callbacks)
        except TrainingPreempted as stopped:
            print("preempted at", stopped.step)
            sys.exit(EXIT_CODE)
        report(result.pretrainer)
    """
)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _launch_workers(*args):
    """Runs `PROGRAM args` as two MultiWorkerMirroredStrategy workers; `[(returncode,
    stdout, stderr)]`, the processes killed if they outlive `TIMEOUT`."""
    ports = _free_ports(2)
    workers = []
    try:
        for index in range(2):
            config = {"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                      "task": {"type": "worker", "index": index}}
            workers.append(subprocess.Popen(
                [sys.executable, "-c", PROGRAM, "multi_worker", *args, str(CHECKPOINT_STEPS)],
                env={**env(), **ONE_THREAD, "TF_CONFIG": json.dumps(config)},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [worker.communicate(timeout=TIMEOUT) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return [(worker.returncode, *output) for worker, output in zip(workers, outputs)]


def _one_process_with_two_replicas(*args):
    result = subprocess.run([sys.executable, "-c", PROGRAM, "mirrored", *args,
                             str(CHECKPOINT_STEPS)],
                            env={**env(), **ONE_THREAD}, capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _checksum(output, what="weights"):
    """The sum of every weight a worker reported: of its final model (`what="weights"`) or of
    the pre-trainer as built, before any training or restoring (`what="initial"`)."""
    return float([line for line in output.splitlines()
                  if line.startswith(f"{what} checksum")][0].split()[-1])


def _assert_same_run(folder, reference, weights_file):
    """`folder` (the chief's) holds what one process wrote in `reference`, with its weights."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in reference.iterdir())
    ours, theirs = _datasets(folder / weights_file), _datasets(reference / weights_file)
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        # Measured: <= 4e-9 (pre-training), <= 2e-8 (fine-tuning). Absolute: Adam's moments
        # near zero differ by far more than 1e-4 relatively at that size.
        np.testing.assert_allclose(ours[name], value, rtol=0, atol=1e-6, err_msg=name)


def test_the_pinned_keras_is_the_one_the_workarounds_were_checked_on():
    assert keras.__version__.startswith(KERAS_VERSIONS), (
        f"Keras {keras.__version__}: re-check electra_tf/compat/multi_worker.py's workarounds "
        "(keras-team/keras#20585) with tests/test_multi_worker.py, then update KERAS_VERSIONS.")


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory):
    """Two workers pre-training `tiny` for STEPS steps without interruption: the chief's run
    folder and each worker's `(returncode, stdout, stderr)`."""
    folder = tmp_path_factory.mktemp("uninterrupted") / "workers"
    outputs = _launch_workers(str(corpus / "train.txt"), str(folder), "no-signal", str(STEPS))
    for returncode, _, stderr in outputs:
        assert returncode == 0, stderr[-3000:]
    return folder, outputs


def test_two_pretraining_workers_train_like_one_process(corpus, uninterrupted, tmp_path):
    folder, outputs = uninterrupted
    assert "reads its share of the input by example" in outputs[0][1]
    sums = [_checksum(out) for _, out, _ in outputs]
    assert sums[0] == sums[1]  # both workers hold the same weights
    reference = _one_process_with_two_replicas(str(corpus / "train.txt"), str(tmp_path / "one"),
                                               "no-signal", str(STEPS))
    np.testing.assert_allclose(sums[0], _checksum(reference), rtol=1e-6)
    _assert_same_run(folder, tmp_path / "one", "task.weights.h5")


def test_a_preempted_two_worker_run_resumes_and_ends_where_the_uninterrupted_one_does(
        corpus, uninterrupted, tmp_path):
    folder = tmp_path / "run"
    args = [str(corpus / "train.txt"), str(folder)]
    first = _launch_workers(*args, "signal", str(STEPS))
    for returncode, _, stderr in first:
        assert returncode == EXIT_CODE, stderr[-3000:]
    steps = {int(out.split("preempted at")[1].split()[0]) for _, out, _ in first}
    assert len(steps) == 1  # both saved at the same step
    saved = steps.pop()
    assert 4 < saved < STEPS
    assert StepBackup.position(folder / "backup") == divmod(saved, CHECKPOINT_STEPS)
    events_before = set((folder / "logs").rglob("*tfevents*"))

    second = _launch_workers(*args, "relaunch", str(STEPS))
    for returncode, _, stderr in second:
        assert returncode == 0, stderr[-3000:]
    # A resume, not a restart: both workers start from the saved step, and the steps the
    # relaunch trained (the chief's TensorBoard points, one per step) are the ones after it.
    for _, out, _ in second:
        assert f"resuming from the checkpoint at step {saved}" in out
    new_events = sorted(set((folder / "logs").rglob("*tfevents*")) - events_before)
    trained = sorted(step for event_file in new_events for step in _logged_steps(event_file)[0])
    assert trained == list(range(saved + 1, STEPS + 1))
    assert json.loads((folder / "pretraining_summary.json").read_text())["steps_done"] == STEPS

    # The relaunch built other initial weights than the first launch (a restart from zero would
    # train from those), yet ends with every variable of the uninterrupted run: weights,
    # Adam's moments and step, the masking and sampling counters; the dropout layers' seed
    # generators, restored from the backup's metadata, draw the uninterrupted run's masks.
    assert _checksum(second[0][1], "initial") != _checksum(first[0][1], "initial")
    sums = [_checksum(out) for _, out, _ in second]
    assert sums[0] == sums[1]
    resumed = _datasets(folder / "task.weights.h5")
    reference = _datasets(uninterrupted[0] / "task.weights.h5")
    assert resumed.keys() == reference.keys()
    assert any("optimizer" in name for name in resumed)
    assert any("seed_stream" in name for name in resumed)
    for name, value in reference.items():
        np.testing.assert_allclose(resumed[name], value, rtol=0, atol=1e-6, err_msg=name)


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    """A TSV a tiny classifier learns: the label is in the last character."""
    path = tmp_path_factory.mktemp("sentiment") / "train.tsv"
    rng = np.random.default_rng(0)
    filler = list("的了在是和有去看说")
    rows = [f"{label}\t{''.join(rng.choice(filler, 4))}{'差好'[label]}"
            for label in rng.integers(2, size=32)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_two_finetuning_workers_train_like_one_process(sentiment, tmp_path):
    outputs = _launch_workers(str(sentiment), str(tmp_path / "workers"), "no-signal", "0")
    for returncode, _, stderr in outputs:
        assert returncode == 0, stderr[-3000:]
    sums = [_checksum(out) for _, out, _ in outputs]
    assert sums[0] == sums[1]
    reference = _one_process_with_two_replicas(str(sentiment), str(tmp_path / "one"),
                                               "no-signal", "0")
    np.testing.assert_allclose(sums[0], _checksum(reference), rtol=1e-6)
    _assert_same_run(tmp_path / "workers", tmp_path / "one", "model.weights.h5")


def test_the_tpu_strategy_without_a_tpu_says_what_to_give():
    # No TPU here: what a user sees who asks for one on the wrong machine.
    from electra_tf.training.distribute import strategy_from_name

    with pytest.raises(RuntimeError, match="found no TPU at this machine .*--tpu"):
        strategy_from_name("tpu")
