r"""Fine-tunes a classifier, an NER tagger or a multi-task model; writes a model dir + metrics.json.

Examples:
  # Chinese sentiment from the discriminator `make run` pre-trained
  electra-finetune --task classification --dataset chinese_sentiment \
      --init_from runs/zh_small --model_dir runs/sentiment --epochs 2

  # NER on People's Daily from random weights (same sizes and vocabulary)
  electra-finetune --task ner --dataset peoples_daily_ner --config zh_small \
      --vocab_file runs/zh_small/vocab.txt --model_dir runs/ner_random

  # one encoder, a sentiment head and an NER head, task batches mixed
  electra-finetune --task multitask --dataset chinese_sentiment,peoples_daily_ner \
      --init_from runs/zh_small --model_dir runs/multitask --task_weights peoples_daily_ner=0.5

  # your own files: label<TAB>text[<TAB>text_b] TSV, or token<TAB>tag CoNLL
  electra-finetune --task classification --train_file train.tsv \
      --dev_file dev.tsv --test_file test.tsv --init_from runs/zh_small --model_dir runs/mine

The recipe (learning rate, layer decay, warmup, epochs, ...) comes from --recipe
(a preset, `electra_tf/presets/finetune/*.json`, or your JSON file); single flags
override it.
The model directory is a keras-hub preset: `ElectraClassifier.from_preset(dir)`
(or `ElectraTagger.from_preset(dir)`) loads it, label names included;
a multi-task directory loads with `ElectraMultiTask.from_preset(dir)`.
The training metrics as training went (every few steps), the learning rate, each
epoch's means and the dev metrics, at the step they were measured, go to
TensorBoard (`tensorboard --logdir <model_dir>/logs`); at the end they are drawn
into <model_dir>/training_curves.png.
In a checkout, `python scripts/finetune.py` is the same command.
"""

import dataclasses
import functools
import json
import pathlib

from absl import app, flags

from electra_tf import cli, precision
from electra_tf.config import FinetuneConfig, preset_names
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.model_dir import LOGS_DIRNAME
from electra_tf.models.tagging.tagger import ElectraTagger
from electra_tf.training import summaries
from electra_tf.training.distribute import is_chief
from electra_tf.training.finetune import BUILTIN_DATASETS, FinetuneSpec, run_finetuning

FLAGS = flags.FLAGS


@functools.cache
def define_flags():
    """Defines the command's flags (once)."""
    flags.DEFINE_enum("task", None, ["classification", "ner", "multitask"], "What to fine-tune.")
    flags.DEFINE_string(
        "dataset", None,
        f"A built-in dataset ({', '.join(BUILTIN_DATASETS)}; fixed splits). --task multitask: "
        "comma-separated built-in datasets, all of them when absent.")
    flags.DEFINE_string("train_file", None, "Training data: TSV (classification) or CoNLL (ner).")
    flags.DEFINE_string("dev_file", None, "Development data, same format; labels must be known.")
    flags.DEFINE_string("test_file", None, "Optional test data, same format.")
    flags.DEFINE_string(
        "init_from", None,
        "An electra_tf model directory (its discriminator) or a keras-hub ElectraBackbone preset; "
        "random initialisation when absent.")
    flags.DEFINE_string("model_dir", None, "Where the fine-tuned model and metrics.json go.")
    flags.DEFINE_string("config", "zh_small", "Sizes for random initialisation (preset or JSON).")
    flags.DEFINE_string("vocab_file", None, "Vocabulary for random initialisation.")
    flags.DEFINE_integer("vocab_size", 8000, "Random init without --vocab_file: learn this many pieces.")
    flags.DEFINE_integer("seed", 0, "Seed for initialisation, subsampling and data order.")
    flags.DEFINE_list("sample_texts", [],
                      "Texts to classify or tag with the saved model afterwards (comma-separated).")
    flags.DEFINE_string(
        "recipe", "paper_small",
        f"The fine-tuning recipe: a preset ({', '.join(preset_names(FinetuneConfig.PRESETS))}) or a "
        "JSON file; the flags below override single values.")
    # Recipe overrides: None keeps the recipe's value.
    flags.DEFINE_float("learning_rate", None, "Peak learning rate.")
    flags.DEFINE_float("layer_decay", None, "Layer-wise learning-rate decay; 1 turns it off.")
    flags.DEFINE_float("warmup_fraction", None, "Share of the steps spent warming up.")
    flags.DEFINE_bool(
        "adam_bias_correction", None,
        "Adam's bias correction (Keras' default); false is the original ELECTRA's uncorrected "
        "update, larger early on (the paper_small / paper_base recipes).")
    flags.DEFINE_integer("epochs", None, "Training epochs.")
    flags.DEFINE_integer("batch_size", None, "Batch size.")
    flags.DEFINE_integer("sequence_length", None, "Tokens per example ([CLS] and [SEP] included).")
    flags.DEFINE_float("dropout", None, "Head dropout (and encoder dropout for random init).")
    flags.DEFINE_enum("head", None, ["electra", "hf"], "Classification head.")
    flags.DEFINE_integer("early_stopping_patience", None,
                         "Stop after this many epochs without a better dev score; keep the best.")
    flags.DEFINE_integer("early_stopping_start_epoch", None,
                         "Epochs trained before early stopping watches the dev score.")
    flags.DEFINE_integer("max_train_examples", None, "Train on a random subset of this size.")
    flags.DEFINE_integer("max_dev_examples", None,
                         "Score dev on a subset of this size (fixed, whatever --seed).")
    flags.DEFINE_integer("max_test_examples", None,
                         "Score test on a subset of this size (fixed, whatever --seed).")
    flags.DEFINE_list("task_weights", None, "Multi-task loss weights: name=weight,name=weight.")
    flags.DEFINE_bool("uncertainty_weighting", None, "Multi-task: learn Kendall et al.'s weighting.")
    flags.DEFINE_float("sampling_temperature", None, "Multi-task: task sampling temperature.")
    flags.DEFINE_enum(
        "dtype_policy", None, [*precision.DTYPE_POLICIES, precision.AUTO],
        "Keras dtype policy to train and predict under; mixed_bfloat16 computes in bfloat16 "
        "with float32 variables, faster on CPUs with bfloat16 instructions; auto picks it there "
        "and float32 elsewhere.")
    cli.define_strategy_flags()
    flags.mark_flags_as_required(["task", "model_dir"])


