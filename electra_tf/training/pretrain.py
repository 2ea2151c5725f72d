"""Pre-training from text files to a model directory, resumable at any time.

The config's `objective` picks the pre-trainer: `ElectraPretrainer`
("electra", replaced-token detection) or `MaskedLMPretrainer` ("mlm", the
BERT-style baseline). The model directory is the trained pre-trainer's preset
(see `electra_tf.models.model_dir`) with the run's records beside it:
```
model_dir/
  config.json model.weights.h5 tokenizer.json assets/   the encoder (ELECTRA's discriminator),
                        keras-hub's way: ElectraBackbone.from_preset(model_dir) loads it
  task.json task.weights.h5   the whole pre-trainer: ElectraPretrainer.from_preset(model_dir)
                        (MaskedLMPretrainer.from_preset for an "mlm" run)
  electra_config.json   the recipe            vocab.txt   the WordPiece vocabulary
                        (both written at the start; a resumed run checks them)
  checkpoints/          ckpt-NNNN.weights.h5 every `checkpoint_steps` steps
  backup/               keras.callbacks.BackupAndRestore state (resume after a kill)
  logs/                 TensorBoard: scalars every few steps, for ELECTRA text at checkpoints
  budget.json           a budget run's steps: the budget, FLOPs (and seconds) per step
  pretraining_summary.json  steps done, FLOPs, last training and held-out metrics
```
The recipe, the backup's step and the summary are what tell a new, an
unfinished and a finished run apart (`training.run_records` writes and reads them).

Example:
```python
from electra_tf import ElectraConfig
from electra_tf.training.pretrain import run_pretraining

import pathlib
pathlib.Path("corpus.txt").write_text("今天天气很好。\\n我们去公园。\\n\\n明天也很好。\\n")
config = ElectraConfig.from_preset("tiny").replace(train_steps=4, batch_size=2)
result = run_pretraining(config, ["corpus.txt"], "runs/tiny", vocab_size=50,
                         checkpoint_steps=2, heldout_files=["corpus.txt"], verbose=0)
result.eval_metrics  # on the held-out files, also in runs/tiny/pretraining_summary.json
# -> {'loss': ..., 'mlm_loss': ..., 'mlm_accuracy': ..., 'rtd_loss': ..., 'rtd_accuracy': ...,
#     'rtd_precision': ..., 'rtd_recall': ..., 'rtd_auc': ..., 'replaced_rate': ...}
```
"""

import dataclasses
import logging
import pathlib
import time

import keras
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.compat.multi_worker import in_multi_worker_mode
from electra_tf.config import ARCHITECTURE_FIELDS, ElectraConfig
from electra_tf.data import pretraining as pretraining_data
from electra_tf.flops import pretraining_flops_per_step
from electra_tf.models import model_dir as model_dirs
from electra_tf.models.model_dir import (
    BACKUP_DIRNAME,
    CHECKPOINTS_DIRNAME,
    LOGS_DIRNAME,
    folder_error,
)
from electra_tf.models import registry
from electra_tf.models.pretraining.base import Pretrainer
from electra_tf.training import run_records
from electra_tf.training.budget import check_budget, measure_seconds_per_step, resolve_budget
from electra_tf.training.distribute import shard_input, strategy_from_name, worker_dir
from electra_tf.training.guards import StopOnNonFiniteLoss
from electra_tf.precision import compute_dtype_line
from electra_tf.training.preemption import SaveOnPreemption, StepBackup
from electra_tf.training.summaries import PretrainingSummaries

VOCAB_SAMPLE_LINES = 200_000
# Sentences shown in TensorBoard as the discriminator read them, at every checkpoint.
SUMMARY_SENTENCES = 3

# `ElectraConfig.objective` -> the class that pre-trains with it.
PRETRAINERS = {objective: task.cls for objective, task in registry.PRETRAINERS.items()}

log = logging.getLogger(__name__)


@dataclasses.dataclass
class PretrainingResult:
    pretrainer: Pretrainer
    tokenizer: object
    history: dict
    eval_metrics: dict


