"""Pre-training step speed: eager vs tf.function vs XLA, dtype policies, the input pipeline,
and PyTorch.

Times one ELECTRA pre-training step (generator + discriminator, forward,
backward, AdamW update) of a config at a given batch and sequence length, in
each execution mode, interleaved over several rounds so machine noise hits
every mode alike; reports medians and ratios measured side by side. With
`torch` and `transformers` installed (`make bench-env` builds them into
`.venv-bench`; the library's own venv never holds them), a Hugging Face step of the same
size (ElectraForMaskedLM generator + ElectraForPreTraining discriminator with
tied embeddings) is timed in the same rounds as the reference.

A mode is an execution mode, optionally with a Keras dtype policy after a
colon: `graph:mixed_bfloat16` is the tf.function step with bfloat16 compute
and float32 variables, `graph:mixed_float16` the same in float16 with dynamic
loss scaling; a mode without a policy runs in float32. Which is fastest depends
on the CPU's vector extensions (bfloat16 needs AVX512_BF16 or AMX to pay off),
so the results start with the machine's CPU flags.

Each mode's step is also read against the CPU's ceiling: in every round the
script times TensorFlow's matrix products of the step's own shapes (`ceiling.py`:
projections on `batch x sequence` rows, attention's batched products, the
masked-LM head against the vocabulary; each with its two gradient products)
and a 2048^3 product, in float32, in bfloat16 where the CPU has AVX512_BF16 or
AMX, and in any other compute dtype a mode uses. A mode's model FLOP/s (the
analytic count of `electra_tf.flops`) over the ceiling of its compute dtype is
its `ceiling_fraction`. That count takes the backward pass as costly as the
forward (a product's backward is two products) and counts embedding lookups as
products, so it is not the arithmetic the step does: read the fraction as a
ratio to compare runs and modes by, not as a utilisation.
`matmul_time_fraction` is the plainer figure: the time the step's products
would take at the ceiling's speeds, as a share of the step.

`--output results.json` writes every printed figure: the run's settings,
`model_flops_per_step`, `matmul_flops_per_step`, the `ceiling` per dtype (the
step's shapes together, the 2048^3 product, each product), `torch`
("measured" or why not), and per mode (`modes`, a list in the order timed)
`mode`, `step_seconds`, `model_flops_per_second`, `ceiling_flops_per_second`,
`ceiling_fraction`, `ratio_to_fp32_graph` (the `graph` mode's step over this
one's: > 1 is faster; null without a `graph` mode), `ratio_to_torch` (the
same against PyTorch; null when it was not measured), and `tokens_per_second`,
`matmul_time_fraction`, `compute_dtype`, `last_loss`, the per-round steps.

Run alone on the machine (nothing else heavy), e.g.:
  python benchmarks/pretrain_step.py                      # Small, seq 128, batch 32
  python benchmarks/pretrain_step.py --config tiny --rounds 2 --steps 2   # a quick look
  python benchmarks/pretrain_step.py --smoke   # seconds: every figure, nothing measured (the tests')
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

from ceiling import Ceiling, print_ceiling, step_products
from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.data import corpora, pretraining
from electra_tf.flops import pretraining_flops_per_step
from hf_reference import hf_electra
from machine import bfloat16_instructions, describe
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
flags.DEFINE_float("ceiling_seconds", 0.2, "Least time spent timing each matrix product of "
                   "the ceiling per round.")
flags.DEFINE_string("output", None, "Write the results as JSON here too.")
flags.DEFINE_bool("smoke", False, "Check in seconds that the modes run, not a measurement: "
                  "the SMOKE values below for every flag not given.")

# --smoke: the tiny config, one step of the float32 and bfloat16 graph modes and of PyTorch
# (where installed), one quick pass over the ceiling's products.
SMOKE = {"config": "tiny", "batch_size": 2, "sequence_length": 16, "vocab_size": 100,
         "rounds": 1, "steps": 1, "modes": ["graph", "graph:mixed_bfloat16", "torch"],
         "pipeline": False, "ceiling_seconds": 0.0}
# How `electra_tf.flops` counts a step's FLOPs, said beside every FLOP/s figure.
FLOPS_COUNT = ("analytic, as the ELECTRA paper counts them: backward as costly as forward, "
               "embedding lookups as one-hot products")


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
        self.model.fit(self.dataset, steps_per_epoch=1, epochs=1, shuffle=False,
                       verbose=0)  # build everything
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
        self.loss = loss.item()
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


def ceiling_dtypes(runners):
    """float32, bfloat16 where the CPU has bfloat16 instructions, and every other compute
    dtype a timed mode uses (a bfloat16 mode on a CPU without them is read against
    TensorFlow's bfloat16 products there, however slow)."""
    dtypes = ["float32"] + (["bfloat16"] if bfloat16_instructions() else [])
    return dtypes + sorted({r.compute_dtype for r in runners.values()} - set(dtypes))


def mode_results(mode, seconds, runner, flops_per_step, tokens, ceiling, reference):
    """One mode's figures: its median step, model FLOP/s, the ceiling of its compute dtype
    (PyTorch's: TensorFlow's float32) and the fraction of it reached, and speed ratios
    (> 1: faster) to `reference` steps (`{"graph": s, "torch": s}`, either missing)."""
    step = statistics.median(seconds)
    ceiling_flops = ceiling.flops_per_second(runner.compute_dtype)
    return {
        "mode": mode, "step_seconds": step, "step_seconds_per_round": seconds,
        "tokens_per_second": tokens / step,
        "model_flops_per_second": flops_per_step / step,
        "ceiling_dtype": runner.compute_dtype,
        "ceiling_flops_per_second": ceiling_flops,
        "ceiling_fraction": flops_per_step / step / ceiling_flops,
        # The step's products at the ceiling's speeds, as a share of the whole step.
        "matmul_time_fraction": ceiling.matmul_seconds(runner.compute_dtype) / step,
        "ratio_to_fp32_graph": reference["graph"] / step if "graph" in reference else None,
        "ratio_to_torch": reference["torch"] / step if "torch" in reference else None,
        # What the mode computed in, and the loss of its last step.
        "compute_dtype": runner.compute_dtype, "last_loss": runner.loss,
    }


def main(argv):
    del argv
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                FLAGS[name].value = value
    config = ElectraConfig.from_preset(FLAGS.config).replace(
        sequence_length=FLAGS.sequence_length, batch_size=FLAGS.batch_size, dropout=FLAGS.dropout)
    vocabulary = synthetic_vocabulary(FLAGS.vocab_size)
    runners, torch_note = {}, None
    for mode in FLAGS.modes:
        if mode == "torch":
            try:
                runners[mode] = TorchStep(config, vocabulary)
            except ImportError as error:
                torch_note = f"not measured: torch / transformers not installed ({error})"
        else:
            runners[mode] = KerasStep(config, vocabulary, mode)
    if "torch" not in FLAGS.modes:
        torch_note = "not measured: --modes has no torch"
    ceiling = Ceiling(step_products(config, len(vocabulary)), ceiling_dtypes(runners),
                      FLAGS.ceiling_seconds, min_repeats=1 if FLAGS.smoke else 3)
    timings = {mode: [] for mode in runners}
    for round_ in range(FLAGS.rounds):
        for mode, runner in runners.items():
            timings[mode].append(runner.time_steps(FLAGS.steps))
        ceiling.measure_round()  # in every round, so noise hits the ceiling as the steps
        print(f"round {round_ + 1}/{FLAGS.rounds}: " + ", ".join(
            f"{m} {t[-1]:.3f}s" for m, t in timings.items()), flush=True)

    tokens = FLAGS.batch_size * config.sequence_length
    flops_per_step = pretraining_flops_per_step(config, len(vocabulary))["total"]
    reference = {m: statistics.median(timings[m]) for m in ("graph", "torch") if m in timings}
    results = {
        "machine": describe(),
        "config": config.name, "batch_size": FLAGS.batch_size,
        "sequence_length": config.sequence_length, "vocab_size": len(vocabulary),
        "dropout": FLAGS.dropout, "rounds": FLAGS.rounds, "steps": FLAGS.steps,
        "model_flops_per_step": flops_per_step,
        "flops_count": FLOPS_COUNT,
        "matmul_flops_per_step": sum(p.training_flops for p in ceiling.products),
        "ceiling": ceiling.results(),
        "torch": torch_note or "measured",
        "modes": [mode_results(m, t, runners[m], flops_per_step, tokens, ceiling, reference)
                  for m, t in timings.items()],
    }
    if FLAGS.pipeline:
        fastest = min(results["modes"], key=lambda r: r["step_seconds"])
        pipeline = pipeline_batches_per_second(config)
        results["pipeline_batches_per_s"] = pipeline
        results["pipeline_vs_fastest_step"] = pipeline * fastest["step_seconds"]
    print_results(config, ceiling, results)
    if FLAGS.output:
        pathlib.Path(FLAGS.output).write_text(json.dumps(results, indent=2) + "\n")


def print_results(config, ceiling, results):
    """Every figure `results` holds, as tables."""
    print(f"\n{config.name}: batch {FLAGS.batch_size} x sequence {config.sequence_length}, "
          f"vocabulary {results['vocab_size']}, dropout {FLAGS.dropout}, median of "
          f"{FLAGS.rounds} interleaved rounds x {FLAGS.steps} steps ({results['machine']})")
    print(f"model FLOPs per step: {results['model_flops_per_step']:.4g} ({FLOPS_COUNT}); the "
          f"step's matrix products: {results['matmul_flops_per_step']:.4g} (forward + both "
          "gradients)")
    print_ceiling(ceiling)
    print(f"\n{'mode':22} {'step (s)':>9} {'tokens/s':>9} {'GFLOP/s':>8} {'ceiling':>8} "
          f"{'of ceil.':>8} {'matmuls':>8} {'vs graph':>9} {'vs torch':>12}")
    for r in results["modes"]:
        def ratio(value, missing):
            return missing if value is None else f"{value:.2f}x"
        print(f"{r['mode']:22} {r['step_seconds']:9.3f} {r['tokens_per_second']:9.0f} "
              f"{r['model_flops_per_second'] / 1e9:8.1f} "
              f"{r['ceiling_flops_per_second'] / 1e9:8.1f} {r['ceiling_fraction']:8.1%} "
              f"{r['matmul_time_fraction']:8.1%} {ratio(r['ratio_to_fp32_graph'], '-'):>9} "
              f"{ratio(r['ratio_to_torch'], 'not measured'):>12}")
    print("(GFLOP/s: model FLOPs per second; ceiling: of the mode's compute dtype (PyTorch's: "
          "TensorFlow's float32); matmuls: the time the step's products take at the ceiling, "
          "as a share of the step; vs: speed ratios, > 1 is faster)")
    if results["torch"] != "measured":
        print(f"PyTorch reference: {results['torch']}")
    if "pipeline_batches_per_s" in results:
        fastest = min(results["modes"], key=lambda r: r["step_seconds"])
        print(f"input pipeline: {results['pipeline_batches_per_s']:.1f} batches/s = "
              f"{results['pipeline_vs_fastest_step']:.0f}x what the fastest mode "
              f"({fastest['mode']}) consumes")


if __name__ == "__main__":
    app.run(main)
