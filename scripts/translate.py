"""Trains, evaluates and runs an ELECTRA encoder-decoder translator.

Examples:
  # train English→Chinese on the gettext catalogs, report BLEU / chrF on unseen catalogs
  python scripts/translate.py --dataset gettext_en_zh --model_dir runs/en_zh --epochs 10
  # same, encoder warm-started from a pre-trained electra_tf model directory; it must have
  # read the source language (scripts/generation_results.py pre-trains a bilingual one)
  python scripts/translate.py --dataset gettext_en_zh --separate_vocabularies=false \
      --encoder runs/generation_results/bilingual_electra --model_dir runs/en_zh_ws
  # your own pairs: source<TAB>target per line
  python scripts/translate.py --train_file pairs.tsv --model_dir runs/mine
  # inference: one line in, one line out
  echo "Open File" | python scripts/translate.py --model_dir runs/en_zh --sampler beam
"""

from electra_tf.training import cli_generation

if __name__ == "__main__":
    cli_generation.main(metric="bleu", separate_vocabularies=True)
