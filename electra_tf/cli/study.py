r"""The equal-compute study: ELECTRA vs a masked LM vs random weights, by pre-training FLOPs.

Pre-trains each objective once per budget on the default corpus (one shared
vocabulary), then fine-tunes and linearly probes each encoder and random
weights of the same sizes on Chinese sentiment and People's Daily NER, for
every seed. Writes a JSON row per finished cell (rewritten after each cell,
so the study can stop at any time and resume where it stopped: finished cells
are skipped, pre-training runs resume from their folders), a PNG of score vs
FLOPs, and prints mean ± std per cell. docs/budget_study.md describes it.

Examples:
  # the full study (15, 30 and 60 minutes of zh_mini's fp32 step): about 8 machine-hours
  electra-study
  # in pieces: start no new cell after 100 minutes; run it again later to go on
  electra-study --time_limit_minutes 100
  # budgets in FLOPs, two seeds, no 8,000-label cells
  electra-study --budgets_flops 5e14,1e15,2e15 --seeds 0,1 --largest_budget_recipes=
  # the fine-tuning rate picked on dev for every arm and seed (a grid of recipes)
  electra-study --recipes zh_1k_fair,docs/sweeps/0.2.0/zh_1k_fair_lr3e-4.json,\
      docs/sweeps/0.2.0/zh_1k_fair_lr1e-4.json
  # every arm, task and method on a tiny config: about two minutes
  electra-study --tiny --study_dir /tmp/study_tiny

In a checkout, `python scripts/budget_study.py` is the same command.
"""

import functools
import logging
import shlex
import sys

from absl import app, flags

from electra_tf import cli
from electra_tf.config import FinetuneConfig, preset_names
from electra_tf.training import budget_study
from electra_tf.training.finetune import BUILTIN_DATASETS

FLAGS = flags.FLAGS
DEFAULTS = budget_study.StudyPlan()


@functools.cache
def define_flags():
    """Defines the command's flags (once)."""
    flags.DEFINE_bool("tiny", False,
                      "The tiny study (tiny config, a budget of about a second, a few dozen "
                      "examples, one seed): the pipeline end to end in about two minutes. Only "
                      "--study_dir, --output, --plot and --time_limit_minutes apply to it.")
    flags.DEFINE_string("study_dir", None,
                        f"Corpus, vocabulary, pre-training runs and fine-tuning runs (default "
                        f"{DEFAULTS.study_dir}; with --tiny runs/budget_study_tiny).")
    flags.DEFINE_string("output", None, f"The JSON of rows (default {DEFAULTS.output}; with "
                        "--tiny, budget_study.json in --study_dir).")
    flags.DEFINE_string("plot", None, "The PNG (default: --output with .png).")
    flags.DEFINE_string("config", DEFAULTS.config, "Encoder sizes and pre-training recipe: a "
                        "preset or a JSON file.")
    flags.DEFINE_list("budgets_minutes", [str(m) for m in DEFAULTS.budgets_minutes],
                      "Budgets as minutes of the config's fp32 ELECTRA step, turned into FLOPs "
                      "once by a measured step cost (study_dir/step_cost.json).")
    flags.DEFINE_list("budgets_flops", [], "Budgets in FLOPs (used instead of --budgets_minutes).")
    flags.DEFINE_list("objectives", list(DEFAULTS.objectives), "Pre-training objectives.")
    flags.DEFINE_list("datasets", list(DEFAULTS.datasets),
                      f"Built-in datasets ({', '.join(BUILTIN_DATASETS)}).")
    recipes = ", ".join(preset_names(FinetuneConfig.PRESETS))
    flags.DEFINE_list("recipes", list(DEFAULTS.recipes),
                      f"Fine-tuning recipes run at every budget, with the probe ({recipes}, or "
                      "JSON files); each sets the number of labels (max_train_examples). "
                      "Several with one number of labels are a grid (learning rates, say): one "
                      "probe, and each seed's score is the recipe its dev score picks.")
    flags.DEFINE_list("largest_budget_recipes", list(DEFAULTS.largest_budget_recipes),
                      "Recipes run at the largest budget only (fine-tuning, no probe); "
                      "--largest_budget_recipes= runs none.")
    flags.DEFINE_list("seeds", [str(s) for s in DEFAULTS.seeds], "Fine-tuning seeds.")
    flags.DEFINE_bool("probe", DEFAULTS.probe, "Linear probes beside fine-tuning.")
    flags.DEFINE_integer("vocab_size", DEFAULTS.vocab_size, "The shared vocabulary's size.")
    flags.DEFINE_integer("checkpoint_steps", DEFAULTS.checkpoint_steps,
                         "Pre-training checkpoint interval (what a killed run redoes at most).")
    flags.DEFINE_float("time_limit_minutes", None,
                       "Start no new cell (pre-training or fine-tuning) after this many minutes.")


def _numbers(name, kind):
    try:
        return tuple(kind(value) for value in FLAGS[name].value)
    except ValueError:
        raise app.UsageError(f"--{name} takes comma-separated numbers, got "
                             f"{','.join(FLAGS[name].value)}.") from None


def plan_from_flags():
    """The `StudyPlan` the flags describe."""
    command = shlex.join(sys.argv)
    if FLAGS.tiny:
        study_dir = FLAGS.study_dir or "runs/budget_study_tiny"
        given = {name: FLAGS[name].value for name in ("output", "plot", "time_limit_minutes")
                 if FLAGS[name].value is not None}
        return budget_study.StudyPlan.tiny(study_dir, command=command, **given)
    return budget_study.StudyPlan(
        study_dir=FLAGS.study_dir or DEFAULTS.study_dir, output=FLAGS.output or DEFAULTS.output,
        plot=FLAGS.plot, config=FLAGS.config,
        budgets_minutes=_numbers("budgets_minutes", float),
        budgets_flops=_numbers("budgets_flops", float),
        objectives=tuple(FLAGS.objectives), datasets=tuple(FLAGS.datasets),
        recipes=tuple(FLAGS.recipes), largest_budget_recipes=tuple(FLAGS.largest_budget_recipes),
        seeds=_numbers("seeds", int), probe=FLAGS.probe, vocab_size=FLAGS.vocab_size,
        checkpoint_steps=FLAGS.checkpoint_steps, time_limit_minutes=FLAGS.time_limit_minutes,
        command=command)


def main(argv):
    del argv
    # Progress lines carry the time: the study runs for hours, in pieces.
    for handler in logging.getLogger("electra_tf").handlers:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s " + ("%(levelname)s: " if handler.level >= logging.WARNING else "")
            + "%(message)s", "%Y-%m-%d %H:%M:%S"))
    plan = plan_from_flags()
    result = budget_study.run_study(plan)
    counts = result.counts
    print(f"ran {counts['pretraining']} pre-training runs, {counts['finetune']} fine-tuning "
          f"cells and {counts['probe']} probes; {counts['skipped']} cells were done already")
    print(budget_study.summary_table(result.rows))
    print(f"rows: {result.output}" + (f"\nplot: {result.plot}" if result.plot else ""))


def run():
    """The `electra-study` command."""
    define_flags()
    cli.run(main, __doc__, [__name__])
