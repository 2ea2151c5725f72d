r"""Exports a model directory as a string-in SavedModel laid out for TF Serving.

Examples:
  # the pre-trained discriminator and generator of a pre-training run
  electra-export --model_dir runs/zh_small --export_dir exports --kind discriminator
  electra-export --model_dir runs/zh_small --export_dir exports --kind generator

  # a fine-tuned task model: the kind is read from the directory (its task.json)
  electra-export --model_dir runs/multi --export_dir exports --model_name multi
  electra-export --model_dir runs/poems --export_dir exports --model_name poems --num_beams 4
  # any kind computing in bfloat16 (float32 variables; the signatures' outputs as in float32)
  electra-export --model_dir runs/multi --export_dir exports --dtype_policy mixed_bfloat16

  # then serve everything under exports/ (models.config is rewritten each time)
  docker run -p 8501:8501 -v "$PWD/exports:/models" tensorflow/serving \
      --model_config_file=/models/models.config

  # query an export from a process that imports only TensorFlow
  python electra_tf/export/standalone.py predict exports/discriminator/1 "今天天气很好"

Writes `<export_dir>/<model_name>/<version>/` (version: one past the highest
present unless --version is given) and `<export_dir>/models.config`; the first
line printed names the compute dtype the export takes.
In a checkout, `python scripts/export.py` is the same command.
"""

import functools
import logging

from absl import flags

from electra_tf import cli, precision
from electra_tf.export import servables, serving

FLAGS = flags.FLAGS
log = logging.getLogger(__name__)


@functools.cache
def define_flags():
    """Defines the command's flags (once)."""
    flags.DEFINE_string("model_dir", None, "A model directory written by this package's scripts.")
    flags.DEFINE_string("export_dir", None, "Base directory of the TF Serving model repository.")
    flags.DEFINE_enum(
        "kind", None, sorted(servables.SERVABLES),
        "What to export; default: what --model_dir holds (a pre-training run: discriminator).")
    flags.DEFINE_string("model_name", None, "Name the server knows the model by; default: --kind.")
    flags.DEFINE_integer("version", None, "Version directory; default: one past the highest present.")
    flags.DEFINE_bool("pairs", False, "classifier: serve sentence pairs (inputs text, text_pair).")
    flags.DEFINE_integer("sequence_length", None, "Overrides the model's sequence length.")
    flags.DEFINE_integer("num_beams", 4, "seq2seq: beam width of the generate_beam signature.")
    flags.DEFINE_float("length_penalty", 0.0, "seq2seq: generate_beam's GNMT length penalty.")
    flags.DEFINE_enum(
        "dtype_policy", None, [*precision.DTYPE_POLICIES, precision.AUTO],
        "The Keras dtype policy the export computes under (any kind; float outputs stay "
        "float32; auto: mixed_bfloat16 on a CPU with bfloat16 instructions, else float32); "
        "default: the one the model was saved under.")
    flags.DEFINE_bool(
        "check_ops", True, "Refuse an export that uses an op stock TF Serving lacks (takes seconds).")
    flags.mark_flags_as_required(["model_dir", "export_dir"])


def main(argv):
    del argv
    kind = FLAGS.kind or servables.detect_kind(FLAGS.model_dir)
    options = {} if FLAGS.sequence_length is None else {"sequence_length": FLAGS.sequence_length}
    if kind == "classifier":
        options["pairs"] = FLAGS.pairs
    if kind == "seq2seq":
        options.update(num_beams=FLAGS.num_beams, length_penalty=FLAGS.length_penalty)
    model = servables.load_model(kind, FLAGS.model_dir,
                                 precision.resolve_dtype_policy(FLAGS.dtype_policy))
    log.info(precision.compute_dtype_line(servables.encoder_policy(model)))
    servable = servables.SERVABLES[kind](model, **options)
    path = serving.export_for_serving(
        servable, FLAGS.export_dir, FLAGS.model_name or kind, version=FLAGS.version,
        check_ops=FLAGS.check_ops,
    )
    config = serving.write_models_config(FLAGS.export_dir)
    print(f"exported {kind} to {path}; TF Serving config: {config}")


def run():
    """The `electra-export` command."""
    define_flags()
    cli.run(main, __doc__, [__name__])
