"""The equal-compute study: ELECTRA vs a masked LM vs random weights, by pre-training FLOPs.

The `electra-study` command (electra_tf/cli/study.py); `--help` shows its examples and flags,
docs/budget_study.md what it writes.
"""

from electra_tf_launcher import study

if __name__ == "__main__":
    study()
