r"""Trains and runs ELECTRA encoder-decoder text generation (poems, continuation).

Examples:
  # poems: first line → the rest (needs fortunes-zh), perplexity on held-out poems
  electra-generate --dataset poems --model_dir runs/poems --epochs 30
  # People's Daily: sentence → next sentence
  electra-generate --dataset peoples_daily --model_dir runs/pd
  # inference with sampling: one line in, one line out
  echo "床前明月光，疑是地上霜。" | electra-generate --model_dir runs/poems \
      --sampler top_p --p 0.9 --temperature 0.8 --seed 1
  # greedy, computing in bfloat16 (float32 variables and logits; the compute dtype on stderr)
  echo "床前明月光，疑是地上霜。" | electra-generate --model_dir runs/poems \
      --dtype_policy mixed_bfloat16

In a checkout, `python scripts/generate.py` is the same command.
"""

from electra_tf.cli import generation


def run():
    """The `electra-generate` command."""
    generation.run_command(__doc__, separate_vocabularies=False, metric="perplexity")
