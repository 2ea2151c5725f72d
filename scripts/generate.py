"""Trains and runs ELECTRA encoder-decoder text generation (poems, continuation).

Examples:
  # poems: first line → the rest (needs fortunes-zh), perplexity on held-out poems
  python scripts/generate.py --dataset poems --model_dir runs/poems --epochs 30
  # People's Daily: sentence → next sentence
  python scripts/generate.py --dataset peoples_daily --model_dir runs/pd
  # inference with sampling: one line in, one line out
  echo "床前明月光，疑是地上霜。" | python scripts/generate.py --model_dir runs/poems \
      --sampler top_p --p 0.9 --temperature 0.8 --seed 1
"""

from electra_tf.training import cli_generation

if __name__ == "__main__":
    cli_generation.main(metric="perplexity", separate_vocabularies=False)
