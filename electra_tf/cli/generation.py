"""Flags and the train-or-serve flow shared by `electra-translate` and `electra-generate`.

The flags come in groups so that other command lines reuse them rather than
copy them: `define_sampler_flags` / `sampler_from_flags` also serve
`benchmarks/decoding.py`. The two commands differ only in their docstring
(their `--help`), the default of `--separate_vocabularies` and the metric,
so each is its docstring and

    def run():
        generation.run_command(__doc__, separate_vocabularies=True, metric="bleu")
"""

import json
import pathlib
import sys

from absl import flags, logging

from electra_tf import cli, precision
from electra_tf.data import parallel
from electra_tf.training import generation
from electra_tf.training.distribute import is_chief


def define_data_flags(default_dataset=None):
    flags.DEFINE_string("train_file", None, "TSV of source<TAB>target lines to train on.")
    flags.DEFINE_string("test_file", None, "TSV to evaluate on (default: the dataset's test split).")
    flags.DEFINE_string("dataset", default_dataset,
                        "Built-in data: gettext_en_zh, gettext_zh_en, poems, peoples_daily.")
    flags.DEFINE_string("fortunes_dir", None, "Directory holding fortunes-zh's tang300/song100.")
    flags.DEFINE_integer("max_train_pairs", None, "Use only the first N training pairs.")
    flags.DEFINE_integer("max_test_pairs", 1000, "Evaluate on at most N test pairs.")


def define_model_flags(separate_vocabularies=False, recipe=None):
    flags.DEFINE_string("encoder", None,
                        "Warm-start the encoder: an electra_tf model dir or an ElectraBackbone preset.")
    flags.DEFINE_bool("warm_start", True,
                      "With --encoder: load its weights (false: its tokenizer and shape, random "
                      "weights; the baseline a warm start is compared with).")
    flags.DEFINE_bool("separate_vocabularies", separate_vocabularies,
                      "Learn one vocabulary per side (translation) instead of a shared one.")
    recipe = recipe or {}
    flags.DEFINE_integer("vocab_size", recipe.get("vocab_size", 8000),
                         "Size of each learned vocabulary.")
    flags.DEFINE_integer("hidden_size", recipe.get("hidden_size", 256),
                         "Encoder and decoder width.")
    flags.DEFINE_integer("num_layers", recipe.get("num_layers", 4), "Encoder and decoder depth.")
    flags.DEFINE_float("dropout", recipe.get("dropout", 0.1), "Dropout rate.")
    flags.DEFINE_integer("sequence_length", recipe.get("sequence_length", 64),
                         "Source and target length in tokens.")
    flags.DEFINE_enum(
        "dtype_policy", None, [*precision.DTYPE_POLICIES, precision.AUTO],
        "The Keras dtype policy the model computes under (variables and logits stay float32; "
        "auto: mixed_bfloat16 on a CPU with bfloat16 instructions, else float32); default: "
        "training float32, inference the one the model was saved under.")


def define_training_flags(recipe=None):
    recipe = recipe or {}
    flags.DEFINE_integer("epochs", recipe.get("epochs", 10), "Training epochs.")
    flags.DEFINE_integer("batch_size", recipe.get("batch_size", 32), "Training batch size.")
    flags.DEFINE_float("learning_rate", recipe.get("learning_rate", 1e-4),
                       "Adam learning rate (with --schedule linear: its peak).")
    flags.DEFINE_enum("schedule", recipe.get("schedule", "constant"), ["constant", "linear"],
                      "Learning rate: constant, or linear: warm up over --warmup_fraction of "
                      "the steps, then decay linearly to zero at the last one.")
    flags.DEFINE_float("warmup_fraction", recipe.get("warmup_fraction", 0.05),
                       "With --schedule linear: the warmup's share of the steps.")
    flags.DEFINE_float("label_smoothing", recipe.get("label_smoothing", 0.1),
                       "Label smoothing of the training loss.")


def define_sampler_flags(samplers=("greedy", "beam", "top_k", "top_p")):
    flags.DEFINE_enum("sampler", "greedy", list(samplers), "Decoding.")
    flags.DEFINE_integer("num_beams", 4, "Beam width.")
    flags.DEFINE_float("length_penalty", 0.6, "GNMT length penalty exponent for beam search.")
    flags.DEFINE_integer("k", 10, "top_k: candidates kept.")
    flags.DEFINE_float("p", 0.9, "top_p: probability mass kept.")
    flags.DEFINE_float("temperature", 1.0, "Sampling temperature.")
    flags.DEFINE_integer("seed", 0, "Seed for shuffling and sampling.")


