"""Pre-training step speed: eager vs tf.function vs XLA, dtype policies, the input pipeline,
and PyTorch.

Times one ELECTRA pre-training step (generator + discriminator, forward,
backward, AdamW update) of a config at a given batch and sequence length, in
each execution mode, interleaved over several rounds so machine noise hits
every mode alike; reports medians and ratios measured side by side. With
`torch` and `transformers` installed (`make bench-env` builds them into
`.venv-bench`; the library's own venv never holds them), a Hugging Face step of the same
size (ElectraForMaskedLM generator + ElectraForPreTraining discriminator with
tied embeddings) is timed in the same rounds as the reference: eagerly (`torch`)
and with both models through `torch.compile` (`torch_compile`; "not measured"
and why when compiling fails, e.g. without a C++ compiler).

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
step's shapes together, the 2048^3 product, each product), `torch` and
`torch_compile` ("measured" or why not), and per mode (`modes`, a list in the order timed)
`mode`, `step_seconds`, `model_flops_per_second`, `ceiling_flops_per_second`,
`ceiling_fraction`, `ratio_to_fp32_graph` (the `graph` mode's step over this
one's: > 1 is faster; null without a `graph` mode), `ratio_to_torch` (the
same against the faster PyTorch mode, which `torch_reference` names; null when
neither was measured), and `tokens_per_second`, `matmul_time_fraction`,
`compute_dtype`, `last_loss`, the per-round steps.

Run alone on the machine (nothing else heavy), e.g.:
  python benchmarks/pretrain_step.py                      # Small, seq 128, batch 32
  python benchmarks/pretrain_step.py --config tiny --sequence_length 32 --rounds 2 --steps 2
  python benchmarks/pretrain_step.py --smoke   # seconds: every figure, nothing measured (the tests')
  python benchmarks/pretrain_step.py --modes graph,graph:mixed_bfloat16,graph:mixed_float16 \
      --pipeline=false                                      # which dtype policy to pick
"""

import pathlib
import tempfile
import time

from absl import app, flags

import step_benchmark
from ceiling import step_products
from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.data import corpora, pretraining
from electra_tf.flops import pretraining_flops_per_step
from hf_reference import hf_electra
from step_benchmark import compile_options, parse_mode
from synthetic import synthetic_batch, synthetic_vocabulary

FLAGS = flags.FLAGS
step_benchmark.define_flags(["eager", "graph", "xla", "torch", "torch_compile"])
flags.DEFINE_bool("pipeline", True, "Also time the input pipeline alone.")
flags.adopt_module_key_flags(step_benchmark)  # --help lists the shared flags too

# --smoke: the tiny config, one step of the float32 and bfloat16 graph modes and of PyTorch,
# eager and compiled (where installed), one quick pass over the ceiling's products.
SMOKE = {"config": "tiny", "batch_size": 2, "sequence_length": 16, "vocab_size": 100,
         "rounds": 1, "steps": 1,
         "modes": ["graph", "graph:mixed_bfloat16", "torch", "torch_compile"],
         "pipeline": False, "ceiling_seconds": 0.0}


class PretrainerStep(step_benchmark.KerasStep):
    """`ElectraPretrainer`'s step in a Keras mode, on a synthetic batch."""

    def __init__(self, config, vocabulary, mode):
        execution, policy = parse_mode(mode)
        config = config.replace(dtype_policy=policy)  # validates the policy
        special = tokenization.special_token_ids(tokenization.make_tokenizer(vocabulary))
        model = ElectraPretrainer(config, len(vocabulary), special, seed=0)
        model.compile(**compile_options(execution))
        super().__init__(
            model, synthetic_batch(len(vocabulary), FLAGS.batch_size, config.sequence_length),
            model.discriminator.dtype_policy.compute_dtype)


class HfPretrainingStep(step_benchmark.TorchStep):
    """The same step in PyTorch with Hugging Face's ELECTRA classes, in `mode` (`torch`,
    `torch_compile`: each model compiled, the masking, sampling and update eager)."""

    def __init__(self, config, vocabulary, mode):
        super().__init__(mode)
        torch = self.torch
        generator, discriminator = hf_electra(config, len(vocabulary))
        parameters = {id(p): p for p in [*generator.parameters(), *discriminator.parameters()]}
        self.optimizer = torch.optim.AdamW(parameters.values(), lr=1e-4, eps=1e-6, weight_decay=0.01)
        self.generator, self.discriminator = self.module(generator), self.module(discriminator)
        batch = synthetic_batch(len(vocabulary), FLAGS.batch_size, config.sequence_length)
        self.ids = torch.tensor(batch["token_ids"], dtype=torch.long)
        self.rate = config.mask_probability
        self.warm_up()

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
    step_benchmark.apply_smoke(SMOKE)
    config = ElectraConfig.from_preset(FLAGS.config).replace(
        sequence_length=FLAGS.sequence_length, batch_size=FLAGS.batch_size, dropout=FLAGS.dropout)
    vocabulary = synthetic_vocabulary(FLAGS.vocab_size)
    runners, torch_notes = step_benchmark.build_runners(
        lambda mode: PretrainerStep(config, vocabulary, mode),
        lambda mode: HfPretrainingStep(config, vocabulary, mode))
    ceiling = step_benchmark.make_ceiling(step_products(config, len(vocabulary)), runners)
    timings = step_benchmark.time_rounds(runners, ceiling)

    settings = {"config": config.name, "batch_size": FLAGS.batch_size,
                "sequence_length": config.sequence_length, "vocab_size": len(vocabulary),
                "dropout": FLAGS.dropout}
    results = step_benchmark.run_results(
        settings, pretraining_flops_per_step(config, len(vocabulary))["total"],
        FLAGS.batch_size * config.sequence_length, ceiling, runners, timings, torch_notes)
    if FLAGS.pipeline:
        fastest = min(results["modes"], key=lambda r: r["step_seconds"])
        pipeline = pipeline_batches_per_second(config)
        results["pipeline_batches_per_s"] = pipeline
        results["pipeline_vs_fastest_step"] = pipeline * fastest["step_seconds"]
    print_results(config, ceiling, results)
    step_benchmark.write_results(results)


def print_results(config, ceiling, results):
    """Every figure `results` holds, as tables."""
    print(f"\n{config.name}: batch {FLAGS.batch_size} x sequence {config.sequence_length}, "
          f"vocabulary {results['vocab_size']}, dropout {FLAGS.dropout}, median of "
          f"{FLAGS.rounds} interleaved rounds x {FLAGS.steps} steps ({results['machine']})")
    step_benchmark.print_figures(ceiling, results)
    if "pipeline_batches_per_s" in results:
        fastest = min(results["modes"], key=lambda r: r["step_seconds"])
        print(f"input pipeline: {results['pipeline_batches_per_s']:.1f} batches/s = "
              f"{results['pipeline_vs_fastest_step']:.0f}x what the fastest mode "
              f"({fastest['mode']}) consumes")


if __name__ == "__main__":
    app.run(main)
