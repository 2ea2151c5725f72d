"""Fine-tunes a classifier or NER tagger and writes a model directory + metrics.json.

Examples:
  # Chinese sentiment from the discriminator `make run` pre-trained
  python scripts/finetune.py --task classification --dataset chinese_sentiment \
      --init_from runs/zh_small --model_dir runs/sentiment --epochs 2

  # NER on People's Daily from random weights (same sizes and vocabulary)
  python scripts/finetune.py --task ner --dataset peoples_daily_ner --config zh_small \
      --vocab_file runs/zh_small/vocab.txt --model_dir runs/ner_random

  # your own files: label<TAB>text[<TAB>text_b] TSV, or token<TAB>tag CoNLL
  python scripts/finetune.py --task classification --train_file train.tsv \
      --dev_file dev.tsv --test_file test.tsv --init_from runs/zh_small --model_dir runs/mine

The model directory is a keras-hub preset: `ElectraClassifier.from_preset(dir)`
(or `ElectraTagger.from_preset(dir)`) loads it, label names included.
"""

import dataclasses
import json

from absl import app, flags

from electra_tf.models.classifier import ElectraClassifier
from electra_tf.models.tagger import ElectraTagger
from electra_tf.training.finetune import BUILTIN_DATASETS, FinetuneSpec, run_finetuning

FLAGS = flags.FLAGS
flags.DEFINE_enum("task", None, ["classification", "ner", "multitask"], "What to fine-tune.")
flags.DEFINE_enum("dataset", None, list(BUILTIN_DATASETS), "A built-in dataset (fixed splits).")
flags.DEFINE_string("train_file", None, "Training data: TSV (classification) or CoNLL (ner).")
flags.DEFINE_string("dev_file", None, "Development data, same format; labels must be known.")
flags.DEFINE_string("test_file", None, "Optional test data, same format.")
flags.DEFINE_string(
    "init_from", None,
    "An electra_tf model directory (its discriminator) or a keras-hub ElectraBackbone preset; "
    "random initialisation when absent.")
flags.DEFINE_string("model_dir", None, "Where the fine-tuned model and metrics.json go.")
flags.DEFINE_integer("epochs", 3, "Training epochs.")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_string("config", "zh_small", "Sizes for random initialisation (preset or JSON).")
flags.DEFINE_string("vocab_file", None, "Vocabulary for random initialisation.")
flags.DEFINE_integer("vocab_size", 8000, "Random init without --vocab_file: learn this many pieces.")
flags.DEFINE_integer("sequence_length", 128, "Tokens per example ([CLS] and [SEP] included).")
flags.DEFINE_float("learning_rate", 1e-4, "Peak learning rate (paper: 3e-4 Small, 1e-4 Base).")
flags.DEFINE_float("layer_decay", 0.8, "Layer-wise learning-rate decay; 1 turns it off.")
flags.DEFINE_float("warmup_fraction", 0.1, "Share of the steps spent warming up.")
flags.DEFINE_float("dropout", None, "Head dropout (and encoder dropout for random init).")
flags.DEFINE_enum("head", "electra", ["electra", "hf"], "Classification head.")
flags.DEFINE_integer("early_stopping_patience", None,
                     "Stop after this many epochs without a better dev score; keep the best.")
flags.DEFINE_integer("max_train_examples", None, "Train on a random subset of this size.")
flags.DEFINE_integer("seed", 0, "Seed for initialisation, subsampling and data order.")
flags.DEFINE_list("sample_texts", [],
                  "Texts to classify or tag with the saved model afterwards (comma-separated).")
flags.mark_flags_as_required(["task", "model_dir"])


def main(argv):
    del argv
    if FLAGS.task == "multitask":
        raise app.UsageError(
            "--task multitask is not wired into this script yet; use "
            "electra_tf.models.multitask.ElectraMultiTask from Python.")
    fields = {f.name for f in dataclasses.fields(FinetuneSpec)}
    spec = FinetuneSpec(**{name: FLAGS[name].value for name in fields})
    metrics = run_finetuning(spec)
    print(json.dumps({split: metrics[split] for split in ("dev", "test") if split in metrics}, indent=2))
    if FLAGS.sample_texts:
        # Reloaded from the model directory, as a user would.
        if spec.task == "classification":
            model = ElectraClassifier.from_preset(spec.model_dir)
            predictions = model.predict_labels(FLAGS.sample_texts)
        else:
            predictions = ElectraTagger.from_preset(spec.model_dir).tag(FLAGS.sample_texts)
        for text, prediction in zip(FLAGS.sample_texts, predictions):
            print(f"{text} -> {json.dumps(prediction, ensure_ascii=False)}")


if __name__ == "__main__":
    app.run(main)