def prepare_vocabulary(model_dir, input_files, *, vocab_file=None, vocab_size=None, lowercase=True,
                       save_dir=None):
    """Returns the run's vocabulary, saving it to `save_dir` (default `model_dir`) on first use.

    A resumed run reuses the vocabulary saved in `model_dir`, so token ids
    never change under a checkpoint.
    """
    model_dir = pathlib.Path(model_dir)
    saved = model_dir / tokenization.VOCAB_FILENAME
    if saved.is_file():
        vocabulary = model_dirs.read_vocabulary(saved, run_records.RESTORE_RECORD)
        if vocab_file and tokenization.load_vocabulary(vocab_file) != vocabulary:
            raise folder_error(
                saved, f"(from an earlier run) differs from --vocab_file {vocab_file}",
                "use a new --model_dir or drop --vocab_file to resume")
        return vocabulary
    if vocab_file:
        vocabulary = tokenization.load_vocabulary(vocab_file)
    elif vocab_size:
        text_files = [f for f in input_files if not pretraining_data.is_tfrecord_file(f)]
        if not text_files:
            raise ValueError(
                "TFRecord inputs hold token ids already: pass the --vocab_file they were made with."
            )
        lines = (
            tf.data.TextLineDataset(text_files)
            .map(lambda line: tf.strings.strip(
                tf.strings.unicode_transcode(line, "UTF-8", "UTF-8", errors="replace")))
            .filter(lambda line: tf.strings.length(line) > 0)
            .take(VOCAB_SAMPLE_LINES)
        )
        vocabulary = tokenization.build_vocabulary(lines.batch(1000), vocab_size, lowercase)
        sample = [line.decode() for line in lines.take(2000).as_numpy_iterator()]
        rate = tokenization.oov_rate(tokenization.make_tokenizer(vocabulary, lowercase), sample)
        log.info("vocabulary: %d entries, OOV rate %.2f%% on %d sampled lines",
                 len(vocabulary), 100 * rate, len(sample))
    else:
        raise ValueError("give a vocabulary file (--vocab_file) or a size to build one (--vocab_size).")
    tokenization.save_vocabulary(vocabulary, save_dir or model_dir)
    return vocabulary


def continued_config(init_from, **recipe):
    """The config of the model directory `init_from`, with `recipe` fields (steps, LR, ...) replaced.

    Architecture fields (`ARCHITECTURE_FIELDS`) cannot be replaced: the
    weights fix them.
    """
    config = model_dirs.pretraining_config(init_from)
    fixed = sorted(set(recipe) & set(ARCHITECTURE_FIELDS))
    if fixed:
        raise ValueError(
            f"{init_from} fixes {fixed} (its weights have that shape); continued pre-training "
            "changes only the recipe (steps, batch, learning rate, sequence length, ...).")
    return config.replace(**recipe)


def _check_init_from(init_from, config, vocab_file, vocab_size):
    """The vocabulary file of `init_from`, after checking its files can be read and `config`
    keeps its architecture."""
    model_dirs.check_preset(init_from)
    saved = model_dirs.pretraining_config(init_from)
    differing = [f"{k}: {getattr(saved, k)!r} there, {getattr(config, k)!r} here"
                 for k in ARCHITECTURE_FIELDS if getattr(saved, k) != getattr(config, k)]
    if differing:
        raise ValueError(
            f"the config does not fit the weights of {init_from} ({'; '.join(differing)}); "
            "start from electra_tf.training.pretrain.continued_config(init_from, ...).")
    if vocab_size:
        raise ValueError(f"{init_from} brings its own vocabulary: drop vocab_size / --vocab_size.")
    own = model_dirs.vocabulary_file(init_from)
    if vocab_file and tokenization.load_vocabulary(vocab_file) != tokenization.load_vocabulary(own):
        raise ValueError(f"--vocab_file {vocab_file} differs from {own}, which the weights of "
                         f"{init_from} were trained with; drop --vocab_file.")
    return own


