"""The README's fine-tuning table: pre-trained vs random initialisation.

Fine-tunes on `chinese_sentiment` (test accuracy) and `peoples_daily_ner`
(test entity F1), once from the discriminator in --pretrained_dir and once
from random weights of the same sizes and vocabulary, with the same recipe
(`configs/finetune/zh_small.json` by default). Writes `results.md` and
`results.json` under --output_dir.

  python scripts/pretrain.py --config zh_small --default_corpus --model_dir runs/zh_small \
      --vocab_size 8000
  python scripts/finetune_results.py --pretrained_dir runs/zh_small \
      --output_dir runs/finetune_results
"""

import json
import pathlib

from absl import app, flags

from electra_tf.config import FinetuneConfig, preset_names
from electra_tf.training.finetune import compare_initialisations, results_table

FLAGS = flags.FLAGS
flags.DEFINE_string("pretrained_dir", "runs/zh_small", "Model directory written by pretrain.py.")
flags.DEFINE_string("output_dir", "runs/finetune_results", "Where the four runs and tables go.")
flags.DEFINE_string(
    "recipe", "zh_small",
    f"Fine-tuning recipe shared by all runs: a preset "
    f"({', '.join(preset_names(FinetuneConfig.PRESETS))}) or a JSON file.")
flags.DEFINE_integer("seed", 0, "Seed shared by all runs.")


def main(argv):
    del argv
    recipe = FinetuneConfig.from_preset(FLAGS.recipe)
    rows = compare_initialisations(FLAGS.pretrained_dir, FLAGS.output_dir, recipe=recipe,
                                   seed=FLAGS.seed)
    output = pathlib.Path(FLAGS.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    table = results_table(rows)
    (output / "results.md").write_text(table)
    (output / "results.json").write_text(
        json.dumps({"recipe": recipe.to_dict(), "rows": rows}, indent=2) + "\n")
    print(table)


if __name__ == "__main__":
    app.run(main)
