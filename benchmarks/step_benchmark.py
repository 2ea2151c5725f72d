"""What the step benchmarks (`pretrain_step.py`, `finetune_step.py`, `inference.py`) share:
their flags, their modes, the interleaved rounds that time every mode and the ceiling, and the
figures they print and write.

A mode is an execution mode (`eager`, `graph`: tf.function, `xla`: jit_compile; a
script may add its own, as `inference.py` adds `savedmodel`), optionally with a Keras
dtype policy after a colon (`graph:mixed_bfloat16`; float32 without one), or a
Hugging Face PyTorch reference, timed when torch and transformers import: `torch`
(eager) or `torch_compile` (the same models through `torch.compile`; reported "not
measured" with the reason when compiling fails). Speed ratios to PyTorch are to the
faster of the two in the run. Each script supplies its own step for both kinds (a
`KerasStep` or a runner like it, and a `TorchStep`), its FLOP count and its ceiling's
products; everything else is here, so the scripts' figures mean the same.
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
TORCH_MODES = ("torch", "torch_compile")


def flops_count(training):
    """How `electra_tf.flops` counts a step's FLOPs, said beside every FLOP/s figure."""
    passes = "backward as costly as forward" if training else "forward only"
    return (f"analytic, as the ELECTRA paper counts them: {passes}, embedding lookups as "
            "one-hot products")


def define_flags(default_modes, executions=EXECUTIONS, training=True):
    """The flags every step benchmark takes; `default_modes` is the script's `--modes`,
    `executions` its Keras modes; `--dropout` only where the step trains (`training`)."""
    flags.DEFINE_string("config", "small", "Preset name or JSON path.")
    flags.DEFINE_integer("batch_size", 32, "Batch size.")
    flags.DEFINE_integer("sequence_length", 128, "Sequence length.")
    flags.DEFINE_integer("vocab_size", 8000, "Vocabulary size (a synthetic vocabulary).")
    flags.DEFINE_integer("rounds", 5, "Interleaved rounds; each times every mode.")
    flags.DEFINE_integer("steps", 3, "Steps timed per mode and round.")
    flags.DEFINE_list("modes", default_modes,
                      f"Modes to time: {', '.join(executions)}, each with a dtype policy after "
                      "a colon if wanted (graph:mixed_bfloat16, xla:mixed_float16, ...), or "
                      "Hugging Face PyTorch: torch (eager) or torch_compile.")
    if training:
        flags.DEFINE_float("dropout", 0.1, "Dropout rate (the recipe's 0.1; 0 isolates the cost "
                           "of dropout's random numbers, which dominates XLA on CPU).")
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


def parse_mode(mode, executions=EXECUTIONS):
    """`(execution, dtype policy)` of a Keras mode, one of `executions`; the policy is float32
    when not given."""
    execution, _, policy = mode.partition(":")
    if execution not in executions:
        raise app.UsageError(f"unknown mode {mode!r}: {', '.join(executions)}[:dtype policy], "
                             f"{' or '.join(TORCH_MODES)}.")
    return execution, policy or "float32"


def compile_options(execution):
    """The `compile` arguments that make a Keras model's steps run as `execution`."""
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
    """A PyTorch step in `mode` (`torch` or `torch_compile`); subclasses build their models
    (each through `module`), define `step`, which sets `loss`, and `warm_up` once built.
    PyTorch computes in float32 and is read against TensorFlow's float32 ceiling."""

    compute_dtype = "float32"

    def __init__(self, mode):
        self.torch = import_torch()
        self.torch.manual_seed(0)  # both modes build the same weights
        self.compiled = mode == "torch_compile"

    def module(self, module):
        """`module` as the mode runs it: through `torch.compile` (its default inductor backend,
        which compiles C++ kernels on the first calls) under `torch_compile`."""
        return self.torch.compile(module) if self.compiled else module

    def warm_up(self):
        """Untimed steps: one, or under `torch_compile` two, as the second call may compile
        again for state the first changed (Hugging Face's classifier sets its config's
        `problem_type` in its first call, which the first compilation guarded on)."""
        self.time_steps(2 if self.compiled else 1)

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
    """`(runners, torch_notes)`: a runner per mode of `--modes` that runs (`keras_step(mode)`,
    or `torch_step(mode)` for the `TORCH_MODES`), and per PyTorch mode "measured" or why
    not."""
    runners, torch_notes = {}, {}
    for mode in FLAGS.modes:
        if mode in TORCH_MODES:
            runner, torch_notes[mode] = torch_runner(mode, torch_step)
            if runner is not None:
                runners[mode] = runner
        else:
            runners[mode] = keras_step(mode)
    for mode in TORCH_MODES:
        torch_notes.setdefault(mode, f"not measured: --modes has no {mode}")
    return runners, torch_notes


