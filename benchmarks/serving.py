"""Serving latency of the classifier: SavedModel (string-in, ids-in) vs `model.predict`.

Exports an `ElectraClassifier` (a fine-tuned preset from --model_dir, or
random weights of --config) with `electra_tf.export`, loads it with
`tf.saved_model.load`, and times single calls at batch 1 and 32 of texts long
enough to fill --sequence_length:

- `savedmodel_text`: the `serving_default` signature, raw strings in;
- `savedmodel_ids`: the `serve_token_ids` signature, packed ids in;
- `keras_predict`: `model.predict(texts)` (keras-hub preprocessing included;
  each call builds a `tf.data` pipeline and traces its preprocessing anew);
- `keras_predict_on_batch`: `model.predict_on_batch(texts)`, no `tf.data`.

Modes are interleaved over --rounds so machine noise hits each alike; it
reports p50 / p99 per mode and batch, and the string-in / ids-in ratio of the
per-round medians (the cost of in-graph tokenization).

Run alone on the machine (nothing else heavy), e.g.:
  python benchmarks/serving.py                  # Small, seq 128, batch 1 and 32
  python benchmarks/serving.py --model_dir runs/sentiment     # a fine-tuned classifier
  python benchmarks/serving.py --quick          # smoke run: tiny, seq 32, few calls
"""

import json
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from electra_tf import ElectraConfig, tokenization
from electra_tf.export import ClassifierServable, export_saved_model
from electra_tf.export.serving import ID_INPUTS
from electra_tf.models.classification.classifier import ElectraClassifier
from machine import describe

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A saved ElectraClassifier preset; default: random weights.")
flags.DEFINE_string("config", "small", "Preset name or JSON path, without --model_dir.")
flags.DEFINE_integer("sequence_length", 128, "Sequence length.")
flags.DEFINE_list("batch_sizes", ["1", "32"], "Batch sizes to time.")
flags.DEFINE_integer("rounds", 5, "Interleaved rounds; each times every mode and batch size.")
flags.DEFINE_integer("calls", 40, "Calls timed per mode, batch size and round.")
flags.DEFINE_bool("quick", False, "Smoke run: tiny config, sequence 32, 2 rounds of 5 calls.")
flags.DEFINE_string("output", None, "Write the results as JSON here too.")

MODES = ("savedmodel_text", "savedmodel_ids", "keras_predict", "keras_predict_on_batch")


def make_classifier():
    if FLAGS.model_dir:
        return ElectraClassifier.from_preset(FLAGS.model_dir)
    config = ElectraConfig.from_preset(FLAGS.config)
    words = [f"w{i}" for i in range(2000)]
    vocabulary = list(tokenization.SPECIAL_TOKENS) + words
    return ElectraClassifier.from_scratch(
        config, vocabulary, label_names=["neg", "pos"], sequence_length=FLAGS.sequence_length
    )


def texts_filling(tokenizer, sequence_length, batch_size, seed=0):
    """Texts of ordinary words that fill the sequence (one token each, some to spare)."""
    words = [w for w in tokenizer.get_vocabulary()[5:] if not w.startswith("##")]
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, sequence_length)) for _ in range(batch_size)]


def percentile(values, q):
    return float(np.percentile(np.asarray(values) * 1000, q))


def main(argv):
    del argv
    if FLAGS.quick:
        FLAGS.config, FLAGS.sequence_length, FLAGS.rounds, FLAGS.calls = "tiny", 32, 2, 5
    classifier = make_classifier()
    servable = ClassifierServable(classifier, sequence_length=FLAGS.sequence_length)
    with tempfile.TemporaryDirectory() as export_dir:
        export_saved_model(servable, export_dir)
        loaded = tf.saved_model.load(export_dir)
        text_signature = loaded.signatures["serving_default"]
        ids_signature = loaded.signatures["serve_token_ids"]

        calls = {}
        for batch_size in map(int, FLAGS.batch_sizes):
            texts = texts_filling(servable.tokenizer, FLAGS.sequence_length, batch_size)
            text_tensor = tf.constant(texts)
            encoded = servable.encoder(text_tensor)
            ids = {name: encoded[name] for name in ID_INPUTS}
            calls[batch_size] = {
                "savedmodel_text": lambda t=text_tensor: text_signature(text=t),
                "savedmodel_ids": lambda i=ids: ids_signature(**i),
                "keras_predict": lambda t=texts: classifier.predict(
                    t, batch_size=len(t), verbose=0),
                "keras_predict_on_batch": lambda t=texts: classifier.predict_on_batch(t),
            }
            for function in calls[batch_size].values():
                function()  # trace / warm up

        times = {(m, b): [] for b in calls for m in MODES}
        round_medians = {(m, b): [] for b in calls for m in MODES}
        for _ in range(FLAGS.rounds):
            for batch_size, functions in calls.items():
                for mode in MODES:
                    this_round = []
                    for _ in range(FLAGS.calls):
                        start = time.perf_counter()
                        functions[mode]()
                        this_round.append(time.perf_counter() - start)
                    times[mode, batch_size] += this_round
                    round_medians[mode, batch_size].append(statistics.median(this_round))

    results = {
        "machine": describe(),
        "sequence_length": FLAGS.sequence_length,
        "rounds": FLAGS.rounds,
        "calls_per_round": FLAGS.calls,
        "latency_ms": {
            f"{mode}/batch{batch}": {"p50": percentile(t, 50), "p99": percentile(t, 99)}
            for (mode, batch), t in times.items()
        },
        "text_over_ids": {
            f"batch{batch}": statistics.median(
                a / b for a, b in zip(round_medians["savedmodel_text", batch],
                                      round_medians["savedmodel_ids", batch])
            )
            for batch in calls
        },
        "predict_over_savedmodel_text": {
            f"batch{batch}": statistics.median(
                a / b for a, b in zip(round_medians["keras_predict", batch],
                                      round_medians["savedmodel_text", batch])
            )
            for batch in calls
        },
    }
    print(results["machine"])
    print(f"{'mode/batch':<34}{'p50 ms':>10}{'p99 ms':>10}")
    for key, value in results["latency_ms"].items():
        print(f"{key:<34}{value['p50']:>10.2f}{value['p99']:>10.2f}")
    for key in ("text_over_ids", "predict_over_savedmodel_text"):
        print(key, {k: round(v, 3) for k, v in results[key].items()})
    if FLAGS.output:
        with open(FLAGS.output, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    app.run(main)
