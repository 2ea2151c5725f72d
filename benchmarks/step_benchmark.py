"""What the step benchmarks (`pretrain_step.py`, `finetune_step.py`) share: their flags, their
modes, the interleaved rounds that time every mode and the ceiling, and the figures they print
and write.

A mode is an execution mode (`eager`, `graph`: tf.function, `xla`: jit_compile),
optionally with a Keras dtype policy after a colon (`graph:mixed_bfloat16`; float32
without one), or `torch`: the Hugging Face PyTorch reference, timed when torch and
transformers import. Each script supplies its own step for both kinds (a `KerasStep`
and a `TorchStep`), its FLOP count and its ceiling's products; everything else is here,
so the two scripts' figures mean the same.
"""

import json
import os
import pathlib
import statistics
import time

import tensorflow as tf
from absl import app, flags

from ceiling import Ceiling, print_ceiling
from machine import bfloat16_instructions, describe

FLAGS = flags.FLAGS
EXECUTIONS = ("eager", "graph", "xla")
# How `electra_tf.flops` counts a step's FLOPs, said beside every FLOP/s figure.
FLOPS_COUNT = ("analytic, as the ELECTRA paper counts them: backward as costly as forward, "
               "embedding lookups as one-hot products")


def define_flags(default_modes):
    """The flags every step benchmark takes; `default_modes` is the script's `--modes`."""
    flags.DEFINE_string("config", "small", "Preset name or JSON path.")
    flags.DEFINE_integer("batch_size", 32, "Batch size.")
    flags.DEFINE_integer("sequence_length", 128, "Sequence length.")
    flags.DEFINE_integer("vocab_size", 8000, "Vocabulary size (a synthetic vocabulary).")
    flags.DEFINE_integer("rounds", 5, "Interleaved rounds; each times every mode.")
    flags.DEFINE_integer("steps", 3, "Steps timed per mode and round.")
    flags.DEFINE_list("modes", default_modes,
                      "Modes to time: eager, graph, xla or torch; the first three take a dtype "
                      "policy after a colon (graph:mixed_bfloat16, xla:mixed_float16, ...).")
    flags.DEFINE_float("dropout", 0.1, "Dropout rate (the recipe's 0.1; 0 isolates the cost of "
                       "dropout's random numbers, which dominates XLA on CPU).")
    flags.DEFINE_float("ceiling_seconds", 0.2, "Least time spent timing each matrix product of "
                       "the ceiling per round.")
    flags.DEFINE_string("output", None, "Write the results as JSON here too.")
    flags.DEFINE_bool("smoke", False, "Check in seconds that the modes run, not a measurement: "
                      "the script's SMOKE values for every flag not given.")


def apply_smoke(smoke):
    """Under `--smoke`, the values of `smoke` (flag name -> value) for every flag not given."""
    if FLAGS.smoke:
        for name, value in smoke.items():
            if not FLAGS[name].present:
                FLAGS[name].value = value


def parse_mode(mode):
    """`(execution, dtype policy)` of a Keras mode; the policy is float32 when not given."""
    execution, _, policy = mode.partition(":")
    if execution not in EXECUTIONS:
        raise app.UsageError(f"unknown mode {mode!r}: eager, graph or xla[:dtype policy].")
    return execution, policy or "float32"


def compile_options(execution):
    """The `compile` arguments that make a Keras model's train step run as `execution`."""
    return {"run_eagerly": execution == "eager", "jit_compile": execution == "xla"}


class KerasStep:
    """A compiled Keras model's train step on one fixed batch (`data`, as `fit` takes it),
    called directly: `make_train_function`'s step without `fit`'s per-call set-up."""

    def __init__(self, model, data, compute_dtype):
        self.model, self.compute_dtype = model, compute_dtype
        dataset = tf.data.Dataset.from_tensors(data).repeat()
        model.fit(dataset, steps_per_epoch=1, epochs=1, shuffle=False, verbose=0)  # builds all
        self.train_function = model.make_train_function()
        self.iterator = iter(dataset)
        self.time_steps(2)  # trace / compile

    def time_steps(self, steps):
        start = time.perf_counter()
        for _ in range(steps):
            logs = self.train_function(self.iterator)
        self.loss = float(logs["loss"])  # waits for the last step
        return (time.perf_counter() - start) / steps


