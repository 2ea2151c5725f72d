"""`Pretrainer`: what every pre-training objective here shares.

`ElectraPretrainer` (replaced-token detection) and `MaskedLMPretrainer` (the
BERT-style baseline) differ in their towers, losses and metrics. They share
the rest, which lives here: the config and vocabulary checks, the dynamic
masking drawn afresh at every step, the masked-LM loss, the train and test
steps (gradient accumulation, distribution strategies, mixed precision),
`compile`'s defaults and the run folder's format (a keras-hub preset whose
backbone is the encoder that fine-tuning starts from).

Example:
```python
from electra_tf import ElectraConfig, ElectraPretrainer, MaskedLMPretrainer, tokenization

vocab = tokenization.build_vocabulary(["今天天气很好", "明天也很好"], 40)
special = tokenization.special_token_ids(tokenization.make_tokenizer(vocab))
config = ElectraConfig.from_preset("tiny")
electra = ElectraPretrainer(config, len(vocab), special)
baseline = MaskedLMPretrainer(config.for_objective("mlm"), len(vocab), special)
assert electra.encoder is electra.discriminator  # what fine-tuning starts from
electra.encoder.hidden_dim, baseline.encoder.hidden_dim  # the same encoder sizes  # -> (64, 64)
```
"""

import keras
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.compat.multi_worker import MultiWorkerFit, worker_logs
from electra_tf.compat.tracing import BuildOptimizerBeforeTraining
from electra_tf.config import ElectraConfig
from electra_tf.data.masking import DynamicMasking
from electra_tf.models import model_dir
from electra_tf.optimizers import clip_by_global_norm_across_replicas, create_optimizer


