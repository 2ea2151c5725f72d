"""Fine-tunes a classifier, an NER tagger or a multi-task model; writes a model dir + metrics.json.

The `electra-finetune` command (electra_tf/cli/finetune.py); `--help` shows its examples and flags.
"""

from electra_tf_launcher import finetune

if __name__ == "__main__":
    finetune()
