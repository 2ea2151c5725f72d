"""Trains, evaluates and runs an ELECTRA encoder-decoder translator.

Examples:
  # train English→Chinese on the gettext catalogs, report BLEU / chrF on unseen catalogs
  python scripts/translate.py --dataset gettext_en_zh --model_dir runs/en_zh --epochs 10
  # same, encoder warm-started from a pre-trained electra_tf model directory
  python scripts/translate.py --dataset gettext_en_zh --encoder runs/zh_small --model_dir runs/en_zh_ws
  # your own pairs: source<TAB>target per line
  python scripts/translate.py --train_file pairs.tsv --model_dir runs/mine
  # inference: one line in, one line out
  echo "Open File" | python scripts/translate.py --model_dir runs/en_zh --sampler beam
"""

from absl import app, flags

from electra_tf.training import cli_generation

cli_generation.define_flags(default_dataset=None, separate_vocabularies=True)


def main(argv):
    del argv
    cli_generation.run(flags.FLAGS, metric="bleu")


if __name__ == "__main__":
    app.run(main)
