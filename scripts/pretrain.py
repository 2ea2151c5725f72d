"""Pre-trains an ELECTRA generator + discriminator from raw text.

The `electra-pretrain` command (electra_tf/cli/pretrain.py); `--help` shows its examples and flags.
"""

from electra_tf_launcher import pretrain

if __name__ == "__main__":
    pretrain()
