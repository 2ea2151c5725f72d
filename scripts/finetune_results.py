"""The README's fine-tuning table: pre-trained vs random initialisation.

Fine-tunes on `chinese_sentiment` (test accuracy) and `peoples_daily_ner`
(test entity F1), once from the discriminator in --pretrained_dir and once
from random weights of the same sizes and vocabulary, with the same budget.
Writes `results.md` and `results.json` under --output_dir.

  python scripts/pretrain.py --config zh_small --default_corpus --model_dir runs/zh_small \
      --vocab_size 8000 --train_steps 300 --batch_size 32 --sequence_length 128
  python scripts/finetune_results.py --pretrained_dir runs/zh_small \
      --output_dir runs/finetune_results --epochs 2 --max_train_examples 4000
"""

import json
import pathlib

from absl import app, flags

from electra_tf.training.finetune import compare_initialisations, results_table

FLAGS = flags.FLAGS
flags.DEFINE_string("pretrained_dir", "runs/zh_small", "Model directory written by pretrain.py.")
flags.DEFINE_string("output_dir", "runs/finetune_results", "Where the four runs and tables go.")
flags.DEFINE_integer("epochs", 2, "Epochs per run.")
flags.DEFINE_integer("max_train_examples", 4000, "Training examples per run (0: all).")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_integer("sequence_length", 128, "Tokens per example.")
flags.DEFINE_float("learning_rate", 3e-4, "Peak learning rate (the paper's for Small).")
flags.DEFINE_float("layer_decay", 0.8, "Layer-wise learning-rate decay.")
flags.DEFINE_integer("seed", 0, "Seed shared by all runs.")


def main(argv):
    del argv
    rows = compare_initialisations(
        FLAGS.pretrained_dir, FLAGS.output_dir, epochs=FLAGS.epochs,
        max_train_examples=FLAGS.max_train_examples or None, batch_size=FLAGS.batch_size,
        sequence_length=FLAGS.sequence_length, learning_rate=FLAGS.learning_rate,
        layer_decay=FLAGS.layer_decay, seed=FLAGS.seed,
    )
    output = pathlib.Path(FLAGS.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    table = results_table(rows)
    (output / "results.md").write_text(table)
    (output / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table)


if __name__ == "__main__":
    app.run(main)
