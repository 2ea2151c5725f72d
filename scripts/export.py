"""Exports a model directory as a string-in SavedModel laid out for TF Serving.

The `electra-export` command (electra_tf/cli/export.py); `--help` shows its examples and flags.
"""

from electra_tf_launcher import export

if __name__ == "__main__":
    export()
