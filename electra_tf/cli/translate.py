r"""Trains, evaluates and runs an ELECTRA encoder-decoder translator.

Examples:
  # train English→Chinese on the gettext catalogs, report BLEU / chrF on unseen catalogs
  electra-translate --dataset gettext_en_zh --model_dir runs/en_zh --epochs 10
  # same, encoder warm-started from a pre-trained electra_tf model directory; it must have
  # read the source language (scripts/generation_results.py pre-trains a bilingual one)
  electra-translate --dataset gettext_en_zh --separate_vocabularies=false \
      --encoder runs/generation_results/bilingual_electra --model_dir runs/en_zh_ws
  # your own pairs: source<TAB>target per line
  electra-translate --train_file pairs.tsv --model_dir runs/mine
  # inference: one line in, one line out
  echo "Open File" | electra-translate --model_dir runs/en_zh --sampler beam

In a checkout, `python scripts/translate.py` is the same command.
"""

from electra_tf.cli import generation


def run():
    """The `electra-translate` command."""
    generation.run_command(__doc__, separate_vocabularies=True, metric="bleu")
