"""End to end: scripts/pretrain.py on a small corpus, killed and resumed."""

import json
import logging
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import types
import warnings

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.data.masking import DynamicMasking
from electra_tf.data.pretraining import pretraining_dataset
from electra_tf.flops import pretraining_flops_per_step
from electra_tf.models.model_dir import load_weights_file
from electra_tf.training import budget, pretrain, summaries
from electra_tf.training.guards import NonFiniteLossError
from electra_tf.training.pretrain import (
    _fit_segments,
    evaluate_pretrainer,
    prepare_vocabulary,
    run_pretraining,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "pretrain.py"
LINES = [
    "今天天气很好，我们去公园散步。", "明天可能下雨，记得带伞。", "",
    "the weather is nice today and we walk in the park.", "tomorrow it may rain.", "",
    "人民日报发表新年献词。", "国家主席发表讲话，祝贺新年。", "",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    (directory / "train.txt").write_text("\n".join(LINES * 30) + "\n", encoding="utf-8")
    (directory / "heldout.txt").write_text("\n".join(LINES[:5]) + "\n", encoding="utf-8")
    return directory


def script_args(corpus, model_dir, train_steps=12):
    return [
        sys.executable, str(SCRIPT), "--config", "tiny",
        "--input_files", str(corpus / "train.txt"), "--heldout_files", str(corpus / "heldout.txt"),
        "--model_dir", str(model_dir), "--vocab_size", "300", "--train_steps", str(train_steps),
        "--checkpoint_steps", "4", "--batch_size", "8", "--eval_steps", "2",
    ]


def env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}


STEPS, CHECKPOINT_STEPS = 12, 4  # as script_args gives them: three "epochs" of four steps


def _backed_up_epochs(metadata):
    """Epochs BackupAndRestore has saved (0 before the first, or while the file is written)."""
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _closed(h5_file):
    """True once the writer has closed `h5_file`: HDF5 locks a file open for writing."""
    try:
        with h5py.File(h5_file, "r") as handle:
            return bool(list(handle))
    except OSError:
        return False


def _logged_steps(event_file):
    """The steps one process logged its `loss` scalar and its replaced-token text at."""
    losses, texts = [], []
    for event in tf.compat.v1.train.summary_iterator(str(event_file)):
        for value in event.summary.value:
            if value.tag == "loss":
                losses.append(event.step)
            elif value.tag == summaries.TEXT_TAG:
                texts.append(event.step)
    return losses, texts


@pytest.fixture(scope="module")
def resumed_run(corpus, tmp_path_factory):
    """Kills a run right after its first checkpoint, then runs the same command again.

    Records what the kill left (checkpoint files with their bytes and
    modification times, TensorBoard event files) and copies what later tests
    overwrite (final weights, summary), so every test reads the state the
    resumed run left.
    """
    model_dir = tmp_path_factory.mktemp("run")
    metadata = model_dir / "backup" / "training_metadata.json"
    checkpoints = model_dir / "checkpoints"
    first_checkpoint = checkpoints / "ckpt-0001.weights.h5"
    process = subprocess.Popen(script_args(corpus, model_dir), env=env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        # The backup (weights, then metadata) comes first, then ModelCheckpoint's file.
        if (_backed_up_epochs(metadata) >= 1 and first_checkpoint.is_file()
                and _closed(first_checkpoint)):
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_epochs = _backed_up_epochs(metadata)
    assert 1 <= killed_epochs < STEPS // CHECKPOINT_STEPS
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in checkpoints.iterdir()}
    events_before = set((model_dir / "logs").rglob("*tfevents*"))
    time.sleep(0.05)  # a rewrite by the second run would get a later mtime even on coarse clocks
    second = subprocess.run(script_args(corpus, model_dir), env=env(), capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    kept = tmp_path_factory.mktemp("kept")
    shutil.copy(model_dir / "task.weights.h5", kept / "final.weights.h5")
    return types.SimpleNamespace(
        model_dir=model_dir, killed_at=killed_epochs * CHECKPOINT_STEPS, output=second.stdout,
        checkpoints_before=before,
        new_event_files=sorted(set((model_dir / "logs").rglob("*tfevents*")) - events_before),
        final_weights=kept / "final.weights.h5",
        summary=json.loads((model_dir / "pretraining_summary.json").read_text()),
    )


def test_a_killed_run_resumes_from_its_last_checkpoint(resumed_run):
    model_dir, killed_at, output = resumed_run.model_dir, resumed_run.killed_at, resumed_run.output
    assert f"resuming from the checkpoint at step {killed_at}" in output
    summary = resumed_run.summary
    assert summary["steps_done"] == STEPS  # not 12 + killed_at: the resumed run did only the rest
    assert summary["total_flops"] == STEPS * summary["flops_per_step"] > 0
    assert f"FLOPs: {STEPS * summary['flops_per_step']:.4g} in total" in output
    for name in ("electra_config.json", "vocab.txt", "task.json", "task.weights.h5",
                 "config.json", "model.weights.h5", "tokenizer.json"):
        assert (model_dir / name).is_file(), name
    assert ElectraPretrainer.from_preset(model_dir).electra_config.train_steps == STEPS
    assert sorted(p.name for p in (model_dir / "checkpoints").iterdir())[-1] == "ckpt-0003.weights.h5"
    assert any((model_dir / "logs").rglob("*tfevents*"))
    heldout = summary["heldout_metrics"]
    assert set(heldout) >= {"mlm_accuracy", "rtd_accuracy", "rtd_precision", "rtd_recall",
                            "rtd_auc"}
    assert 0.0 <= heldout["rtd_auc"] <= 1.0
    assert "held-out: generator MLM accuracy" in output
    assert f"discriminator ROC AUC {heldout['rtd_auc']:.3f} (0.5 is chance)" in output
    curves = model_dir / summaries.CURVES_FILENAME
    assert f"training curves: {curves}" in output
    assert curves.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_resumed_run_trains_only_the_remaining_steps(resumed_run):
    """A restart from scratch also ends at steps_done 12; it would run all three epochs."""
    done_epochs = resumed_run.killed_at // CHECKPOINT_STEPS
    remaining_epochs = list(range(done_epochs, STEPS // CHECKPOINT_STEPS))
    # Keras prints the epochs the second process's fit runs, counting from 1.
    assert re.findall(r"Epoch (\d+)/3", resumed_run.output) == [
        str(epoch + 1) for epoch in remaining_epochs]
    # Its own TensorBoard event file (one per process) logs every step it trained, by the
    # optimizer's step, and the discriminator's view at each checkpoint it wrote.
    (event_file,) = [f for f in resumed_run.new_event_files if "train" in f.parts]
    losses, texts = _logged_steps(event_file)
    assert losses == list(range(resumed_run.killed_at + 1, STEPS + 1))
    assert texts == list(range(resumed_run.killed_at + CHECKPOINT_STEPS, STEPS + 1, CHECKPOINT_STEPS))


METRICS = {"loss", "mlm_loss", "rtd_loss", "mlm_accuracy", "rtd_accuracy", "rtd_precision",
           "rtd_recall", "rtd_auc", "replaced_rate"}


def test_tensorboard_shows_the_whole_run_across_the_resume(resumed_run):
    scalars = summaries.read_scalars(resumed_run.model_dir / "logs")["train"]
    per_step = METRICS | {"learning_rate", "tokens_per_second", "flops"}
    assert set(scalars) == per_step | {summaries.EPOCH_PREFIX + name for name in METRICS}
    for tag in per_step - {"rtd_precision"}:
        assert [step for step, _ in scalars[tag]] == list(range(1, STEPS + 1)), tag
    # Precision has no value at a step where nothing was predicted replaced.
    assert {step for step, _ in scalars["rtd_precision"]} <= set(range(1, STEPS + 1))
    # Each point is its step's own value, not Keras' running mean since the epoch began
    # (which restarts at every epoch): the resumed process's epochs average their points.
    for end in range(resumed_run.killed_at + CHECKPOINT_STEPS, STEPS + 1, CHECKPOINT_STEPS):
        losses = dict(scalars["loss"])
        epoch_mean = dict(scalars[summaries.EPOCH_PREFIX + "loss"])[end]
        points = [losses[step] for step in range(end - CHECKPOINT_STEPS + 1, end + 1)]
        assert np.mean(points) == pytest.approx(epoch_mean, rel=1e-5)
        assert len(set(points)) == CHECKPOINT_STEPS
    flops_per_step = resumed_run.summary["flops_per_step"]
    assert [value for _, value in scalars["flops"]] == pytest.approx(
        [step * flops_per_step for step in range(1, STEPS + 1)], rel=1e-6)  # float32 in events
    learning_rates = [value for _, value in scalars["learning_rate"]]
    assert learning_rates[0] > 0 and learning_rates[-1] < max(learning_rates)  # decays
    assert all(value > 0 for _, value in scalars["tokens_per_second"])
    text = [tf.make_ndarray(value.tensor).item().decode()
            for f in resumed_run.new_event_files
            for event in tf.compat.v1.train.summary_iterator(str(f))
            for value in event.summary.value if value.tag == summaries.TEXT_TAG][-1]
    assert "\\[CLS\\]" in text and len(text.split("\n\n")) == 3  # three held-out lines


def test_checkpoints_from_before_the_kill_are_left_untouched(resumed_run):
    checkpoints = resumed_run.model_dir / "checkpoints"
    before = resumed_run.checkpoints_before
    assert "ckpt-0001.weights.h5" in before
    for name, (mtime, content) in before.items():
        path = checkpoints / name
        assert path.stat().st_mtime_ns == mtime and path.read_bytes() == content, name
    done_epochs = resumed_run.killed_at // CHECKPOINT_STEPS
    written = {p.name for p in checkpoints.iterdir()} - set(before)
    assert written == {f"ckpt-{epoch:04d}.weights.h5"
                       for epoch in range(done_epochs + 1, STEPS // CHECKPOINT_STEPS + 1)} - set(before)


def _pretrainer(model_dir, seed=0):
    """The run's pretrainer as the script builds it (its --seed defaults to 0)."""
    config = ElectraConfig.load(model_dir / "electra_config.json")
    tokenizer = tokenization.make_tokenizer(model_dir, lowercase=config.lowercase)
    return ElectraPretrainer(config, vocabulary_size=tokenizer.vocabulary_size(),
                             special_token_ids=tokenization.special_token_ids(tokenizer),
                             seed=seed)


def _counters(pretrainer):
    return (int(pretrainer.masking.seed_stream.counter.numpy()),
            int(pretrainer.sampling_seeds.counter.numpy()))


def test_the_random_streams_continue_across_the_resume(resumed_run):
    """Masking and sampling seeds are counters in the weights: a resumed run goes on from them.

    Each counter takes one value when the model is built (its first call)
    and one per training step.
    """
    pretrainer = _pretrainer(resumed_run.model_dir)
    assert _counters(pretrainer) == (1, 1)
    load_weights_file(pretrainer, resumed_run.final_weights)
    # Every step of both processes, not only the second's STEPS - killed_at.
    assert _counters(pretrainer) == (1 + STEPS, 1 + STEPS)
    load_weights_file(pretrainer, resumed_run.model_dir / "checkpoints" / "ckpt-0001.weights.h5")
    assert _counters(pretrainer) == (1 + CHECKPOINT_STEPS, 1 + CHECKPOINT_STEPS)

    # The masks drawn right after a resume at step 4 are a fresh run's fifth, not its first.
    rng = np.random.default_rng(0)
    length = pretrainer.electra_config.sequence_length
    token_ids = rng.integers(10, pretrainer.vocabulary_size, (8, length)).astype("int32")
    token_ids[:, 0], token_ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    batch = {"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)}
    resumed = pretrainer.masking(batch)["mask_positions"].numpy()
    fresh = DynamicMasking.from_config(pretrainer.masking.get_config())  # counter at 0
    fresh_draws = [fresh(batch)["mask_positions"].numpy() for _ in range(2 + CHECKPOINT_STEPS)]
    np.testing.assert_array_equal(resumed, fresh_draws[1 + CHECKPOINT_STEPS])
    assert not np.array_equal(resumed, fresh_draws[1])  # a fresh run's first training step


def test_a_finished_run_is_not_trained_over_and_can_be_extended(resumed_run, corpus, caplog):
    model_dir = resumed_run.model_dir
    config = ElectraConfig.load(model_dir / "electra_config.json")
    weights = (model_dir / "task.weights.h5").read_bytes()
    caplog.set_level(logging.INFO, logger="electra_tf")
    run_pretraining(config, [str(corpus / "train.txt")], model_dir, checkpoint_steps=4, verbose=0)
    assert "already holds a finished run of 12 steps" in caplog.text
    assert (model_dir / "task.weights.h5").read_bytes() == weights
    result = run_pretraining(config.replace(train_steps=16), [str(corpus / "train.txt")], model_dir,
                             checkpoint_steps=4, verbose=0)
    assert "continuing the finished run from step 12" in caplog.text
    assert int(result.pretrainer.optimizer.iterations.numpy()) == 16


def test_another_config_in_the_same_model_dir_is_refused(resumed_run, corpus):
    model_dir = resumed_run.model_dir
    config = ElectraConfig.load(model_dir / "electra_config.json").replace(hidden_size=128)
    with pytest.raises(ValueError, match="another config"):
        run_pretraining(config, [str(corpus / "train.txt")], model_dir, verbose=0)


def test_held_out_metrics_are_those_of_one_reading_of_the_held_out_text(corpus, tmp_path):
    """Every pass over packed text packs it anew, and on this text with this seed the first
    two passes make 7 and 6 batches: counting the batches in one pass and evaluating the
    next failed ("Input dataset was expected to contain 7 elements but contained only 6").
    The metrics are of one reading, every batch of it, the same for the same seed, without
    Keras' warning that the data ran out."""
    heldout = tmp_path / "heldout.txt"
    heldout.write_text("\n".join(LINES * 3) + "\n", encoding="utf-8")
    tokenizer = tokenization.make_tokenizer(
        prepare_vocabulary(tmp_path, [str(corpus / "train.txt")], vocab_size=300))
    config = ElectraConfig.from_preset("tiny").replace(batch_size=2, sequence_length=16)
    # The data's seeds depend on the global seed too, which each pre-trainer below sets.
    keras.utils.set_random_seed(0)
    packed = pretraining_dataset(
        str(heldout), tokenizer, sequence_length=config.sequence_length,
        batch_size=config.micro_batch_size, seed=0, repeat=False, drop_remainder=False,
        whole_word=config.whole_word_masking)
    first_reading, second_reading = len(list(packed)), len(list(packed))
    assert (first_reading, second_reading) == (7, 6)  # else this text no longer shows it

    def evaluate():
        """The held-out metrics of a new pre-trainer, and how many batches they are of."""
        keras.utils.set_random_seed(0)
        pretrainer = ElectraPretrainer(
            config, vocabulary_size=tokenizer.vocabulary_size(),
            special_token_ids=tokenization.special_token_ids(tokenizer), seed=0)
        pretrainer.compile()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            metrics = evaluate_pretrainer(pretrainer, tokenizer, [str(heldout)], config, seed=0)
        assert not [w for w in caught if "ran out of data" in str(w.message)]
        return metrics, int(pretrainer.loss_tracker.count.numpy())

    metrics, batches = evaluate()
    assert batches == first_reading
    assert 0.0 <= metrics["rtd_auc"] <= 1.0
    assert evaluate() == (metrics, batches)


def test_held_out_files_without_text_give_no_held_out_metrics(corpus, tmp_path, caplog):
    """Like no held-out files: no metrics, and a warning saying why (no error at the end of
    a run's training)."""
    (tmp_path / "blank.txt").write_text("\n\n", encoding="utf-8")
    tokenizer = tokenization.make_tokenizer(
        prepare_vocabulary(tmp_path, [str(corpus / "train.txt")], vocab_size=300))
    config = ElectraConfig.from_preset("tiny")
    pretrainer = ElectraPretrainer(
        config, vocabulary_size=tokenizer.vocabulary_size(),
        special_token_ids=tokenization.special_token_ids(tokenizer))
    pretrainer.compile()
    caplog.set_level(logging.WARNING, logger="electra_tf")
    assert evaluate_pretrainer(pretrainer, tokenizer, [str(tmp_path / "blank.txt")], config) == {}
    assert f"the held-out files {tmp_path / 'blank.txt'} hold no text" in caplog.text


def test_bad_inputs_name_the_file(tmp_path, corpus):
    config = ElectraConfig.from_preset("tiny")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="empty.txt"):
        run_pretraining(config, [str(tmp_path / "empty.txt")], tmp_path / "a", vocab_size=100)
    with pytest.raises(FileNotFoundError, match="nothing"):
        run_pretraining(config, [str(tmp_path / "nothing*.txt")], tmp_path / "b", vocab_size=100)
    with pytest.raises(ValueError, match="--vocab_size"):
        run_pretraining(config, [str(corpus / "train.txt")], tmp_path / "c")


@pytest.mark.parametrize("start, train_steps, segments", [
    (0, 12, [(0, 0, 3, 4)]),
    (6, 12, [(6, 1, 2, 2), (8, 2, 3, 4)]),  # a pre-empted interval first
    (0, 10, [(0, 0, 2, 4), (8, 2, 3, 2)]),  # a shorter last interval
    (5, 10, [(5, 1, 2, 3), (8, 2, 3, 2)]),
    (9, 10, [(9, 2, 3, 1)]),  # pre-empted in the shorter last interval
])
def test_fits_end_at_train_steps_when_checkpoints_do_not_divide_them(start, train_steps,
                                                                     segments):
    assert _fit_segments(start, train_steps, 4) == segments
    assert sum((end - first) * steps for _, first, end, steps in segments) == train_steps - start


def _tiny_budget_run(corpus, tmp_path):
    """Files, config and FLOPs per step of a tiny run in `tmp_path` (its vocabulary made)."""
    files = [str(corpus / "train.txt")]
    vocabulary = prepare_vocabulary(tmp_path, files, vocab_size=300)  # the run reuses it
    config = ElectraConfig.from_preset("tiny").replace(batch_size=8)  # 200 steps, warmup 20
    return files, config, pretraining_flops_per_step(config, len(vocabulary))["total"]


def test_a_flops_budget_sets_the_steps_and_the_learning_rate_ends_at_zero(corpus, tmp_path,
                                                                          caplog):
    files, config, flops_per_step = _tiny_budget_run(corpus, tmp_path)
    caplog.set_level(logging.INFO, logger="electra_tf")
    result = run_pretraining(config, files, tmp_path, checkpoint_steps=8, verbose=0,
                             budget_flops=10.5 * flops_per_step)
    # 10 steps (an interval of 8, then one of 2); the warmup of 20 shrinks to 10% of them.
    assert int(result.pretrainer.optimizer.iterations.numpy()) == 10
    assert (result.pretrainer.electra_config.train_steps,
            result.pretrainer.electra_config.warmup_steps) == (10, 1)
    saved = ElectraConfig.load(tmp_path / "electra_config.json")
    assert (saved.train_steps, saved.warmup_steps) == (10, 1)
    record = json.loads((tmp_path / "budget.json").read_text())
    assert record["budget_flops"] == 10.5 * flops_per_step and record["train_steps"] == 10
    assert record["flops_per_step"] == flops_per_step and record["seconds_per_step"] is None
    summary = json.loads((tmp_path / "pretraining_summary.json").read_text())
    assert (summary["steps_done"], summary["flops_per_step"], summary["total_flops"]) == (
        10, flops_per_step, 10 * flops_per_step)
    scalars = summaries.read_scalars(tmp_path / "logs")["train"]
    assert [step for step, _ in scalars["flops"]] == list(range(1, 11))
    assert [value for _, value in scalars["flops"]] == pytest.approx(
        [step * flops_per_step for step in range(1, 11)], rel=1e-6)
    learning_rates = dict(scalars["learning_rate"])
    assert learning_rates[10] == 0.0 and learning_rates[9] > 0.0
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "ckpt-0001.weights.h5", "ckpt-0002.weights.h5"]
    assert f"FLOPs: 10 steps of {flops_per_step:.3g} FLOPs" in caplog.text
    assert f"FLOPs: {10 * flops_per_step:.4g} in total" in caplog.text


class Killed(Exception):
    pass


class StopAtStep(keras.callbacks.Callback):
    """Raises `Killed` after optimizer step `step`: the run stops there, as after a kill."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            raise Killed


def test_a_minutes_budget_is_measured_once_and_a_resumed_run_reuses_its_steps(
        corpus, tmp_path, monkeypatch, caplog):
    files, config, _ = _tiny_budget_run(corpus, tmp_path)
    measured = []

    def measure(model, dataset):
        measured.append((model, budget.measure_seconds_per_step(model, dataset)))
        return 6.0  # the real measurement ran; a fixed answer makes the steps known: 18 s / 6 s

    monkeypatch.setattr(pretrain, "measure_seconds_per_step", measure)
    caplog.set_level(logging.INFO, logger="electra_tf")
    options = dict(checkpoint_steps=2, verbose=0, budget_minutes=0.3)
    with pytest.raises(Killed):
        run_pretraining(config, files, tmp_path, callbacks=[StopAtStep(3)], **options)
    ((model, seconds),) = measured
    assert seconds > 0
    # It timed a copy of the model (warm-up + timed steps), not the run's.
    assert int(model.optimizer.iterations.numpy()) == (
        budget.MEASURE_WARMUP_STEPS + budget.MEASURED_STEPS)
    record_text = (tmp_path / "budget.json").read_text()
    record = json.loads(record_text)
    assert (record["seconds_per_step"], record["train_steps"]) == (6.0, 3)

    result = run_pretraining(config, files, tmp_path, **options)
    assert len(measured) == 1  # nothing measured again
    assert "budget of 0.3 minutes: 3 steps, as recorded in" in caplog.text
    assert "resuming from the checkpoint at step 2" in caplog.text
    assert int(result.pretrainer.optimizer.iterations.numpy()) == 3
    assert (tmp_path / "budget.json").read_text() == record_text
    for other in ({"budget_minutes": 1.0}, {"budget_flops": 1e12}, {}):
        with pytest.raises(ValueError, match="budget of 0.3 minutes"):
            run_pretraining(config, files, tmp_path, verbose=0, **other)


def test_budgets_are_checked_before_anything_is_written(corpus, tmp_path):
    for budgets, message in (({"budget_flops": 1e12, "budget_minutes": 5}, "not both"),
                             ({"budget_minutes": 0}, "positive number")):
        with pytest.raises(ValueError, match=message):
            run_pretraining(ElectraConfig.from_preset("tiny"), [str(corpus / "train.txt")],
                            tmp_path / "run", vocab_size=300, **budgets)
    assert not (tmp_path / "run").exists()


def test_the_command_prints_the_steps_a_budget_gives(corpus, tmp_path):
    _, _, flops_per_step = _tiny_budget_run(corpus, tmp_path)
    result = subprocess.run(script_args(corpus, tmp_path) + [f"--budget_flops={3.5 * flops_per_step}"],
                            env=env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "FLOPs: 3 steps of" in result.stdout
    assert f"FLOPs: {3 * flops_per_step:.4g} in total" in result.stdout


def test_help_explains_every_flag():
    result = subprocess.run([sys.executable, str(SCRIPT), "--helpfull"], env=env(),
                            capture_output=True, text=True, timeout=120)
    for flag in ("--config", "--input_files", "--model_dir", "--train_steps", "--batch_size",
                 "--seed", "--vocab_file", "--vocab_size", "--checkpoint_steps", "--strategy",
                 "--gradient_accumulation_steps", "--tpu", "--budget_flops", "--budget_minutes"):
        assert flag in result.stdout, flag


class PoisonAtStep(keras.callbacks.Callback):
    """Makes the discriminator's word embeddings NaN before optimizer step `step` runs."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step - 1:
            embeddings = self.model.discriminator.token_embedding.embeddings
            embeddings.assign(tf.fill(embeddings.shape, float("nan")))


def test_a_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(corpus, tmp_path):
    config = ElectraConfig.from_preset("tiny").replace(train_steps=12, batch_size=8,
                                                       warmup_steps=2)
    args = ([str(corpus / "train.txt")], tmp_path)
    options = dict(vocab_size=300, checkpoint_steps=4, verbose=0)
    with pytest.raises(NonFiniteLossError, match=r"became nan at step 7; .*learning rate.*"
                       r"float16.*checkpoints \(and backup/\)"):
        run_pretraining(config, *args, callbacks=[PoisonAtStep(7)], **options)
    # Nothing after step 4 was saved: no second checkpoint, no final weights, no summary.
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["ckpt-0001.weights.h5"]
    assert not (tmp_path / "pretraining_summary.json").exists()
    vocabulary = tokenization.load_vocabulary(tmp_path / "vocab.txt")
    pretrainer = ElectraPretrainer(config, len(vocabulary), tokenization.special_token_ids(
        tokenization.make_tokenizer(vocabulary)))
    load_weights_file(pretrainer, tmp_path / "checkpoints" / "ckpt-0001.weights.h5")
    assert all(np.isfinite(w).all() for w in pretrainer.get_weights())
    # The same command resumes from that checkpoint and finishes.
    result = run_pretraining(config, *args, **options)
    assert int(result.pretrainer.optimizer.iterations.numpy()) == 12
    assert all(np.isfinite(w).all() for w in result.pretrainer.get_weights())


def test_the_command_reports_a_nan_loss_without_a_traceback(corpus, tmp_path):
    result = subprocess.run(script_args(corpus, tmp_path) + ["--learning_rate=1e30"], env=env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "error: the training loss became" in result.stderr
    assert "Traceback" not in result.stderr