class Pretrainer(MultiWorkerFit, BuildOptimizerBeforeTraining, keras.Model):
    """Base of the pre-training models: trained with plain `fit` on unmasked text.

    Inputs are dicts of `token_ids`, `segment_ids`, `padding_mask` (and
    `word_ids` for whole-word masking), as produced by
    `electra_tf.data.pretraining.pretraining_dataset`; each step masks them
    itself (`self.masking`).

    A subclass sets `objective` (the `ElectraConfig.objective` it trains),
    builds its layers after `super().__init__` and then calls
    `self._create_variables()`; it defines `call` (returning at least
    `mlm_logits`, `mask_ids` and `mask_weights`), `compute_pretraining_losses`
    (at least `loss` and `mlm_loss`), `metrics` and `_update_metrics`, and has
    an `encoder` (`electra_tf.models.encoders.build_encoder`; saved as the
    preset's backbone: what fine-tuning starts from) and a `masked_lm` (a model from `token_ids`,
    `segment_ids`, `padding_mask`, `mask_positions` to logits over the
    vocabulary at those positions).
    """

    objective = None

    def __init__(self, config, vocabulary_size, special_token_ids, seed=None, tokenizer=None,
                 **kwargs):
        if isinstance(config, dict):
            config = ElectraConfig.from_dict(config)
        # The model's own policy makes `compile` add loss scaling under mixed_float16.
        kwargs.setdefault("dtype", config.dtype_policy)
        super().__init__(**kwargs)
        if config.objective != self.objective:
            raise ValueError(
                f"{type(self).__name__} trains the {self.objective!r} objective, but the config's "
                f"objective is {config.objective!r}: use "
                f"{model_dir.PRETRAINER_CLASSES[config.objective]} instead (run_pretraining picks "
                "the class from the config), or change the config's objective.")
        if config.vocab_size is not None and config.vocab_size != vocabulary_size:
            raise ValueError(
                f"the config says vocab_size={config.vocab_size} but the vocabulary has "
                f"{vocabulary_size} entries; set vocab_size to null (or {vocabulary_size}) "
                "or use the matching vocabulary file."
            )
        missing = [t for t in tokenization.SPECIAL_TOKENS if t not in special_token_ids]
        if missing:
            raise ValueError(f"special_token_ids lacks {missing}.")
        self.electra_config = config
        self.vocabulary_size = int(vocabulary_size)
        self.special_token_ids = {k: int(v) for k, v in special_token_ids.items()}
        self.seed = seed
        # Saved as the preset's tokenizer by save_to_preset, not in get_config.
        self.tokenizer = tokenizer

        self.masking = DynamicMasking(
            mask_token_id=self.special_token_ids[tokenization.MASK],
            special_token_ids=sorted(self.special_token_ids.values()),
            vocab_size=vocabulary_size,
            max_predictions=config.num_masked_predictions,
            mask_probability=config.mask_probability,
            mask_token_rate=config.mask_token_rate,
            random_token_rate=config.random_token_rate,
            seed=seed,
            name="masking",
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mlm_loss_tracker = keras.metrics.Mean(name="mlm_loss")
        self.mlm_accuracy = keras.metrics.SparseCategoricalAccuracy(name="mlm_accuracy")

    def _create_variables(self):
        """Calls the model on one sequence of zeros, which creates every variable."""
        length = self.electra_config.sequence_length
        self({
            "token_ids": tf.zeros([1, length], tf.int32),
            "segment_ids": tf.zeros([1, length], tf.int32),
            "padding_mask": tf.ones([1, length], tf.int32),
        })

    def build(self, input_shape=None):
        # Sub-layers build on the first call, which the constructor makes.
        self.built = True

    def masked_lm_loss(self, outputs):
        """Mean cross-entropy over the masked slots (padding slots weigh 0)."""
        losses = keras.losses.sparse_categorical_crossentropy(
            outputs["mask_ids"], outputs["mlm_logits"], from_logits=True
        )
        weights = outputs["mask_weights"]
        return tf.reduce_sum(losses * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)

    def _update_metrics(self, outputs, losses):
        self.loss_tracker.update_state(losses["loss"])
        self.mlm_loss_tracker.update_state(losses["mlm_loss"])
        self.mlm_accuracy.update_state(
            outputs["mask_ids"], outputs["mlm_logits"], sample_weight=outputs["mask_weights"]
        )

    # ----------------------------------------------------------------- training
    def compile(self, optimizer="auto", jit_compile="auto", **kwargs):
        """Defaults: AdamW with the config's schedule; XLA as the config says."""
        if optimizer == "auto":
            optimizer = create_optimizer(self.electra_config)
        if jit_compile == "auto":
            jit_compile = self.electra_config.jit_compile
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def train_step(self, data):
        inputs = data[0] if isinstance(data, tuple) else data
        # Keras sums replica gradients, so each replica contributes its share
        # of the global mean (and each micro-batch its share of the update's).
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        micro_batches = self.electra_config.gradient_accumulation_steps
        if micro_batches == 1:
            gradients = self._micro_batch_gradients(inputs, replicas)
        else:
            gradients = self._accumulated_gradients(inputs, micro_batches, replicas)
        if replicas > 1 and self.electra_config.clip_norm:
            gradients = clip_by_global_norm_across_replicas(
                gradients, self.electra_config.clip_norm * self._loss_scale()
            )
        self.optimizer.apply(gradients, self.trainable_variables)
        return worker_logs({metric.name: metric.result() for metric in self.metrics})

    def _micro_batch_gradients(self, inputs, shares):
        """Gradients of `loss / shares` on `inputs`; updates the metrics."""
        with tf.GradientTape() as tape:
            outputs = self(inputs, training=True)
            losses = self.compute_pretraining_losses(outputs)
            scaled_loss = self.optimizer.scale_loss(losses["loss"] / shares)
        self._update_metrics(outputs, losses)
        return tape.gradient(scaled_loss, self.trainable_variables)

    def _accumulated_gradients(self, inputs, micro_batches, replicas):
        """The mean gradient of `micro_batches` equal slices of the batch, one at a time.

        Keras' own `gradient_accumulation_steps` would fit here, but under
        `MirroredStrategy` (Keras 3.15) its conditional update fails
        ("`merge_call` called while defining a new graph"), and it makes every
        micro-batch a step of `fit`. Accumulating inside the step keeps one
        step per update (schedule, checkpoints, logs count updates) under any
        strategy; a sequential loop keeps one micro-batch's activations alive
        at a time. The random streams (masking, sampling) draw once per micro-batch.
        """
        def micro(value):
            return tf.reshape(value, tf.concat([[micro_batches, -1], tf.shape(value)[1:]], 0))

        sliced = {name: micro(value) for name, value in inputs.items()}
        variables = self.trainable_variables

        def accumulate(index, total):
            gradients = self._micro_batch_gradients(
                {name: value[index] for name, value in sliced.items()}, replicas * micro_batches)
            return index + 1, [t if g is None else t + tf.convert_to_tensor(g)
                               for t, g in zip(total, gradients)]

        zeros = [tf.zeros(v.shape, v.dtype) for v in variables]
        _, total = tf.while_loop(lambda index, _: index < micro_batches, accumulate,
                                 [tf.constant(0), zeros], parallel_iterations=1)
        return total

    def _loss_scale(self):
        # Under mixed_float16 the gradients are still multiplied by the loss scale.
        scale = getattr(self.optimizer, "dynamic_scale", None)
        return 1.0 if scale is None else tf.cast(scale, tf.float32)

    def test_step(self, data):
        inputs = data[0] if isinstance(data, tuple) else data
        outputs = self(inputs, training=False)
        self._update_metrics(outputs, self.compute_pretraining_losses(outputs))
        return worker_logs({metric.name: metric.result() for metric in self.metrics})

    # -------------------------------------------------------------- persistence
    def get_config(self):
        return {
            **super().get_config(),
            "config": self.electra_config.to_dict(),
            "vocabulary_size": self.vocabulary_size,
            "special_token_ids": self.special_token_ids,
            "seed": self.seed,
        }

    def save_to_preset(self, preset_dir, tokenizer=None):
        """Saves the pre-trainer as a keras-hub-style preset (`models.model_dir`).

        The `encoder` is the preset's backbone, so
        `keras_hub.models.ElectraBackbone.from_preset(preset_dir)` loads it
        (without this package when the config's activation is keras-hub's
        `gelu_approximate`) and any task's `from_preset` starts a head on it;
        `task.json` holds the recipe and `task.weights.h5` every weight.
        `tokenizer` defaults to the one `from_preset` attached.
        """
        tokenizer = tokenizer or self.tokenizer
        if tokenizer is None:
            raise ValueError("save_to_preset needs the tokenizer the pre-trainer reads: "
                             "pass tokenizer=... so the preset can be used on raw text.")
        return model_dir.save_preset(self, preset_dir, self.encoder, tokenizer)

    @classmethod
    def from_preset(cls, preset_dir, load_weights=True, dtype=None):
        """The pre-trainer `save_to_preset` wrote, its tokenizer as `.tokenizer`.

        `dtype` (a Keras dtype policy, e.g. `"mixed_bfloat16"`) builds it to
        compute under that policy (its config's `dtype_policy`); `None` keeps the
        saved one. Run folders in version 0.1's layout load too, as saved, with a
        warning saying how to rewrite them.
        """
        configure = None
        if dtype is not None:
            name = keras.dtype_policies.get(dtype).name

            def configure(config):
                return {**config, "dtype": name, "config": {**config["config"],
                                                            "dtype_policy": name}}
        return model_dir.load_preset(cls, preset_dir, load_weights, configure)
