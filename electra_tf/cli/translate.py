r"""Trains, evaluates and runs an ELECTRA encoder-decoder translator.

Trains by the recipe measured on two CPU cores unless told otherwise (the defaults below:
a vocabulary per side, 3 + 3 layers of width 256, 7 epochs of batches of 64 pairs of about
one length, Adam peaking at 1e-3 after a tenth of the steps and decaying to zero at the last;
docs/generation.md shows what it reaches on the gettext catalogs).

Examples:
  # train English→Chinese on the gettext catalogs, report BLEU / chrF on unseen catalogs
  electra-translate --dataset gettext_en_zh --model_dir runs/en_zh
  # Chinese→English: a lower peak rate (at 1e-3 it stayed source-blind)
  electra-translate --dataset gettext_zh_en --learning_rate 5e-4 --model_dir runs/zh_en
  # English→Chinese, encoder warm-started from a pre-trained electra_tf model directory; it
  # must have read the source language (generation_results.py --stages warm_start makes one)
  electra-translate --dataset gettext_en_zh --separate_vocabularies=false \
      --encoder runs/generation_results/bilingual_electra --model_dir runs/en_zh_ws
  # your own pairs: source<TAB>target per line
  electra-translate --train_file pairs.tsv --model_dir runs/mine
  # inference: one line in, one line out
  echo "Open File" | electra-translate --model_dir runs/en_zh --sampler beam

In a checkout, `python scripts/translate.py` is the same command.
"""

from electra_tf.cli import generation
from electra_tf.training.generation import TRANSLATION_RECIPE


def run():
    """The `electra-translate` command."""
    generation.run_command(__doc__, separate_vocabularies=True, metric="bleu",
                           recipe=TRANSLATION_RECIPE)