def run_pretraining(
    config: ElectraConfig,
    input_files,
    model_dir,
    *,
    heldout_files=None,
    vocab_file=None,
    vocab_size=None,
    seed=0,
    checkpoint_steps=1000,
    eval_steps=50,
    strategy="default",
    callbacks=(),
    verbose="auto",
    init_from=None,
    budget_flops=None,
    budget_minutes=None,
) -> PretrainingResult:
    """Pre-trains `config` on `input_files` and writes `model_dir`.

    `config.objective` picks the model (`PRETRAINERS`): ELECTRA's generator
    and discriminator, or the masked-LM baseline's encoder; both save their
    encoder as the folder's backbone, which fine-tuning starts from.

    `init_from` continues pre-training from another model directory (e.g.
    Google's checkpoints converted by `electra_tf.convert`): its weights and
    vocabulary, with `config`'s recipe; `config` must keep its architecture
    (`continued_config(init_from, train_steps=...)` builds such a config).

    Run it again with the same arguments after an interruption and it resumes:
    after a kill from the last checkpoint (at most `checkpoint_steps` steps
    are redone), after a SIGTERM (pre-emption) from the step it was at, which
    it saved before raising `training.preemption.TrainingPreempted`. Either
    way the optimizer, the schedule, the masking and sampling streams and the
    input continue where the saved state was. Keras "epochs" are checkpoint
    intervals of `checkpoint_steps` steps over a repeated dataset.
    `callbacks` are added to the built-in ones (backup, checkpoints,
    TensorBoard summaries in `logs/` (`training.summaries`), and the NaN guard:
    a non-finite loss raises `NonFiniteLossError` naming the step, with nothing
    saved over the last checkpoint).

    `budget_flops` or `budget_minutes` (not both) sets the run's length in
    place of `config.train_steps`: the steps the analytic FLOPs of a step
    (`electra_tf.flops`), or its measured time, fit into the budget, worked
    out once when the run starts and recorded in `budget.json`, which a
    resumed run reads (`training.budget`). The learning rate reaches zero at
    the budget's end.

    The run's training FLOPs (the analytic count of `electra_tf.flops`) go
    to TensorBoard (`flops`, cumulative), to `pretraining_summary.json` and
    to the log, with the model FLOP/s this call achieved.

    `strategy` is a `tf.distribute.Strategy` or its name (`training.distribute`);
    `config.batch_size` is the global batch. A multi-worker strategy must be
    made before any other TensorFlow op runs in the process (pass the object
    made first thing, or its name to a fresh process); then each worker reads
    its share of the input, and only the chief writes `model_dir`.

    Progress notes (vocabulary built, resuming, ...) go to the
    `electra_tf.training.pretrain` logger.
    """
    # First: a multi-worker strategy must exist before any other TensorFlow op runs.
    strategy = strategy_from_name(strategy) if isinstance(strategy, str) else strategy
    _check_budget_arguments(budget_flops, budget_minutes, strategy)
    if init_from:
        vocab_file = _check_init_from(init_from, config, vocab_file, vocab_size)
    model_dir = pathlib.Path(model_dir)
    with worker_dir(model_dir, strategy) as run_dir:
        run = _open_run(config, input_files, model_dir, run_dir, strategy, seed=seed,
                        vocab_file=vocab_file, vocab_size=vocab_size, budget_flops=budget_flops,
                        budget_minutes=budget_minutes, checkpoint_steps=checkpoint_steps,
                        heldout_files=heldout_files, eval_steps=eval_steps)
        finished = run_records.finished_steps(model_dir)
        backed_up = run_records.backup_step(model_dir, run.checkpoint_steps)
        if finished >= run.config.train_steps and not backed_up:
            return _evaluate_finished_run(run, finished)
        pretrainer = _build_pretrainer(run.config, run.tokenizer, seed, strategy)
        log.info(compute_dtype_line(run.config.dtype_policy))
        start = _restore_starting_point(pretrainer, model_dir, backed_up, finished, init_from)
        history = _train(run, pretrainer, start, callbacks=callbacks, verbose=verbose)
        return _finish_run(run, pretrainer, history)


@dataclasses.dataclass(frozen=True)
class _Run:
    """What the steps of one `run_pretraining` call share once its records are settled."""

    config: ElectraConfig  # with the budget's steps, when there is a budget
    model_dir: pathlib.Path  # reads: vocabulary, recipe, backup, finished steps
    run_dir: pathlib.Path  # writes: `model_dir`, except on a multi-worker run's other workers
    files: list  # the input, glob patterns expanded
    tokenizer: object
    flops_per_step: float
    strategy: tf.distribute.Strategy
    seed: int
    checkpoint_steps: int  # at most `config.train_steps`
    heldout_files: list | None
    eval_steps: int

    def evaluate(self, pretrainer, tokenizer):
        """The held-out metrics (`evaluate_pretrainer`), or {} when there are no held-out files."""
        if not self.heldout_files:
            return {}
        return evaluate_pretrainer(pretrainer, tokenizer, self.heldout_files, self.config,
                                   seed=self.seed, max_steps=self.eval_steps)


