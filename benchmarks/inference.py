"""Inference speed of a sentence classifier: the Keras model and its exported SavedModel, in
float32 and bfloat16, against the CPU's matrix-product ceiling and against PyTorch.

Times the forward pass of `ElectraClassifier` (an ELECTRA discriminator
backbone of a config with the original head, one dense layer on `[CLS]`;
random weights) on one synthetic batch of token ids (default 32 x 128), in
each mode:

- `graph` (also `eager`, `xla`): the Keras model's compiled predict step,
  called directly on the batch: `make_predict_function`'s step without
  `predict`'s per-call set-up (a `tf.data` pipeline, keras-hub's
  preprocessing of strings);
- `savedmodel`: the SavedModel `electra_tf.export` writes for the classifier
  (`ClassifierServable`), loaded with `tf.saved_model.load` and called through
  its ids-in signature (`serve_token_ids`): the model, its softmax and the
  label lookup, as TF Serving runs them;
- either with a Keras dtype policy after a colon (`graph:mixed_bfloat16`,
  `savedmodel:mixed_bfloat16`): the classifier loaded under that policy, as
  `electra-export --dtype_policy` loads it. Every Keras and SavedModel mode
  loads the same saved weights;
- `torch`, `torch_compile`: with `torch` and `transformers` installed (`make
  bench-env`), Hugging Face's `ElectraForSequenceClassification` of the same
  sizes in eval mode under `torch.inference_mode()`, eagerly or through
  `torch.compile`; its head adds one `hidden x hidden` product per sequence.
  Ratios to PyTorch are to the faster of the two.

Modes are timed as in `pretrain_step.py` and `finetune_step.py`
(`step_benchmark.py`): interleaved rounds, medians, ratios measured side by
side. In every round the script also times TensorFlow's forward matrix
products of the pass's own shapes (`ceiling.finetuning_products`, forward
only: the encoder's projections on `batch x sequence` rows, attention's
batched products, the logits on the `[CLS]` rows) and a 2048^3 product, in
float32, in bfloat16 where the CPU has AVX512_BF16 or AMX, and in any other
compute dtype a mode uses. A mode's model FLOP/s
(`electra_tf.flops.inference_flops_per_step`: the forward pass, no dropout,
embedding lookups counted as products as the ELECTRA paper counts them) over
the ceiling of its compute dtype is its `ceiling_fraction`, a ratio to compare
runs and modes by, not a utilisation.

A mode's `last_loss` is the cross-entropy of its last pass's class
probabilities against random labels of the batch, computed after the clock
stops: a check that the mode computes what the others do (the Keras and
SavedModel modes of a policy share weights and agree; bfloat16 lands near
float32; PyTorch's model has weights of its own).

`--output results.json` writes every printed figure, shaped as
`finetune_step.py`'s: the run's settings (with `num_labels`),
`model_flops_per_step`, `matmul_flops_per_step` (forward products),
`flops_count`, the `ceiling` per dtype, `torch` and `torch_compile`
("measured" or why not), `torch_reference`, and per mode (`modes`, in the
order timed) `mode`, `step_seconds` (one pass over the batch),
`model_flops_per_second`, `ceiling_flops_per_second`, `ceiling_fraction`,
`ratio_to_fp32_graph`, `ratio_to_torch`, and `step_seconds_per_round`,
`tokens_per_second`, `ceiling_dtype`, `matmul_time_fraction`,
`compute_dtype`, `last_loss`.

Run alone on the machine (nothing else heavy), e.g.:
  python benchmarks/inference.py                 # Small, batch 32 x 128, every mode
  python benchmarks/inference.py --modes graph,savedmodel --rounds 3 --output inference.json
  .venv-bench/bin/python benchmarks/inference.py   # with the PyTorch reference (make bench-env)
  python benchmarks/inference.py --smoke         # seconds: every figure, nothing measured
"""

import pathlib
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

import step_benchmark
from ceiling import finetuning_products
from electra_tf import ElectraConfig
from electra_tf.export import IDS_SIGNATURE, ClassifierServable, export_saved_model, servables
from electra_tf.flops import inference_flops_per_step
from electra_tf.models.classification.classifier import ElectraClassifier
from hf_reference import hf_classifier
from step_benchmark import compile_options, parse_mode
from synthetic import synthetic_batch, synthetic_labels, synthetic_vocabulary

FLAGS = flags.FLAGS
EXECUTIONS = (*step_benchmark.EXECUTIONS, "savedmodel")
step_benchmark.define_flags(["graph", "graph:mixed_bfloat16", "savedmodel",
                             "savedmodel:mixed_bfloat16", "torch", "torch_compile"],
                            EXECUTIONS, training=False)
flags.DEFINE_integer("num_labels", 2, "Classes of the classifier.")
flags.adopt_module_key_flags(step_benchmark)  # --help lists the shared flags too

# --smoke: the tiny config, one pass of every default mode (PyTorch's where installed), one
# quick pass over the ceiling's products.
SMOKE = {"config": "tiny", "batch_size": 2, "sequence_length": 16, "vocab_size": 100,
         "rounds": 1, "steps": 1, "ceiling_seconds": 0.0}


