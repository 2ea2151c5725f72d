"""Fine-tuning step speed: a sentence classifier's training step in eager, tf.function and XLA,
in float32 and bfloat16, against the CPU's matrix-product ceiling and against PyTorch.

Times one fine-tuning step of `ElectraClassifier` (an ELECTRA discriminator
backbone of a config with the original head: dropout and one dense layer on
`[CLS]`) on a synthetic batch of token ids and labels: forward, backward and
the update as fine-tuning makes it (`training.finetune.compile_for_finetuning`
with a recipe: AdamW with layer-wise learning-rate decay, warmup and gradient
clipping). Modes are named and timed as in `pretrain_step.py`
(`step_benchmark.py`): interleaved rounds, medians, ratios measured side by
side. With `torch` and `transformers` installed (`make bench-env`), Hugging
Face's `ElectraForSequenceClassification` of the same sizes, with AdamW and the
same clipping, is timed on the same batch as the reference, eagerly (`torch`)
and through `torch.compile` (`torch_compile`); its head adds one `hidden x
hidden` product per sequence, next to nothing beside the encoder.

In every round the script also times TensorFlow's matrix products of this step's
own shapes (`ceiling.finetuning_products`: the encoder's projections on `batch x
sequence` rows and attention's batched products, each with its two gradient
products, and the logits on the `[CLS]` rows) and a 2048^3 product, in float32,
in bfloat16 where the CPU has AVX512_BF16 or AMX, and in any other compute dtype
a mode uses. A mode's model FLOP/s (`electra_tf.flops.finetuning_flops_per_step`,
counted as the ELECTRA paper counts: backward as costly as forward, embedding
lookups as products) over the ceiling of its compute dtype is its
`ceiling_fraction`, a ratio to compare runs and modes by, not a utilisation.

`--output results.json` writes every printed figure, shaped as
`pretrain_step.py`'s: the run's settings (with `num_labels` and the `recipe`),
`model_flops_per_step`, `matmul_flops_per_step`, `flops_count`, the `ceiling`
per dtype, `torch` and `torch_compile` ("measured" or why not),
`torch_reference` (the faster of them, which `ratio_to_torch` is against), and
per mode (`modes`, in the order timed) `mode`, `step_seconds`,
`model_flops_per_second`, `ceiling_flops_per_second`, `ceiling_fraction`,
`ratio_to_fp32_graph`, `ratio_to_torch`, and `step_seconds_per_round`, `tokens_per_second`,
`ceiling_dtype`, `matmul_time_fraction`, `compute_dtype`, `last_loss`.

Run alone on the machine (nothing else heavy), e.g.:
  python benchmarks/finetune_step.py              # Small, batch 32 x 128, 2 labels, every mode
  python benchmarks/finetune_step.py --modes graph,graph:mixed_bfloat16 --rounds 3
  python benchmarks/finetune_step.py --smoke      # seconds: every figure, nothing measured
"""

from absl import app, flags

import step_benchmark
from ceiling import finetuning_products
from electra_tf import ElectraConfig
from electra_tf.config import FinetuneConfig
from electra_tf.flops import finetuning_flops_per_step
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.encoders import build_encoder
from electra_tf.training.finetune import compile_for_finetuning
from hf_reference import hf_classifier
from step_benchmark import compile_options, parse_mode
from synthetic import synthetic_batch, synthetic_labels

FLAGS = flags.FLAGS
step_benchmark.define_flags(["graph", "graph:mixed_bfloat16", "xla", "eager", "torch",
                             "torch_compile"])
flags.DEFINE_integer("num_labels", 2, "Classes of the classifier.")
flags.DEFINE_string("recipe", "paper_small", "Fine-tuning recipe (a FinetuneConfig preset or "
                    "JSON path): the optimizer's settings.")
flags.adopt_module_key_flags(step_benchmark)  # --help lists the shared flags too

# --smoke: the tiny config, one step of the float32 and bfloat16 graph modes and of PyTorch,
# eager and compiled (where installed), one quick pass over the ceiling's products.
SMOKE = {"config": "tiny", "batch_size": 2, "sequence_length": 16, "vocab_size": 100,
         "rounds": 1, "steps": 1,
         "modes": ["graph", "graph:mixed_bfloat16", "torch", "torch_compile"],
         "ceiling_seconds": 0.0}