def _check_budget_arguments(budget_flops, budget_minutes, strategy):
    """Refuses an invalid budget, and a minutes budget on several workers.

    Each worker would time its own steps and could then stop at a different step.
    """
    check_budget(budget_flops, budget_minutes)
    if budget_minutes is not None and in_multi_worker_mode(strategy):
        raise ValueError(
            "budget_minutes times steps in each worker, which could then stop at different "
            "steps; give budget_flops, or train_steps from a measurement on one worker.")


def _open_run(config, input_files, model_dir, run_dir, strategy, *, seed, vocab_file, vocab_size,
              budget_flops, budget_minutes, checkpoint_steps, heldout_files, eval_steps):
    """Makes the run folder, checks the input and settles the run's records.

    The vocabulary, the budget's steps and the recipe are saved to `run_dir` on
    a first start, and read from `model_dir` and checked on a resume, before
    anything trains: a resumed run keeps its token ids, its length and its recipe.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    files = _checked_input_files(input_files)
    vocabulary = prepare_vocabulary(
        model_dir, files, vocab_file=vocab_file, vocab_size=vocab_size,
        lowercase=config.lowercase, save_dir=run_dir,
    )
    tokenizer = tokenization.make_tokenizer(vocabulary, lowercase=config.lowercase)
    flops_per_step = pretraining_flops_per_step(config, tokenizer.vocabulary_size())["total"]
    unbudgeted = config
    config, _ = resolve_budget(
        model_dir, config, flops_per_step, budget_flops=budget_flops,
        budget_minutes=budget_minutes, save_dir=run_dir,
        # A copy of the run's model on the run's input, so the run itself starts
        # untouched (the copy's schedule, from the config before the budget, costs the same).
        measure=lambda: measure_seconds_per_step(
            _build_pretrainer(unbudgeted, tokenizer, seed, strategy),
            _training_dataset(files, tokenizer, unbudgeted, seed, strategy)),
    )
    run_records.record_config(model_dir, config, save_dir=run_dir)
    return _Run(config=config, model_dir=model_dir, run_dir=run_dir, files=files,
                tokenizer=tokenizer, flops_per_step=flops_per_step, strategy=strategy, seed=seed,
                checkpoint_steps=max(1, min(checkpoint_steps, config.train_steps)),
                heldout_files=heldout_files, eval_steps=eval_steps)


def _evaluate_finished_run(run, finished):
    """A completed run is never trained over: the result is what is there, evaluated."""
    log.info("%s already holds a finished run of %d steps; evaluating it (raise "
             "--train_steps to train further, or choose a new --model_dir).",
             run.model_dir, finished)
    pretrainer = PRETRAINERS[run.config.objective].from_preset(run.model_dir)
    pretrainer.compile()
    return PretrainingResult(pretrainer, pretrainer.tokenizer, {},
                             run.evaluate(pretrainer, pretrainer.tokenizer))


def _train(run, pretrainer, start, *, callbacks, verbose):
    """Trains from step `start` to the config's last step, one `fit` per `_fit_segments`
    segment; logs the FLOPs done and returns the metrics' history over all the fits."""
    segments = _fit_segments(start, run.config.train_steps, run.checkpoint_steps)
    histories = []
    began = time.perf_counter()
    for index, segment in enumerate(segments):
        # Each fit but the last keeps its backup until the next fit has one of its own.
        histories.append(_fit(run, pretrainer, *segment, callbacks=callbacks, verbose=verbose,
                              keep_backup=index < len(segments) - 1))
    _log_flops(pretrainer, start, run.flops_per_step, time.perf_counter() - began)
    return {name: [value for h in histories for value in h.get(name, [])]
            for name in histories[-1]} if histories else {}


def _fit(run, pretrainer, first_step, epoch, epochs, steps_per_epoch, *, callbacks, verbose,
         keep_backup):
    """One `fit` from global step `first_step`; the input resumes there too. Returns its history.

    The input is built anew: a second pass over the same dataset would
    shuffle differently (`reshuffle_each_iteration`).
    """
    dataset = _training_dataset(run.files, run.tokenizer, run.config, run.seed, run.strategy)
    backup = StepBackup(str(run.run_dir / BACKUP_DIRNAME),
                        restore_from=run.model_dir / BACKUP_DIRNAME, save_freq="epoch",
                        double_checkpoint=True, delete_checkpoint=not keep_backup)
    history = pretrainer.fit(
        dataset.skip(first_step), epochs=epochs, steps_per_epoch=steps_per_epoch,
        initial_epoch=epoch,
        shuffle=False,  # The pipeline shuffles; Keras would warn that it cannot.
        callbacks=[*_run_callbacks(run, backup),
                   SaveOnPreemption(backup, first_step, run.checkpoint_steps), *callbacks],
        verbose=verbose,
    )
    return history.history