RECIPE_FLAGS = [f.name for f in dataclasses.fields(FinetuneConfig) if f.name != "name"]


def recipe_from_flags():
    """The --recipe preset with every flag the user set applied on top."""
    recipe = FinetuneConfig.from_preset(FLAGS.recipe)
    changes = {name: FLAGS[name].value for name in RECIPE_FLAGS if FLAGS[name].value is not None}
    if "task_weights" in changes:
        try:
            changes["task_weights"] = {
                name: float(weight) for name, weight in (w.split("=") for w in changes["task_weights"])}
        except ValueError:
            raise app.UsageError(
                f"--task_weights takes name=weight pairs, e.g. chinese_sentiment=1,"
                f"peoples_daily_ner=0.5; got {FLAGS.task_weights}.") from None
    return recipe.replace(**changes)


def main(argv):
    del argv
    strategy = cli.strategy_from_flags()
    fields = {f.name for f in dataclasses.fields(FinetuneSpec)} - {"recipe"}
    spec = FinetuneSpec(**{name: FLAGS[name].value for name in fields}, recipe=recipe_from_flags())
    metrics = run_finetuning(spec, strategy)
    print(json.dumps({split: metrics[split] for split in ("dev", "test") if split in metrics}, indent=2))
    if not is_chief(strategy):
        return
    curves = summaries.plot_curves(pathlib.Path(spec.model_dir) / LOGS_DIRNAME,
                                   pathlib.Path(spec.model_dir) / summaries.CURVES_FILENAME,
                                   title=f"fine-tuning {spec.model_dir}")
    print(f"training curves: {curves}")
    if FLAGS.sample_texts:
        # Reloaded from the model directory, as a user would.
        if spec.task == "classification":
            model = ElectraClassifier.from_preset(spec.model_dir)
            predictions = model.predict_labels(FLAGS.sample_texts)
        elif spec.task == "ner":
            predictions = ElectraTagger.from_preset(spec.model_dir).tag(FLAGS.sample_texts)
        else:
            raise app.UsageError("--sample_texts works with --task classification or ner.")
        for text, prediction in zip(FLAGS.sample_texts, predictions):
            print(f"{text} -> {json.dumps(prediction, ensure_ascii=False)}")


def run():
    """The `electra-finetune` command."""
    define_flags()
    cli.run(main, __doc__, [__name__])