class TorchStep:
    """A PyTorch step; subclasses build their model and define `step`, which sets `loss`.
    PyTorch computes in float32 and is read against TensorFlow's float32 ceiling."""

    compute_dtype = "float32"

    def time_steps(self, steps):
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        return (time.perf_counter() - start) / steps


def import_torch():
    """`torch`, set to use every core this process may run on, as TensorFlow does."""
    import torch

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    return torch


def build_runners(keras_step, torch_step):
    """`(runners, torch_note)`: a runner per mode of `--modes` (`keras_step(mode)` or
    `torch_step()`, which raises ImportError without torch / transformers), and why
    PyTorch was not measured (None when it was)."""
    runners, torch_note = {}, None
    for mode in FLAGS.modes:
        if mode == "torch":
            try:
                runners[mode] = torch_step()
            except ImportError as error:
                torch_note = f"not measured: torch / transformers not installed ({error})"
        else:
            runners[mode] = keras_step(mode)
    if "torch" not in FLAGS.modes:
        torch_note = "not measured: --modes has no torch"
    return runners, torch_note


def ceiling_dtypes(runners):
    """float32, bfloat16 where the CPU has bfloat16 instructions, and every other compute
    dtype a timed mode uses (a bfloat16 mode on a CPU without them is read against
    TensorFlow's bfloat16 products there, however slow)."""
    dtypes = ["float32"] + (["bfloat16"] if bfloat16_instructions() else [])
    return dtypes + sorted({r.compute_dtype for r in runners.values()} - set(dtypes))


def make_ceiling(products, runners):
    """The `Ceiling` of `products` in every dtype the runners need; `--smoke` times each
    product once."""
    return Ceiling(products, ceiling_dtypes(runners), FLAGS.ceiling_seconds,
                   min_repeats=1 if FLAGS.smoke else 3)


def time_rounds(runners, ceiling):
    """Per mode, its step seconds in each of `--rounds` rounds of `--steps` steps; the
    ceiling is measured in every round too, so noise hits it as it hits the steps."""
    timings = {mode: [] for mode in runners}
    for round_ in range(FLAGS.rounds):
        for mode, runner in runners.items():
            timings[mode].append(runner.time_steps(FLAGS.steps))
        ceiling.measure_round()
        print(f"round {round_ + 1}/{FLAGS.rounds}: " + ", ".join(
            f"{m} {t[-1]:.3f}s" for m, t in timings.items()), flush=True)
    return timings


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


def run_results(settings, flops_per_step, tokens, ceiling, runners, timings, torch_note):
    """Every figure of a run, as JSON: the machine, the run's `settings` (name -> value),
    the rounds, the FLOP counts, the ceiling, whether PyTorch ran, and `mode_results` per
    mode in the order timed. `tokens`: a step's tokens."""
    reference = {m: statistics.median(timings[m]) for m in ("graph", "torch") if m in timings}
    return {
        "machine": describe(), **settings, "rounds": FLAGS.rounds, "steps": FLAGS.steps,
        "model_flops_per_step": flops_per_step,
        "flops_count": FLOPS_COUNT,
        "matmul_flops_per_step": sum(p.training_flops for p in ceiling.products),
        "ceiling": ceiling.results(),
        "torch": torch_note or "measured",
        "modes": [mode_results(m, t, runners[m], flops_per_step, tokens, ceiling, reference)
                  for m, t in timings.items()],
    }


def print_figures(ceiling, results):
    """The FLOP counts, the ceiling and the modes' table of `results` (`run_results`)."""
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


def write_results(results):
    """`results` as JSON to `--output`, when given."""
    if FLAGS.output:
        pathlib.Path(FLAGS.output).write_text(json.dumps(results, indent=2) + "\n")
