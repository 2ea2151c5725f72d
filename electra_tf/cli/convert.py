r"""Converts ELECTRA checkpoints between Hugging Face, original TF1, keras-hub and electra_tf.

Examples:
  # Google's released pair from the Hugging Face Hub (needs internet) -> a
  # pre-training model directory (continue with electra-pretrain --init_from)
  electra-convert --source google/electra-small-discriminator \
      --generator google/electra-small-generator --output_dir runs/electra_small

  # the same from the original TF1 release (a folder with the checkpoint and vocab.txt)
  electra-convert --source electra_small/ --output_dir runs/electra_small

  # a Hugging Face classifier or tagger -> an ElectraClassifier / ElectraTagger preset
  electra-convert --source my-electra-ner/ --output_dir runs/ner

  # back: a model trained here -> Hugging Face folders, or a keras-hub backbone preset
  electra-convert --source runs/sentiment --to hugging_face --output_dir hf/sentiment
  electra-convert --source runs/zh_small --to keras_hub --output_dir kh/zh_small

In a checkout, `python scripts/convert.py` is the same command.
"""

import functools
import sys

from absl import flags

from electra_tf import cli, convert

FLAGS = flags.FLAGS


@functools.cache
def define_flags():
    """Defines the command's flags (once)."""
    flags.DEFINE_string(
        "source", None,
        "What to convert: a Hugging Face model folder or Hub id (owner/name), an original TF1 "
        "checkpoint (folder or prefix), an electra_tf model directory or task preset, or a "
        "keras-hub ELECTRA preset.")
    flags.DEFINE_string(
        "generator", None,
        "A Hugging Face ElectraForMaskedLM folder or Hub id to pair with --source (an "
        "ElectraForPreTraining discriminator); together they become an ElectraPretrainer.")
    flags.DEFINE_string("output_dir", None, "Where the converted model goes.")
    flags.DEFINE_enum(
        "to", "electra_tf", list(convert.TARGETS),
        "Output format: electra_tf (a model directory or preset every script takes as "
        "--init_from / --model_dir), hugging_face (folders transformers loads), or keras_hub "
        "(the discriminator as a keras_hub.models.ElectraBackbone preset).")
    flags.DEFINE_string(
        "vocab_file", None, "TF1 checkpoints: the vocabulary (default: vocab.txt beside it).")
    flags.DEFINE_bool(
        "lowercase", True,
        "TF1 checkpoints: lower-case input text (the English releases are uncased; Hugging Face "
        "folders say it in tokenizer_config.json).")
    flags.DEFINE_integer(
        "num_heads", None,
        "TF1 checkpoints: attention heads of the discriminator (default hidden / 64, as every "
        "release); no tensor shape shows it.")
    flags.DEFINE_integer(
        "sequence_length", None,
        "Sequence length of the converted model's preprocessor and pre-training config (default "
        "128, or the model's positions if fewer).")
    flags.mark_flags_as_required(["source", "output_dir"])


def main(argv):
    del argv
    try:
        written = convert.convert(
            FLAGS.source, FLAGS.output_dir, generator=FLAGS.generator, to=FLAGS.to,
            vocab_file=FLAGS.vocab_file, lowercase=FLAGS.lowercase, num_heads=FLAGS.num_heads,
            sequence_length=FLAGS.sequence_length)
    except convert.ConversionError as error:
        # The message names the file and the fix; the usage text would bury it.
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(cli.FOLDER_ERROR_EXIT_CODE) from None
    for path in written:
        print(f"wrote {path}")


def run():
    """The `electra-convert` command."""
    define_flags()
    cli.run(main, __doc__, [__name__])