def _finish_run(run, pretrainer, history):
    """Saves the trained pre-trainer as the folder's preset, evaluates it, and writes the
    summary last: its `steps_done` marks the run finished."""
    pretrainer.save_to_preset(run.run_dir, run.tokenizer)
    eval_metrics = run.evaluate(pretrainer, run.tokenizer)
    run_records.write_summary(run.run_dir, steps=int(pretrainer.optimizer.iterations.numpy()),
                              flops_per_step=run.flops_per_step, history=history,
                              eval_metrics=eval_metrics)
    return PretrainingResult(pretrainer, run.tokenizer, history, eval_metrics)


def _fit_segments(start, train_steps, interval):
    """The `fit` calls that train from step `start` to `train_steps` in checkpoint intervals
    of `interval` steps: `(first step, first epoch, end epoch, steps per epoch)` each.

    Keras gives every epoch of a `fit` as many steps, and starts an epoch at its
    first batch: an interval a pre-emption cut short is finished by a `fit` of
    its own, and so is a last interval shorter than the others (when
    `interval` does not divide `train_steps`), so the run stops at `train_steps`.
    """
    full_intervals, last_steps = divmod(train_steps, interval)
    segments = []
    epoch, done_in_epoch = divmod(start, interval)
    if done_in_epoch:
        steps = last_steps if epoch == full_intervals else interval
        segments.append((start, epoch, epoch + 1, steps - done_in_epoch))
        epoch += 1
    if epoch < full_intervals:
        segments.append((epoch * interval, epoch, full_intervals, interval))
        epoch = full_intervals
    if last_steps and epoch == full_intervals:
        segments.append((epoch * interval, epoch, epoch + 1, last_steps))
    return segments


def _checked_input_files(input_files):
    """`input_files` with their glob patterns expanded; text files are checked to be readable."""
    files = pretraining_data.expand_file_patterns(input_files)
    text_files = [f for f in files if not pretraining_data.is_tfrecord_file(f)]
    if text_files:
        report = pretraining_data.check_text_files(text_files)
        if report.get("invalid_utf8_lines"):
            log.warning("%d line(s) are not valid UTF-8; their bad bytes become U+FFFD ([UNK]).",
                        report["invalid_utf8_lines"])
    return files


def _training_dataset(files, tokenizer, config, seed, strategy):
    """The run's input from its first step: packed, batched, repeated, sharded across workers."""
    return shard_input(pretraining_data.pretraining_dataset(
        files, tokenizer, sequence_length=config.sequence_length,
        batch_size=config.batch_size, seed=seed, whole_word=config.whole_word_masking,
    ), files, strategy)


def _build_pretrainer(config, tokenizer, seed, distribution):
    """The config's compiled pre-trainer, its variables made in `distribution`'s scope."""
    replicas = distribution.num_replicas_in_sync
    if config.batch_size % (replicas * config.gradient_accumulation_steps):
        raise ValueError(
            f"batch_size {config.batch_size} does not split into {replicas} replicas x "
            f"{config.gradient_accumulation_steps} micro-batches of equal size; make it a "
            f"multiple of {replicas * config.gradient_accumulation_steps}.")
    with distribution.scope():
        pretrainer = PRETRAINERS[config.objective](
            config,
            vocabulary_size=tokenizer.vocabulary_size(),
            special_token_ids=tokenization.special_token_ids(tokenizer),
            seed=seed,
        )
        pretrainer.compile()
    return pretrainer


def _restore_starting_point(pretrainer, model_dir, backed_up, finished, init_from):
    """Sets `pretrainer` up to start where this run should; returns the step it starts at.

    A killed or pre-empted run (its backup at step `backed_up`) is left to the
    backup (`BackupAndRestore` restores weights, optimizer and epoch inside
    `fit`); a finished run asked for more steps continues from its final
    weights and optimizer state; `init_from` gives weights only, so the
    optimizer starts afresh with this run's recipe.
    """
    if backed_up:
        log.info("resuming from the checkpoint at step %d (%s)",
                 backed_up, model_dir / BACKUP_DIRNAME)
        return backed_up
    if finished:
        pretrainer.optimizer.build(pretrainer.trainable_variables)
        model_dirs.load_weights_file(pretrainer, model_dirs.weights_file(model_dir))
        log.info("continuing the finished run from step %d", finished)
        return finished
    if init_from:
        # Of this run's class: _check_init_from made sure its objective is this run's.
        source = type(pretrainer).from_preset(init_from)
        pretrainer.set_weights(source.get_weights())
        log.info("starting from the weights of %s", init_from)
    return 0