def sampler_from_flags(FLAGS):
    return generation.make_sampler(FLAGS.sampler, FLAGS.num_beams, FLAGS.length_penalty,
                                   FLAGS.k, FLAGS.p, FLAGS.temperature, FLAGS.seed)


def define_flags(default_dataset=None, separate_vocabularies=False, recipe=None):
    """Every flag of `electra-translate` and `electra-generate`; `recipe` (e.g.
    `training.generation.TRANSLATION_RECIPE`) sets the model and training flags' defaults."""
    flags.DEFINE_string("model_dir", None, "Where the model is saved (training) or read (inference).")
    define_data_flags(default_dataset)
    define_model_flags(separate_vocabularies, recipe)
    define_training_flags(recipe)
    define_sampler_flags()
    flags.DEFINE_integer("max_length", None, "Longest output in tokens (default: sequence_length).")
    cli.define_strategy_flags()
    flags.mark_flag_as_required("model_dir")


def _splits(FLAGS):
    if FLAGS.train_file:
        train = parallel.read_tsv(FLAGS.train_file)
        test = parallel.read_tsv(FLAGS.test_file) if FLAGS.test_file else []
        return train, test
    splits = generation.builtin_dataset(FLAGS.dataset, FLAGS.fortunes_dir)
    test = parallel.read_tsv(FLAGS.test_file) if FLAGS.test_file else splits["test"]
    return splits["train"], test


def run(FLAGS, metric):
    """Trains when --train_file or --dataset is given, otherwise serves stdin."""
    # Before any other TensorFlow op: multi-worker collectives are set up when it is made.
    strategy = cli.strategy_from_flags()
    model_dir = pathlib.Path(FLAGS.model_dir)
    sampler = sampler_from_flags(FLAGS)
    if not (FLAGS.train_file or FLAGS.dataset):
        lm = generation.load(model_dir, precision.resolve_dtype_policy(FLAGS.dtype_policy))
        # On stderr: stdout carries one generated line per input line, for pipes.
        print(precision.compute_dtype_line(lm.backbone.dtype_policy), file=sys.stderr)
        lm.compile(sampler=sampler)
        generation.serve_lines(lm, sys.stdin, sys.stdout, FLAGS.max_length)
        return

    train, test = _splits(FLAGS)
    train = train[: FLAGS.max_train_pairs] if FLAGS.max_train_pairs else train
    test = test[: FLAGS.max_test_pairs]
    with strategy.scope():
        lm = generation.build_lm(
            train, separate_vocabularies=FLAGS.separate_vocabularies, encoder=FLAGS.encoder,
            vocab_size=FLAGS.vocab_size, hidden_size=FLAGS.hidden_size,
            num_layers=FLAGS.num_layers, dropout=FLAGS.dropout,
            sequence_length=FLAGS.sequence_length, warm_start=FLAGS.warm_start,
            dtype_policy=precision.resolve_dtype_policy(FLAGS.dtype_policy),
        )
        generation.train(lm, train, FLAGS.epochs, FLAGS.batch_size, FLAGS.learning_rate,
                         FLAGS.label_smoothing, FLAGS.seed, schedule=FLAGS.schedule,
                         warmup_fraction=FLAGS.warmup_fraction)
    lm.compile(sampler=sampler)
    if not is_chief(strategy):  # the chief writes the model folder
        return
    generation.save(lm, model_dir)
    results = {"train_pairs": len(train), "test_pairs": len(test), "sampler": FLAGS.sampler,
               "warm_start": FLAGS.encoder if FLAGS.warm_start else None}
    if test:
        results["perplexity"] = generation.perplexity(lm, test)
        if metric == "bleu":
            lm.compile(sampler=sampler)
            results.update(generation.score(lm, test, max_length=FLAGS.max_length))
    logging.info("results: %s", results)
    (model_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


def run_command(usage, separate_vocabularies, metric, recipe=None):
    """Defines the flags and runs a command: `usage` is its `--help` text, `metric`
    what it reports besides perplexity (`"bleu"`: BLEU and chrF), `recipe` its defaults."""
    define_flags(separate_vocabularies=separate_vocabularies, recipe=recipe)
    cli.run(lambda argv: run(flags.FLAGS, metric), usage, [__name__])
