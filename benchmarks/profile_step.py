"""Where a graph-mode pre-training step spends its time, by TensorFlow op type, in float32
and in bfloat16 side by side.

Traces a few steps of `ElectraPretrainer` (synthetic batch, as
`pretrain_step.py`) with `tf.profiler` for each dtype policy asked for, reads
the trace's XPlane (the protobuf that TensorFlow itself ships), and prints the
op types that take the most thread time per step, one column per policy (share
of that policy's total, and milliseconds per step), then each policy's
op-name patterns. Thread time is summed over the executor's threads, so it
exceeds the step's wall time on 2 cores; read it as shares, and compare the
milliseconds across policies (the bfloat16 step's casts, for instance, have
no float32 counterpart).

  python benchmarks/profile_step.py                  # Small, seq 128, batch 32, both policies
  python benchmarks/profile_step.py --config tiny --sequence_length 32 --steps 2 --policies float32
  python benchmarks/profile_step.py --smoke          # seconds: the tables, nothing measured
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
flags.DEFINE_list("policies", ["float32", "mixed_bfloat16"],
                  "Keras dtype policies to profile, each in its own traced run.")
flags.DEFINE_bool("smoke", False, "Check in seconds that the tables come out, not a "
                  "measurement: the SMOKE values below for every flag not given.")

# --smoke: the tiny config, one traced step per policy.
SMOKE = {"config": "tiny", "batch_size": 2, "sequence_length": 16, "vocab_size": 100,
         "steps": 1, "top": 8}


def traced_xspace(config, vocabulary, steps):
    special = tokenization.special_token_ids(tokenization.make_tokenizer(vocabulary))
    model = ElectraPretrainer(config, len(vocabulary), special, seed=0)
    model.compile()
    batch = synthetic_batch(len(vocabulary), FLAGS.batch_size, config.sequence_length)
    dataset = tf.data.Dataset.from_tensors(batch).repeat()
    model.fit(dataset, steps_per_epoch=1, epochs=1, shuffle=False, verbose=0)
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


def print_op_types(by_type):
    """One row per op type (the `--top` busiest of any policy), a share and ms column per
    policy; `by_type` maps each policy to its seconds per step by op type."""
    totals = {policy: sum(times.values()) for policy, times in by_type.items()}
    busiest = collections.Counter()
    for policy, times in by_type.items():
        busiest.update({op: seconds / totals[policy] for op, seconds in times.items()})
    print(f"{'op type':28}" + "".join(f"{policy:>24}" for policy in by_type))
    for op_type, _ in busiest.most_common(FLAGS.top):
        print(f"{op_type:28}" + "".join(
            f"{100 * times[op_type] / totals[policy]:11.1f}% {1000 * times[op_type]:9.1f} ms"
            for policy, times in by_type.items()))
    print(f"{'all ops':28}" + "".join(f"{'':13}{1000 * total:9.1f} ms"
                                     for total in totals.values()))


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                FLAGS[name].value = value
    base = ElectraConfig.from_preset(FLAGS.config).replace(
        sequence_length=FLAGS.sequence_length, batch_size=FLAGS.batch_size, dropout=FLAGS.dropout)
    vocabulary = synthetic_vocabulary(FLAGS.vocab_size)
    by_type, by_pattern = {}, {}
    for policy in FLAGS.policies:
        config = base.replace(dtype_policy=policy)  # validates the policy
        space = traced_xspace(config, vocabulary, FLAGS.steps)
        by_type[policy], by_pattern[policy] = op_times(space, FLAGS.steps)
    print(f"{base.name}, batch {FLAGS.batch_size} x {base.sequence_length}, dropout "
          f"{FLAGS.dropout}: thread time of ops per step ({describe()})")
    print_op_types(by_type)
    for policy, patterns in by_pattern.items():
        total = sum(by_type[policy].values())
        print(f"\n{policy}: the busiest op-name patterns")
        for (op_type, pattern), seconds in patterns.most_common(FLAGS.top):
            print(f"{100 * seconds / total:5.1f}%  {op_type:24} ...{pattern[-90:]}")


if __name__ == "__main__":
    app.run(main)
