"""Decoding speed, cached vs. uncached, greedy and beam search, side by side in one run.

  python benchmarks/decoding.py                      # a random small model
  python benchmarks/decoding.py --model_dir runs/en_zh --max_length 48
  python benchmarks/decoding.py --output decoding.json   # also the figures as JSON
  python benchmarks/decoding.py --smoke --output /tmp/decoding.json   # seconds: checks the script

For each sampler (greedy, then beam search with --num_beams), readings
alternate (cached, uncached, cached, ...) so machine noise hits both alike;
the best of --repeats is reported, after one tracing call each. Each mode has
its own copy of the model (same weights), because switching `use_cache` on
one model drops its traced generate function and every timed call would
re-trace. Run it on an idle machine. `--output` writes every printed figure,
with `greedy_speedup` and `beam_speedup` (cached over uncached tokens/s).
"""

import json
import pathlib
import time

from absl import app, flags

from electra_tf.training import generation
from machine import describe

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A trained model (default: a random one).")
flags.DEFINE_integer("batch_size", 16, "Sources decoded together.")
flags.DEFINE_integer("max_length", 64, "Decoder positions, start token included.")
flags.DEFINE_integer("repeats", 5, "Timed calls per mode.")
flags.DEFINE_integer("hidden_size", 256, "Width of the random model.")
flags.DEFINE_integer("num_layers", 4, "Depth of the random model.")
flags.DEFINE_integer("num_beams", 4, "Beam width of the beam-search reading.")
flags.DEFINE_float("length_penalty", 0.6, "GNMT length penalty exponent for beam search.")
flags.DEFINE_string("output", None, "Write the figures as JSON here too.")
flags.DEFINE_bool("smoke", False, "Smoke run (seconds): a random 32-wide 1-layer model, batch 2, "
                  "max_length 8, 1 timed call per mode.")

SAMPLERS = ("greedy", "beam")


def random_model():
    words = [f"w{i}" for i in range(500)]
    pairs = [(" ".join(words[i:i + 8]), " ".join(words[i + 1:i + 9])) for i in range(0, 480, 4)]
    return generation.build_lm(pairs, vocab_size=600, hidden_size=FLAGS.hidden_size,
                               num_layers=FLAGS.num_layers,
                               sequence_length=FLAGS.max_length)


def model():
    return generation.load(FLAGS.model_dir) if FLAGS.model_dir else random_model()


def tokens_per_second(models, sampler, sources):
    """Best-of-`repeats` tokens/s of each model in `models` (`{use_cache: lm}`) with
    `sampler`, and whether both modes wrote the same text."""
    for lm in models.values():
        lm.compile(sampler=generation.make_sampler(sampler, FLAGS.num_beams,
                                                   FLAGS.length_penalty))
    # stop_token_ids=None: every call generates exactly max_length - 1 tokens,
    # so both modes do the same work whatever the model predicts.
    first = {use_cache: lm.generate(sources, max_length=FLAGS.max_length, use_cache=use_cache,
                                    stop_token_ids=None)
             for use_cache, lm in models.items()}
    best = {use_cache: float("inf") for use_cache in models}
    for _ in range(FLAGS.repeats):
        for use_cache, lm in models.items():
            start = time.perf_counter()
            lm.generate(sources, max_length=FLAGS.max_length, use_cache=use_cache,
                        stop_token_ids=None)
            best[use_cache] = min(best[use_cache], time.perf_counter() - start)
    tokens = len(sources) * (FLAGS.max_length - 1)
    return ({use_cache: tokens / seconds for use_cache, seconds in best.items()},
            list(first[True]) == list(first[False]))


def main(argv):
    del argv
    if FLAGS.smoke:
        if FLAGS.model_dir:
            raise app.UsageError("--smoke times a tiny random model; drop --model_dir.")
        FLAGS.batch_size, FLAGS.max_length, FLAGS.repeats = 2, 8, 1
        FLAGS.hidden_size, FLAGS.num_layers = 32, 1
    models = {True: model(), False: model()}
    models[False].set_weights(models[True].get_weights())
    sources = [f"w{i} w{i + 1} w{i + 2}" for i in range(FLAGS.batch_size)]
    results = {"model": FLAGS.model_dir or f"random, {FLAGS.hidden_size} wide, "
                                           f"{FLAGS.num_layers} layers",
               "batch_size": FLAGS.batch_size, "max_length": FLAGS.max_length,
               "num_beams": FLAGS.num_beams, "repeats": FLAGS.repeats, "machine": describe()}
    for sampler in SAMPLERS:
        speed, same_text = tokens_per_second(models, sampler, sources)
        results.update({f"{sampler}_cached_tokens_per_s": speed[True],
                        f"{sampler}_uncached_tokens_per_s": speed[False],
                        f"{sampler}_speedup": speed[True] / speed[False],
                        f"{sampler}_same_text": same_text})
        label = f"beam ({FLAGS.num_beams})" if sampler == "beam" else sampler
        print(f"{label:9} tokens/s  cached {speed[True]:10.1f}   uncached {speed[False]:10.1f}   "
              f"speed-up {speed[True] / speed[False]:5.2f}x   (same text in both modes: "
              f"{same_text})")
    print(f"{results['model']}; batch {FLAGS.batch_size}, max_length {FLAGS.max_length}, "
          f"best of {FLAGS.repeats}")
    print(results["machine"])
    if FLAGS.output:
        pathlib.Path(FLAGS.output).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    app.run(main)
