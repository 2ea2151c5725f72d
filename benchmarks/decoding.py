"""Decoding speed, cached vs. uncached self-attention, side by side in one run.

  python benchmarks/decoding.py                      # a random small model
  python benchmarks/decoding.py --model_dir runs/en_zh --max_length 48

Readings alternate (cached, uncached, cached, ...) so machine noise hits both
alike; the best of --repeats is reported, after one tracing call each. Each
mode has its own copy of the model (same weights), because switching
`use_cache` on one model drops its traced generate function and every timed
call would re-trace. Run it on an idle machine.
"""

import time

from absl import app, flags

from electra_tf.cli import generation as cli_generation
from electra_tf.training import generation
from machine import describe

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A trained model (default: a random one).")
flags.DEFINE_integer("batch_size", 16, "Sources decoded together.")
flags.DEFINE_integer("max_length", 64, "Decoder positions, start token included.")
flags.DEFINE_integer("repeats", 5, "Timed calls per mode.")
flags.DEFINE_integer("hidden_size", 256, "Width of the random model.")
flags.DEFINE_integer("num_layers", 4, "Depth of the random model.")
cli_generation.define_sampler_flags(samplers=("greedy", "beam"))


def random_model():
    words = [f"w{i}" for i in range(500)]
    pairs = [(" ".join(words[i:i + 8]), " ".join(words[i + 1:i + 9])) for i in range(0, 480, 4)]
    return generation.build_lm(pairs, vocab_size=600, hidden_size=FLAGS.hidden_size,
                               num_layers=FLAGS.num_layers,
                               sequence_length=FLAGS.max_length)


def model():
    lm = generation.load(FLAGS.model_dir) if FLAGS.model_dir else random_model()
    lm.compile(sampler=cli_generation.sampler_from_flags(FLAGS))
    return lm


def main(argv):
    del argv
    models = {True: model(), False: model()}
    models[False].set_weights(models[True].get_weights())
    sources = [f"w{i} w{i + 1} w{i + 2}" for i in range(FLAGS.batch_size)]
    # stop_token_ids=None: every call generates exactly max_length - 1 tokens,
    # so both modes do the same work whatever the model predicts.
    tokens = FLAGS.batch_size * (FLAGS.max_length - 1)
    best = {True: float("inf"), False: float("inf")}
    first = {use_cache: lm.generate(sources, max_length=FLAGS.max_length, use_cache=use_cache,
                                    stop_token_ids=None)
             for use_cache, lm in models.items()}
    for _ in range(FLAGS.repeats):
        for use_cache, lm in models.items():
            start = time.perf_counter()
            lm.generate(sources, max_length=FLAGS.max_length, use_cache=use_cache,
                        stop_token_ids=None)
            best[use_cache] = min(best[use_cache], time.perf_counter() - start)
    cached, uncached = tokens / best[True], tokens / best[False]
    print(f"tokens/s  cached {cached:10.1f}   uncached {uncached:10.1f}   "
          f"speed-up {cached / uncached:5.2f}x   (batch {FLAGS.batch_size}, "
          f"max_length {FLAGS.max_length}, {FLAGS.sampler}; same text in both modes: "
          f"{list(first[True]) == list(first[False])})")
    print(describe())


if __name__ == "__main__":
    app.run(main)
