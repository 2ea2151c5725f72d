"""Trains and runs ELECTRA encoder-decoder text generation (poems, continuation).

The `electra-generate` command (electra_tf/cli/generate.py); `--help` shows its examples and flags.
"""

from electra_tf_launcher import generate

if __name__ == "__main__":
    generate()