def torch_runner(mode, torch_step):
    """`(torch_step(mode), "measured")`, or `(None, why not)`: torch / transformers are not
    installed (ImportError), or, under `torch_compile`, compiling failed. `torch.compile`
    builds C++ kernels with the machine's compiler on the first steps; whatever stops it
    loses that mode, not the run. Eager PyTorch failing is a bug, raised."""
    try:
        return torch_step(mode), "measured"
    except ImportError as error:
        return None, f"not measured: torch / transformers not installed ({error})"
    except Exception as error:  # dynamo's, inductor's or the C++ compiler's: no common base
        if mode != "torch_compile":
            raise
        reason = str(error).strip().splitlines()
        return None, (f"not measured: torch.compile failed ({type(error).__name__}"
                      + (f": {reason[0]}" if reason else "") + ")")


def ceiling_dtypes(runners):
    """float32, bfloat16 where the CPU has bfloat16 instructions, and every other compute
    dtype a timed mode uses (a bfloat16 mode on a CPU without them is read against
    TensorFlow's bfloat16 products there, however slow)."""
    dtypes = ["float32"] + (["bfloat16"] if bfloat16_instructions() else [])
    return dtypes + sorted({r.compute_dtype for r in runners.values()} - set(dtypes))


def make_ceiling(products, runners, training=True):
    """The `Ceiling` of `products` in every dtype the runners need, timed as a training
    (`training`) or inference step runs them; `--smoke` times each product once."""
    return Ceiling(products, ceiling_dtypes(runners), FLAGS.ceiling_seconds,
                   min_repeats=1 if FLAGS.smoke else 3, training=training)


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


def fastest_torch_mode(steps):
    """The PyTorch mode of `steps` (mode -> median step seconds) with the shortest step, the
    reference `ratio_to_torch` is read against; None when none ran."""
    torch_steps = {mode: steps[mode] for mode in TORCH_MODES if mode in steps}
    return min(torch_steps, key=torch_steps.get, default=None)


def run_results(settings, flops_per_step, tokens, ceiling, runners, timings, torch_notes):
    """Every figure of a run, as JSON: the machine, the run's `settings` (name -> value),
    the rounds, the FLOP counts, the ceiling, whether each PyTorch mode ran (`torch_notes`)
    and which was the reference, and `mode_results` per mode in the order timed. `tokens`:
    a step's tokens."""
    steps = {mode: statistics.median(seconds) for mode, seconds in timings.items()}
    torch_reference = fastest_torch_mode(steps)
    reference = {"graph": steps["graph"]} if "graph" in steps else {}
    if torch_reference:
        reference["torch"] = steps[torch_reference]
    return {
        "machine": describe(), **settings, "rounds": FLAGS.rounds, "steps": FLAGS.steps,
        "model_flops_per_step": flops_per_step,
        "flops_count": flops_count(ceiling.training),
        "matmul_flops_per_step": ceiling.step_flops,
        "ceiling": ceiling.results(),
        **torch_notes, "torch_reference": torch_reference,
        "modes": [mode_results(m, t, runners[m], flops_per_step, tokens, ceiling, reference)
                  for m, t in timings.items()],
    }


def print_figures(ceiling, results):
    """The FLOP counts, the ceiling and the modes' table of `results` (`run_results`)."""
    print(f"model FLOPs per step: {results['model_flops_per_step']:.4g} "
          f"({results['flops_count']}); the step's matrix products: "
          f"{results['matmul_flops_per_step']:.4g} ({ceiling.passes})")
    print_ceiling(ceiling)
    width = max([22, *(len(r["mode"]) for r in results["modes"])])  # the longest mode name
    print(f"\n{'mode':{width}} {'step (s)':>9} {'tokens/s':>9} {'GFLOP/s':>8} {'ceiling':>8} "
          f"{'of ceil.':>8} {'matmuls':>8} {'vs graph':>9} {'vs torch':>12}")
    for r in results["modes"]:
        def ratio(value, missing):
            return missing if value is None else f"{value:.2f}x"
        print(f"{r['mode']:{width}} {r['step_seconds']:9.3f} {r['tokens_per_second']:9.0f} "
              f"{r['model_flops_per_second'] / 1e9:8.1f} "
              f"{r['ceiling_flops_per_second'] / 1e9:8.1f} {r['ceiling_fraction']:8.1%} "
              f"{r['matmul_time_fraction']:8.1%} {ratio(r['ratio_to_fp32_graph'], '-'):>9} "
              f"{ratio(r['ratio_to_torch'], 'not measured'):>12}")
    print("(GFLOP/s: model FLOPs per second; ceiling: of the mode's compute dtype (PyTorch's: "
          "TensorFlow's float32); matmuls: the time the step's products take at the ceiling, "
          "as a share of the step; vs: speed ratios, > 1 is faster)")
    if results["torch_reference"]:
        print(f"vs torch: against {results['torch_reference']}, the faster PyTorch mode of "
              "the run")
    for mode in TORCH_MODES:
        if results[mode] != "measured":
            print(f"PyTorch reference {mode}: {results[mode]}")


def write_results(results):
    """`results` as JSON to `--output`, when given."""
    if FLAGS.output:
        pathlib.Path(FLAGS.output).write_text(json.dumps(results, indent=2) + "\n")
