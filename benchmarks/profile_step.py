"""Where a graph-mode pre-training step spends its time, by TensorFlow op type.

Traces a few steps of `ElectraPretrainer` (synthetic batch, as
`pretrain_step.py`) with `tf.profiler`, reads the trace's XPlane (the protobuf
that TensorFlow itself ships), and prints the op types and op-name patterns
that take the most thread time per step. Thread time is summed over the
executor's threads, so it exceeds the step's wall time on 2 cores; read it as
shares.

  python benchmarks/profile_step.py                  # Small, seq 128, batch 32
  python benchmarks/profile_step.py --config tiny --steps 2
"""

import collections
import pathlib
import re
import tempfile

import tensorflow as tf
from absl import app, flags
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from machine import describe
from synthetic import synthetic_batch, synthetic_vocabulary

FLAGS = flags.FLAGS
flags.DEFINE_string("config", "small", "Preset name or JSON path.")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_integer("sequence_length", 128, "Sequence length.")
flags.DEFINE_integer("vocab_size", 8000, "Vocabulary size (a synthetic vocabulary).")
flags.DEFINE_float("dropout", 0.1, "Dropout rate.")
flags.DEFINE_integer("steps", 3, "Steps traced (after two untraced warm-up steps).")
flags.DEFINE_integer("top", 25, "Rows printed per table.")


def traced_xspace(config, vocabulary, steps):
    special = tokenization.special_token_ids(tokenization.make_tokenizer(vocabulary))
    model = ElectraPretrainer(config, len(vocabulary), special, seed=0)
    model.compile()
    batch = synthetic_batch(len(vocabulary), FLAGS.batch_size, config.sequence_length)
    dataset = tf.data.Dataset.from_tensors(batch).repeat()
    model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)
    train_function, iterator = model.make_train_function(), iter(dataset)
    for _ in range(2):
        float(train_function(iterator)["loss"])
    logdir = tempfile.mkdtemp()
    tf.profiler.experimental.start(logdir)
    for _ in range(steps):
        float(train_function(iterator)["loss"])
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    space.ParseFromString(next(pathlib.Path(logdir).rglob("*.xplane.pb")).read_bytes())
    return space


def op_times(space, steps):
    """Seconds per step by op type and by op-name pattern (layer numbers folded)."""
    by_type, by_pattern = collections.Counter(), collections.Counter()
    plane = next(p for p in space.planes if p.name == "/host:CPU")
    for line in plane.lines:
        if not line.name.startswith("tf_Compute"):
            continue
        for event in line.events:
            name = plane.event_metadata[event.metadata_id].name
            if ":" not in name or "::" in name:  # executor bookkeeping encloses the ops
                continue
            op_name, op_type = name.rsplit(":", 1)
            seconds = event.duration_ps / 1e12 / steps
            by_type[op_type] += seconds
            pattern = re.sub(r"\d+", "N", re.sub(r"_\d+(?=/|$)", "", op_name))
            by_pattern[(op_type, pattern)] += seconds
    return by_type, by_pattern


def main(argv):
    del argv
    config = ElectraConfig.from_preset(FLAGS.config).replace(
        sequence_length=FLAGS.sequence_length, batch_size=FLAGS.batch_size, dropout=FLAGS.dropout)
    vocabulary = synthetic_vocabulary(FLAGS.vocab_size)
    by_type, by_pattern = op_times(traced_xspace(config, vocabulary, FLAGS.steps), FLAGS.steps)
    total = sum(by_type.values())
    print(f"{config.name}, batch {FLAGS.batch_size} x {config.sequence_length}, dropout "
          f"{FLAGS.dropout}: {total:.2f} thread-seconds of ops per step ({describe()})")
    for op_type, seconds in by_type.most_common(FLAGS.top):
        print(f"{100 * seconds / total:5.1f}%  {op_type}")
    print()
    for (op_type, pattern), seconds in by_pattern.most_common(FLAGS.top):
        print(f"{100 * seconds / total:5.1f}%  {op_type:24} ...{pattern[-90:]}")


if __name__ == "__main__":
    app.run(main)
