"""Pre-training step speed: eager vs tf.function vs XLA, dtype policies, the input pipeline,
and PyTorch.

Times one ELECTRA pre-training step (generator + discriminator, forward,
backward, AdamW update) of a config at a given batch and sequence length, in
each execution mode, interleaved over several rounds so machine noise hits
every mode alike; reports medians and ratios measured side by side. With
`torch` and `transformers` installed (`pip install torch==2.13.0
transformers`; not part of any install extra), a Hugging Face step of the same
size (ElectraForMaskedLM generator + ElectraForPreTraining discriminator with
tied embeddings) is timed in the same rounds as the reference.

A mode is an execution mode, optionally with a Keras dtype policy after a
colon: `graph:mixed_bfloat16` is the tf.function step with bfloat16 compute
and float32 variables, `graph:mixed_float16` the same in float16 with dynamic
loss scaling; a mode without a policy runs in float32. Which is fastest depends
on the CPU's vector extensions (bfloat16 needs AVX512_BF16 or AMX to pay off),
so the results start with the machine's CPU flags.

Run alone on the machine (nothing else heavy), e.g.:
  python benchmarks/pretrain_step.py                      # Small, seq 128, batch 32
  python benchmarks/pretrain_step.py --config tiny --rounds 2 --steps 2   # a quick look
  python benchmarks/pretrain_step.py --smoke   # seconds: graph and bfloat16 run (the tests')
  python benchmarks/pretrain_step.py --modes graph,graph:mixed_bfloat16,graph:mixed_float16 \
      --pipeline=false                                      # which dtype policy to pick
"""

import json
import os
import pathlib
import statistics
import tempfile
import time

import tensorflow as tf
from absl import app, flags

from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.data import corpora, pretraining
from hf_reference import hf_electra
from machine import describe
from synthetic import synthetic_batch, synthetic_vocabulary

FLAGS = flags.FLAGS
flags.DEFINE_string("config", "small", "Preset name or JSON path.")
flags.DEFINE_integer("batch_size", 32, "Batch size.")
flags.DEFINE_integer("sequence_length", 128, "Sequence length.")
flags.DEFINE_integer("vocab_size", 8000, "Vocabulary size (a synthetic vocabulary).")
flags.DEFINE_integer("rounds", 5, "Interleaved rounds; each times every mode.")
flags.DEFINE_integer("steps", 3, "Steps timed per mode and round.")
flags.DEFINE_list("modes", ["eager", "graph", "xla", "torch"],
                  "Modes to time: eager, graph, xla or torch; the first three take a dtype "
                  "policy after a colon (graph:mixed_bfloat16, xla:mixed_float16, ...).")
flags.DEFINE_float("dropout", 0.1, "Dropout rate (the recipe's 0.1; 0 isolates the cost of "
                   "dropout's random numbers, which dominates XLA on CPU).")
flags.DEFINE_bool("pipeline", True, "Also time the input pipeline alone.")
flags.DEFINE_string("output", None, "Write the results as JSON here too.")
flags.DEFINE_bool("smoke", False, "Check in seconds that the modes run, not a measurement: "
                  "the SMOKE values below for every flag not given.")

# --smoke: the tiny config, one step of the float32 and bfloat16 graph modes.
SMOKE = {"config": "tiny", "batch_size": 2, "sequence_length": 16, "vocab_size": 100,
         "rounds": 1, "steps": 1, "modes": ["graph", "graph:mixed_bfloat16"], "pipeline": False}


class KerasStep:
    def __init__(self, config, vocabulary, mode):
        execution, _, policy = mode.partition(":")
        if execution not in ("eager", "graph", "xla"):
            raise app.UsageError(f"unknown mode {mode!r}: eager, graph or xla[:dtype policy].")
        config = config.replace(dtype_policy=policy or "float32")  # validates the policy
        special = tokenization.special_token_ids(tokenization.make_tokenizer(vocabulary))
        self.model = ElectraPretrainer(config, len(vocabulary), special, seed=0)
        self.compute_dtype = self.model.discriminator.dtype_policy.compute_dtype
        self.model.compile(run_eagerly=execution == "eager", jit_compile=execution == "xla")
        self.batch = synthetic_batch(len(vocabulary), FLAGS.batch_size, config.sequence_length)
        self.dataset = tf.data.Dataset.from_tensors(self.batch).repeat()
        self.model.fit(self.dataset, steps_per_epoch=1, epochs=1, verbose=0)  # build everything
        # The compiled step itself, without fit's per-call set-up.
        self.train_function = self.model.make_train_function()
        self.iterator = iter(self.dataset)
        self.time_steps(2)  # trace / compile

    def time_steps(self, steps):
        start = time.perf_counter()
        for _ in range(steps):
            logs = self.train_function(self.iterator)
        self.loss = float(logs["loss"])  # waits for the last step
        return (time.perf_counter() - start) / steps