# The learning-rate schedule's length: it sets the rate's value at a step, not the step's cost.
SCHEDULE_STEPS = 1000


class ClassifierStep(step_benchmark.KerasStep):
    """`ElectraClassifier`'s fine-tuning step in a Keras mode, on `(batch, labels)`."""

    def __init__(self, config, recipe, vocabulary_size, data, mode):
        execution, policy = parse_mode(mode)
        config = config.replace(dtype_policy=policy)  # validates the policy
        # The original head, the one `finetuning_flops_per_step` counts.
        model = ElectraClassifier(build_encoder(config, vocabulary_size),
                                  num_classes=FLAGS.num_labels, head="electra")
        compile_for_finetuning(model, recipe, config, SCHEDULE_STEPS,
                               **compile_options(execution))
        super().__init__(model, data, model.backbone.dtype_policy.compute_dtype)


class HfClassifierStep(step_benchmark.TorchStep):
    """The same step in PyTorch: Hugging Face's classifier, AdamW with the recipe's rate and
    the config's weight decay and epsilon, clipped to the config's norm, in `mode` (`torch`,
    `torch_compile`: the model compiled, the update eager). (No layer-wise decay: a rate
    per parameter group would not change the step's cost.)"""

    def __init__(self, config, recipe, vocabulary_size, data, mode):
        super().__init__(mode)
        torch = self.torch
        model = hf_classifier(config, vocabulary_size, FLAGS.num_labels).train()
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate,
                                           eps=config.adam_epsilon,
                                           weight_decay=config.weight_decay)
        self.model = self.module(model)
        self.clip_norm = config.clip_norm
        batch, labels = data
        self.ids = torch.tensor(batch["token_ids"], dtype=torch.long)
        self.labels = torch.tensor(labels, dtype=torch.long)
        self.warm_up()

    def step(self):
        loss = self.model(input_ids=self.ids, labels=self.labels).loss
        self.loss = loss.item()
        self.optimizer.zero_grad()
        loss.backward()
        self.torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()


def main(argv):
    del argv
    step_benchmark.apply_smoke(SMOKE)
    config = ElectraConfig.from_preset(FLAGS.config).replace(
        sequence_length=FLAGS.sequence_length, batch_size=FLAGS.batch_size, dropout=FLAGS.dropout)
    recipe = FinetuneConfig.from_preset(FLAGS.recipe)
    vocabulary_size = FLAGS.vocab_size
    data = (synthetic_batch(vocabulary_size, FLAGS.batch_size, config.sequence_length),
            synthetic_labels(FLAGS.num_labels, FLAGS.batch_size))
    runners, torch_notes = step_benchmark.build_runners(
        lambda mode: ClassifierStep(config, recipe, vocabulary_size, data, mode),
        lambda mode: HfClassifierStep(config, recipe, vocabulary_size, data, mode))
    ceiling = step_benchmark.make_ceiling(finetuning_products(config, FLAGS.num_labels),
                                          runners)
    timings = step_benchmark.time_rounds(runners, ceiling)

    settings = {"config": config.name, "batch_size": FLAGS.batch_size,
                "sequence_length": config.sequence_length, "vocab_size": vocabulary_size,
                "num_labels": FLAGS.num_labels, "recipe": recipe.name, "dropout": FLAGS.dropout}
    flops_per_step = finetuning_flops_per_step(config, FLAGS.num_labels, vocabulary_size)
    results = step_benchmark.run_results(
        settings, flops_per_step["total"], FLAGS.batch_size * config.sequence_length, ceiling,
        runners, timings, torch_notes)
    print(f"\n{config.name} classifier, {FLAGS.num_labels} labels, recipe {recipe.name}: batch "
          f"{FLAGS.batch_size} x sequence {config.sequence_length}, vocabulary "
          f"{vocabulary_size}, dropout {FLAGS.dropout}, median of {FLAGS.rounds} interleaved "
          f"rounds x {FLAGS.steps} steps ({results['machine']})")
    step_benchmark.print_figures(ceiling, results)
    step_benchmark.write_results(results)


if __name__ == "__main__":
    app.run(main)
