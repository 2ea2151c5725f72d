"""Converts ELECTRA checkpoints between Hugging Face, original TF1, keras-hub and electra_tf.

The `electra-convert` command (electra_tf/cli/convert.py); `--help` shows its examples and flags.
"""

from electra_tf_launcher import convert

if __name__ == "__main__":
    convert()