class TorchStep:
    """The same step in PyTorch with Hugging Face's ELECTRA classes."""

    compute_dtype = "float32"

    def __init__(self, config, vocabulary):
        import torch

        torch.set_num_threads(len(os.sched_getaffinity(0)))
        self.torch = torch
        self.generator, self.discriminator = hf_electra(config, len(vocabulary))
        parameters = {id(p): p for p in [*self.generator.parameters(), *self.discriminator.parameters()]}
        self.optimizer = torch.optim.AdamW(parameters.values(), lr=1e-4, eps=1e-6, weight_decay=0.01)
        batch = synthetic_batch(len(vocabulary), FLAGS.batch_size, config.sequence_length)
        self.ids = torch.tensor(batch["token_ids"], dtype=torch.long)
        self.rate = config.mask_probability
        self.time_steps(1)

    def step(self):
        torch = self.torch
        masked = (torch.rand(self.ids.shape) < self.rate)
        masked[:, 0] = masked[:, -1] = False
        inputs = self.ids.masked_fill(masked, 4)
        labels = self.ids.masked_fill(~masked, -100)
        generated = self.generator(input_ids=inputs, labels=labels)
        with torch.no_grad():
            gumbel = -torch.log(-torch.log(torch.rand_like(generated.logits).clamp_min(1e-9)))
            sampled = (generated.logits + gumbel).argmax(-1)
        corrupted = torch.where(masked, sampled, self.ids)
        replaced = (corrupted != self.ids).long()
        discriminated = self.discriminator(input_ids=corrupted, labels=replaced)
        loss = generated.loss + 50.0 * discriminated.loss
        self.loss = float(loss)
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(
            [p for group in self.optimizer.param_groups for p in group["params"]], 1.0)
        self.optimizer.step()

    def time_steps(self, steps):
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        return (time.perf_counter() - start) / steps


def pipeline_batches_per_second(config, seconds=20.0):
    """Batches/s of the real input pipeline (default corpus, in-graph tokenization + packing)."""
    directory = pathlib.Path(tempfile.mkdtemp())
    train, _ = corpora.write_default_pretraining_corpus(directory)
    vocabulary = tokenization.build_vocabulary(train, 8000)
    tokenizer = tokenization.make_tokenizer(vocabulary)
    dataset = pretraining.pretraining_dataset(
        train, tokenizer, sequence_length=config.sequence_length,
        batch_size=FLAGS.batch_size, seed=0)
    iterator = iter(dataset)
    for _ in range(20):  # warm-up: tracing, shuffle buffer
        next(iterator)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(iterator)
        count += 1
    return count / (time.perf_counter() - start)


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                FLAGS[name].value = value
    config = ElectraConfig.from_preset(FLAGS.config).replace(
        sequence_length=FLAGS.sequence_length, batch_size=FLAGS.batch_size, dropout=FLAGS.dropout)
    vocabulary = synthetic_vocabulary(FLAGS.vocab_size)
    runners = {}
    for mode in FLAGS.modes:
        if mode == "torch":
            try:
                runners[mode] = TorchStep(config, vocabulary)
            except ImportError:
                print("torch / transformers not installed: no PyTorch reference")
        else:
            runners[mode] = KerasStep(config, vocabulary, mode)
    timings = {mode: [] for mode in runners}
    for round_ in range(FLAGS.rounds):
        for mode, runner in runners.items():
            timings[mode].append(runner.time_steps(FLAGS.steps))
        print(f"round {round_ + 1}/{FLAGS.rounds}: " + ", ".join(
            f"{m} {t[-1]:.3f}s" for m, t in timings.items()), flush=True)

    tokens = FLAGS.batch_size * config.sequence_length
    results = {
        "machine": describe(),
        "config": config.name, "batch_size": FLAGS.batch_size,
        "sequence_length": config.sequence_length,
        "modes": {m: {"median_step_s": statistics.median(t),
                      "tokens_per_s": tokens / statistics.median(t),
                      # What the mode computed in, and the loss of its last step.
                      "compute_dtype": runners[m].compute_dtype, "last_loss": runners[m].loss}
                  for m, t in timings.items()},
    }
    fastest = min(results["modes"], key=lambda m: results["modes"][m]["median_step_s"])
    if "torch" in results["modes"]:
        for mode in results["modes"]:
            results["modes"][mode]["vs_torch"] = (
                results["modes"][mode]["tokens_per_s"] / results["modes"]["torch"]["tokens_per_s"])
    if FLAGS.pipeline:
        pipeline = pipeline_batches_per_second(config)
        results["pipeline_batches_per_s"] = pipeline
        results["pipeline_vs_fastest_step"] = pipeline * results["modes"][fastest]["median_step_s"]

    print(f"\n{config.name}: batch {FLAGS.batch_size} x sequence {config.sequence_length}, "
          f"dropout {FLAGS.dropout}, "
          f"median of {FLAGS.rounds} interleaved rounds x {FLAGS.steps} steps ({results['machine']})")
    first = next(iter(results["modes"]))
    print(f"{'mode':22} {'step (s)':>9} {'tokens/s':>10} {'vs ' + first:>14} {'vs torch':>9}")
    for mode, r in results["modes"].items():
        vs = f"{r['vs_torch']:.2f}x" if "vs_torch" in r else "-"
        speedup = results["modes"][first]["median_step_s"] / r["median_step_s"]
        print(f"{mode:22} {r['median_step_s']:9.3f} {r['tokens_per_s']:10.0f} "
              f"{speedup:13.2f}x {vs:>9}")
    if FLAGS.pipeline:
        print(f"input pipeline: {results['pipeline_batches_per_s']:.1f} batches/s = "
              f"{results['pipeline_vs_fastest_step']:.0f}x what the fastest mode ({fastest}) "
              "consumes")
    if FLAGS.output:
        pathlib.Path(FLAGS.output).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    app.run(main)