def _run_callbacks(run, backup):
    """The NaN guard, `backup` (resume after a kill), numbered checkpoints and TensorBoard
    summaries, all writing in `run.run_dir`."""
    model_dir, config, checkpoint_steps = run.run_dir, run.config, run.checkpoint_steps
    (model_dir / CHECKPOINTS_DIRNAME).mkdir(exist_ok=True)
    return [
        # First, so it raises before anything below saves the poisoned weights.
        StopOnNonFiniteLoss(
            last_good_state=f"{model_dir / CHECKPOINTS_DIRNAME} (and {BACKUP_DIRNAME}/)"),
        backup,
        keras.callbacks.ModelCheckpoint(
            str(model_dir / CHECKPOINTS_DIRNAME / "ckpt-{epoch:04d}.weights.h5"),
            save_weights_only=True,
        ),
        PretrainingSummaries(
            model_dir / LOGS_DIRNAME, tokens_per_step=config.batch_size * config.sequence_length,
            every_steps=max(1, checkpoint_steps // 10), tokenizer=run.tokenizer,
            # The text view shows what a discriminator read (held-out text, else the input's);
            # a masked LM has none.
            sentences=(_first_lines(run.heldout_files or run.files, SUMMARY_SENTENCES)
                       if config.objective == "electra" else ()),
            flops_per_step=run.flops_per_step,
        ),
    ]


def _first_lines(files, count):
    """The first `count` non-empty lines of the text files among `files`."""
    lines = []
    for path in files:
        if pretraining_data.is_tfrecord_file(path):
            continue
        with tf.io.gfile.GFile(path, "rb") as handle:
            for line in handle:
                if len(lines) == count:
                    return lines
                if line.strip():
                    lines.append(line.decode("utf-8", errors="replace").strip())
    return lines


def _log_flops(pretrainer, first_step, flops_per_step, seconds):
    """Logs the run's FLOPs and the model FLOP/s this process achieved since `first_step`."""
    steps = int(pretrainer.optimizer.iterations.numpy())
    trained = steps - first_step
    log.info("FLOPs: %.4g in total (%.4g per step x %d steps, analytic count); %d steps trained "
             "here in %.1f s (compiling, checkpoints and summaries included): %.3g model FLOP/s",
             steps * flops_per_step, flops_per_step, steps, trained, seconds,
             trained * flops_per_step / max(seconds, 1e-9))


def evaluate_pretrainer(pretrainer, tokenizer, files, config, *, seed=0, max_steps=None):
    """The pre-trainer's metrics on `files`: MLM loss and accuracy, and for ELECTRA the
    discriminator's loss, accuracy / precision / recall, ROC AUC and the replaced share; {}
    (with a warning) when `files` hold no text.

    The text is read once, as the first pass of its input pipeline packs it: the
    same batches, so the same metrics, for the same `seed` (and global seed: tf.data
    draws from both).
    """
    # Micro-batches: a batch that needs gradient accumulation to train may not fit at once.
    dataset = pretraining_data.pretraining_dataset(
        files, tokenizer, sequence_length=config.sequence_length,
        batch_size=config.micro_batch_size, seed=seed, repeat=False, drop_remainder=False,
        whole_word=config.whole_word_masking,
    )
    if max_steps:
        dataset = dataset.take(max_steps)
    # Read once and kept: every pass over `dataset` packs the text anew, so a pass to count
    # the batches and another to evaluate them could see different batches, and a different
    # number of them. The list is short (held-out text, at most `max_steps` micro-batches); a
    # dataset of it knows its length, so Keras does not warn that the data ran out, as it
    # would if left to find the end of the packed input.
    batches = list(dataset)
    if not batches:
        log.warning("the held-out files %s hold no text: no held-out metrics",
                    ", ".join(pretraining_data.expand_file_patterns(files)))
        return {}
    results = pretrainer.evaluate(tf.data.experimental.from_list(batches), return_dict=True,
                                  verbose=0)
    return {name: float(value) for name, value in results.items()}
