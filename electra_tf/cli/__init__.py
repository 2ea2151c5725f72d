"""The command-line programs, one module per command.

| command | module | library code it drives |
|---|---|---|
| `electra-pretrain` | `pretrain` | `electra_tf.training.pretrain` |
| `electra-finetune` | `finetune` | `electra_tf.training.finetune` |
| `electra-export` | `export` | `electra_tf.export` |
| `electra-generate`, `electra-translate` | `generate`, `translate` (flags shared in `generation`) | `electra_tf.training.generation` |
| `electra-convert` | `convert` | `electra_tf.convert` |
| `electra-study` | `study` | `electra_tf.training.budget_study` |

Each module's `run()` defines its absl flags (`define_flags()`) and runs
its `main(argv)` through `run` below (`absl.app.run(main)`; `--help` prints
the module's docstring, its examples included, and every flag the command
defines, the shared `--strategy` and `--tpu` of the training commands included);
`generate` and `translate` hand their docstring and settings to
`generation.run_command`, which does both for them. So one process runs one
command: two commands run in one process would define some flags twice.

The installed console scripts (setup.cfg) and `scripts/<name>.py` in a
checkout both start a command through `electra_tf_launcher`, which keeps
TensorFlow's C++ noise (no CUDA driver on a CPU-only machine, ...) from the
user unless `--verbose` is given; importing a module here does not. The
library reports progress through Python's `logging` (loggers under
`electra_tf`); a command shows those notes as plain lines, warnings on stderr
(`show_library_logs`), and TensorFlow's Python notes only from warnings up
(`--verbose`: from INFO up).
"""

import functools
import logging
import sys

from absl import app, flags
from absl import logging as absl_logging

from electra_tf.models.model_dir import RunFolderError, read_once
from electra_tf.training import distribute
from electra_tf.training.guards import NonFiniteLossError
from electra_tf.training.preemption import EXIT_CODE, TrainingPreempted

# The exit code of a command whose run or model folder cannot be read (as for a usage error:
# the command was asked for something it cannot do).
FOLDER_ERROR_EXIT_CODE = 2


def run(main, usage, flag_modules):
    """`absl.app.run(main)` with `usage` (the command module's docstring) and
    the flags defined in `flag_modules` (module names) and here as the `--help` text.

    absl prints the `__main__` module's docstring and the flags that module
    defined; `__main__` is `scripts/<name>.py` or the console script's stub,
    so both are pointed at the command module, and every flag the command
    defines is made one of its key flags (`--help` lists only those).
    """
    define_verbose_flag()
    sys.modules["__main__"].__doc__ = usage
    main_module = sys.argv[0]
    for module in (*flag_modules, __name__):
        for flag in flags.FLAGS.get_flags_for_module(module):
            flags.FLAGS.register_key_flag_for_module(main_module, flag)
    show_library_logs()
    # absl raises an unset --verbosity to INFO after parsing, which would show
    # TensorFlow's Python INFO notes (signal watchers, saving, ...) to every user.
    flags.FLAGS.verbosity = absl_logging.WARNING
    app.run(functools.partial(_stop_cleanly, main))


@functools.cache
def define_verbose_flag():
    """`--verbose`, on every command; electra_tf_launcher reads it before TensorFlow starts."""
    flags.DEFINE_bool(
        "verbose", False,
        "Show everything TensorFlow logs: its C++ lines (as TF_CPP_MIN_LOG_LEVEL=0 does) and "
        "its Python INFO notes. Without it, commands show their own progress and TensorFlow's "
        "warnings and errors.")


def define_strategy_flags():
    """`--strategy` and `--tpu`, the same on every training command."""
    flags.DEFINE_enum(
        "strategy", "default", list(distribute.STRATEGIES),
        "tf.distribute strategy: default (one device), mirrored (every local GPU), multi_worker "
        "(several machines: run the same command on each, with its TF_CONFIG), tpu (see --tpu).")
    flags.DEFINE_string("tpu", None, "With --strategy tpu: the TPU's name or grpc:// address "
                        "(empty on a Cloud TPU VM).")


def strategy_from_flags():
    """The strategy the flags name; call it before any other TensorFlow op (a multi-worker
    strategy sets up its collectives when made)."""
    try:
        return distribute.strategy_from_name(flags.FLAGS.strategy, flags.FLAGS.tpu)
    except RuntimeError as error:  # no TPU where --tpu points
        raise app.UsageError(str(error)) from None


def _stop_cleanly(main, argv):
    """`main(argv)`, with a run that diverged or was pre-empted, or a damaged run or model
    folder, ending in its message instead of a traceback; a pre-empted run exits with
    `preemption.EXIT_CODE`, which restart policies read as "run me again", a damaged folder
    (`model_dir.RunFolderError`: one line naming the file and the fix) with
    `FOLDER_ERROR_EXIT_CODE`. The command reads each file of its run and model folders
    once (`model_dir.read_once`)."""
    if flags.FLAGS.verbose and not flags.FLAGS["verbosity"].present:
        absl_logging.set_verbosity(absl_logging.INFO)
    try:
        with read_once():
            return main(argv)
    except NonFiniteLossError as error:
        raise SystemExit(f"error: {error}") from None
    except TrainingPreempted as error:
        print(error, file=sys.stderr)
        raise SystemExit(EXIT_CODE) from None
    except RunFolderError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(FOLDER_ERROR_EXIT_CODE) from None


def show_library_logs():
    """Sends the `electra_tf` loggers' notes to stdout and their warnings to stderr, unadorned.

    They stop propagating to the root logger, where absl's handler would
    print them a second time, prefixed with a timestamp and source line.
    """
    logger = logging.getLogger("electra_tf")
    notes = logging.StreamHandler(sys.stdout)
    notes.addFilter(lambda record: record.levelno < logging.WARNING)
    warnings = logging.StreamHandler(sys.stderr)
    warnings.setLevel(logging.WARNING)
    warnings.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.handlers = [notes, warnings]
    logger.setLevel(logging.INFO)
    logger.propagate = False
