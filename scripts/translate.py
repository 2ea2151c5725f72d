"""Trains, evaluates and runs an ELECTRA encoder-decoder translator.

The `electra-translate` command (electra_tf/cli/translate.py); `--help` shows its examples and flags.
"""

from electra_tf_launcher import translate

if __name__ == "__main__":
    translate()