class ForwardPass:
    """A mode's forward pass on the batch. Subclasses set `compute_dtype` and define
    `forward()`, the timed call, returning logits or (`probabilities`) class probabilities."""

    def __init__(self, labels):
        self.labels = labels

    def time_steps(self, steps):
        start = time.perf_counter()
        for _ in range(steps):
            outputs = self.forward()
        outputs = np.asarray(outputs)  # waits for the last pass
        seconds = (time.perf_counter() - start) / steps
        chosen = self.probabilities(outputs)[np.arange(len(self.labels)), self.labels]
        self.loss = float(-np.log(chosen).mean())
        return seconds

    def probabilities(self, logits):
        """The softmax of `forward()`'s logits."""
        exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return exponentials / exponentials.sum(axis=-1, keepdims=True)


class KerasForwardPass(ForwardPass):
    """The classifier's compiled predict step in a Keras execution mode, on the ids."""

    def __init__(self, model, execution, ids, labels):
        super().__init__(labels)
        model.compile(**compile_options(execution))
        model.make_predict_function()  # sets `predict_function`
        self.predict_function = model.predict_function
        self.data = [ids]  # one step's batch, as `predict` hands it over
        self.compute_dtype = model.backbone.dtype_policy.compute_dtype
        self.time_steps(2)  # trace / compile

    def forward(self):
        return self.predict_function(self.data)


class SavedModelForwardPass(ForwardPass):
    """The classifier exported to `export_dir` as `electra_tf.export` exports it, loaded back
    and called through its ids-in signature."""

    def __init__(self, model, export_dir, ids, labels):
        super().__init__(labels)
        export_saved_model(ClassifierServable(model), export_dir)
        self.loaded = tf.saved_model.load(export_dir)  # owns the signature's variables
        self.signature = self.loaded.signatures[IDS_SIGNATURE]
        self.ids = ids
        self.compute_dtype = servables.encoder_policy(model).compute_dtype
        self.time_steps(2)  # warm up

    def forward(self):
        return self.signature(**self.ids)["probabilities"]

    def probabilities(self, probabilities):
        """The signature's own softmax."""
        return probabilities


class HfForwardPass(ForwardPass, step_benchmark.TorchStep):
    """The same pass in PyTorch: Hugging Face's classifier in eval mode (no dropout) under
    `torch.inference_mode()`, in `mode` (`torch`, `torch_compile`)."""

    def __init__(self, config, vocabulary_size, ids, labels, mode):
        ForwardPass.__init__(self, labels)
        step_benchmark.TorchStep.__init__(self, mode)
        model = hf_classifier(config, vocabulary_size, FLAGS.num_labels).eval()
        self.model = self.module(model)
        self.ids = self.torch.tensor(ids["token_ids"].numpy(), dtype=self.torch.long)
        self.warm_up()

    def forward(self):
        with self.torch.inference_mode():
            return self.model(input_ids=self.ids).logits


def save_classifier(config, vocabulary, folder):
    """A float32 classifier of `config`'s sizes with random weights, saved to `folder` as a
    fine-tuned one is, for each mode to load under its own policy."""
    ElectraClassifier.from_scratch(config.replace(dtype_policy="float32"), vocabulary,
                                   num_classes=FLAGS.num_labels).save_to_preset(str(folder))


def keras_pass(folder, mode, ids, labels):
    """The pass of a Keras or SavedModel `mode` on the classifier saved in `folder`, loaded
    under the mode's dtype policy as `electra-export --dtype_policy` loads it; a SavedModel
    is exported into `folder` too."""
    execution, policy = parse_mode(mode, EXECUTIONS)
    model = servables.load_model("classifier", folder / "classifier", policy)
    if execution == "savedmodel":
        return SavedModelForwardPass(model, tempfile.mkdtemp(dir=folder), ids, labels)
    return KerasForwardPass(model, execution, ids, labels)


def main(argv):
    del argv
    step_benchmark.apply_smoke(SMOKE)
    config = ElectraConfig.from_preset(FLAGS.config).replace(
        sequence_length=FLAGS.sequence_length, batch_size=FLAGS.batch_size)
    vocabulary = synthetic_vocabulary(FLAGS.vocab_size)
    batch = synthetic_batch(len(vocabulary), FLAGS.batch_size, config.sequence_length)
    ids = {name: tf.constant(value) for name, value in batch.items()}
    labels = synthetic_labels(FLAGS.num_labels, FLAGS.batch_size)
    with tempfile.TemporaryDirectory() as directory:
        folder = pathlib.Path(directory)
        save_classifier(config, vocabulary, folder / "classifier")
        runners, torch_notes = step_benchmark.build_runners(
            lambda mode: keras_pass(folder, mode, ids, labels),
            lambda mode: HfForwardPass(config, len(vocabulary), ids, labels, mode))
        ceiling = step_benchmark.make_ceiling(finetuning_products(config, FLAGS.num_labels),
                                              runners, training=False)
        timings = step_benchmark.time_rounds(runners, ceiling)

    settings = {"config": config.name, "batch_size": FLAGS.batch_size,
                "sequence_length": config.sequence_length, "vocab_size": len(vocabulary),
                "num_labels": FLAGS.num_labels}
    flops = inference_flops_per_step(config, FLAGS.num_labels, len(vocabulary))
    results = step_benchmark.run_results(
        settings, flops["total"], FLAGS.batch_size * config.sequence_length, ceiling, runners,
        timings, torch_notes)
    print(f"\n{config.name} classifier inference, {FLAGS.num_labels} labels: batch "
          f"{FLAGS.batch_size} x sequence {config.sequence_length}, vocabulary "
          f"{len(vocabulary)}, median of {FLAGS.rounds} interleaved rounds x {FLAGS.steps} "
          f"passes ({results['machine']})")
    step_benchmark.print_figures(ceiling, results)
    step_benchmark.write_results(results)


if __name__ == "__main__":
    app.run(main)
