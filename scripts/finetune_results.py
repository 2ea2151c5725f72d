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
from electra_tf.models import model_dir as model_dirs
from electra_tf.training import finetune

FLAGS = flags.FLAGS


def define_flags():
    """The command's flags (defined when it runs, so tests can import this file)."""
    flags.DEFINE_string("pretrained_dir", "runs/zh_small", "Model directory written by pretrain.py.")
    flags.DEFINE_string("output_dir", "runs/finetune_results", "Where the four runs and tables go.")
    flags.DEFINE_string(
        "recipe", "zh_small",
        f"Fine-tuning recipe shared by all runs: a preset "
        f"({', '.join(preset_names(FinetuneConfig.PRESETS))}) or a JSON file.")
    flags.DEFINE_integer("seed", 0, "Seed shared by all runs.")


def compare_initialisations(pretrained_dir, output_dir, recipe=None, seed=0):
    """Pre-trained vs random init on both built-in Chinese tasks, with one recipe.

    The random encoder has the pre-trained one's sizes and vocabulary, so the
    weights are the only difference. A run whose `metrics.json` already holds
    the same spec is reused (so an interrupted comparison resumes, and runs
    can be started separately with `scripts/finetune.py`). Returns table rows.
    """
    recipe = recipe or FinetuneConfig()
    pretrained_dir, output_dir = pathlib.Path(pretrained_dir), pathlib.Path(output_dir)
    encoder_config = output_dir / "encoder_config.json"  # the random encoder's sizes
    output_dir.mkdir(parents=True, exist_ok=True)
    model_dirs.pretraining_config(pretrained_dir).save(encoder_config)
    rows = []
    for dataset, task in finetune.BUILTIN_DATASETS.items():
        for start in ("pre-trained", "random"):
            spec = finetune.FinetuneSpec(
                task=task, dataset=dataset, model_dir=str(output_dir / f"{dataset}-{start}"),
                init_from=str(pretrained_dir) if start == "pre-trained" else None,
                config=str(encoder_config),
                vocab_file=str(model_dirs.vocabulary_file(pretrained_dir)),
                seed=seed, recipe=recipe,
            )
            test = finished_test_metrics(spec) or finetune.run_finetuning(spec)["test"]
            score = test["accuracy"] if task == "classification" else test["entity_f1"]
            rows.append({"dataset": dataset, "start": start, "score": score,
                         "metric": "accuracy" if task == "classification" else "entity F1",
                         "train_examples": recipe.max_train_examples, "epochs": recipe.epochs})
    return rows


def finished_test_metrics(spec):
    """The test metrics of a finished run with exactly this spec, else None."""
    path = pathlib.Path(spec.model_dir) / finetune.METRICS_FILENAME
    if not path.is_file():
        return None
    metrics = model_dirs.read_json(path, f"delete {spec.model_dir} to run that fine-tuning again")
    same = with_recipe_defaults(metrics.get("spec")) == json.loads(
        json.dumps(finetune.spec_record(spec)))
    return metrics.get("test") if same else None


def with_recipe_defaults(saved_spec):
    """A saved spec whose recipe gains the defaults of fields added since it was written
    (such as `dtype_policy`): the defaults are what those versions did."""
    if not isinstance(saved_spec, dict) or not isinstance(saved_spec.get("recipe"), dict):
        return saved_spec
    defaults = {name: value for name, value in FinetuneConfig().to_dict().items()
                if name != "name"}
    return {**saved_spec, "recipe": {**defaults, **saved_spec["recipe"]}}


def results_table(rows):
    """The README's Markdown table: one line per dataset, pre-trained vs random."""
    lines = ["| test set | metric | pre-trained | random init |", "|---|---|---|---|"]
    for dataset in finetune.BUILTIN_DATASETS:
        scores = {r["start"]: r for r in rows if r["dataset"] == dataset}
        if scores:
            metric = next(iter(scores.values()))["metric"]
            lines.append(f"| {dataset} | {metric} | "
                         f"{scores['pre-trained']['score']:.3f} | {scores['random']['score']:.3f} |")
    return "\n".join(lines) + "\n"


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
    define_flags()
    app.run(main)
