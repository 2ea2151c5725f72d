"""`ElectraPretrainer`: generator + discriminator trained by replaced-token detection.

Example:
```python
from electra_tf import ElectraConfig, ElectraPretrainer, tokenization

vocab = tokenization.build_vocabulary(["今天天气很好", "明天也很好"], 40)
config = ElectraConfig.from_preset("tiny")
pretrainer = ElectraPretrainer(config, vocabulary_size=len(vocab),
                               special_token_ids=tokenization.special_token_ids(
                                   tokenization.make_tokenizer(vocab)))
pretrainer.compile()  # AdamW with the config's warmup + linear decay
# pretrainer.fit(electra_tf.data.pretraining.pretraining_dataset(...), ...)
```
"""

import pathlib

import keras
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.config import ElectraConfig
from electra_tf.data.masking import DynamicMasking
from electra_tf.layers.heads import ReplacedTokenDetectionHead
from electra_tf.layers.seed_stream import SeedStream
from electra_tf.models.backbone import ElectraBackbone
from electra_tf.models.generator import ElectraGenerator
from electra_tf.models.metrics import WithinBatchRocAuc
from electra_tf.models.multi_worker import MultiWorkerFit, worker_logs
from electra_tf.models import model_dir
from electra_tf.models.tracing import BuildOptimizerBeforeTraining
from electra_tf.optimizers import clip_by_global_norm_across_replicas, create_optimizer



def build_discriminator(config: ElectraConfig, vocabulary_size: int, name="discriminator"):
    """The discriminator: keras-hub's `ElectraBackbone` with the config's GELU."""
    return ElectraBackbone(
        vocab_size=vocabulary_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        hidden_dim=config.hidden_size,
        embedding_dim=config.embedding_size,
        intermediate_dim=config.intermediate_size,
        dropout=config.dropout,
        max_sequence_length=config.max_position_embeddings,
        activation=config.activation,
        dtype=config.dtype_policy,
        name=name,
    )


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraPretrainer(MultiWorkerFit, BuildOptimizerBeforeTraining, keras.Model):
    """ELECTRA's pre-training model, trained with plain `fit`.

    Each step masks the batch afresh (`DynamicMasking`), trains the generator
    as a masked LM on the masked slots, samples replacements from it
    (Gumbel-max at the configured temperature, in float32, behind a stop
    gradient), and trains the discriminator to tell replaced from original
    tokens over every real token. A sample equal to the original counts as
    original. Loss = MLM + `discriminator_loss_weight` x RTD.

    Inputs are dicts of `token_ids`, `segment_ids`, `padding_mask` (and
    `word_ids` for whole-word masking), as produced by
    `electra_tf.data.pretraining.pretraining_dataset`.
    """

    def __init__(self, config, vocabulary_size, special_token_ids, seed=None, tokenizer=None,
                 **kwargs):
        if isinstance(config, dict):
            config = ElectraConfig.from_dict(config)
        # The model's own policy makes `compile` add loss scaling under mixed_float16.
        kwargs.setdefault("dtype", config.dtype_policy)
        super().__init__(**kwargs)
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

        self.discriminator = build_discriminator(config, vocabulary_size)
        # The pooled (tanh) output has no role in pre-training; freezing it
        # keeps every trainable variable on the gradient path.
        self.discriminator.pooled_dense.trainable = False
        self.generator = ElectraGenerator(
            self.discriminator,
            hidden_dim=config.generator_hidden_size,
            num_heads=config.generator_num_heads,
            intermediate_dim=config.generator_intermediate_size,
            dropout=config.dropout,
            name="generator",
        )
        self.rtd_head = ReplacedTokenDetectionHead(
            config.hidden_size, activation=config.activation, dtype=config.dtype_policy,
            name="rtd_head",
        )
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
        self.sampling_seeds = SeedStream(None if seed is None else seed + 1, name="sampling_seeds")

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mlm_loss_tracker = keras.metrics.Mean(name="mlm_loss")
        self.rtd_loss_tracker = keras.metrics.Mean(name="rtd_loss")
        self.mlm_accuracy = keras.metrics.SparseCategoricalAccuracy(name="mlm_accuracy")
        self.rtd_accuracy = keras.metrics.BinaryAccuracy(name="rtd_accuracy")
        self.rtd_precision = keras.metrics.Precision(name="rtd_precision")
        self.rtd_recall = keras.metrics.Recall(name="rtd_recall")
        # Threshold-free: early on, accuracy and recall at 0.5 sit at the
        # always-"original" baseline while the ranking already improves. The
        # original's disc_auc differs: 200 bins, and padding counted as
        # original tokens scored 0, which raises it.
        self.rtd_auc = WithinBatchRocAuc(name="rtd_auc")
        # Share of real tokens that are replaced: an always-"original"
        # discriminator scores 1 - replaced_rate accuracy and 0 recall.
        self.replaced_rate = keras.metrics.Mean(name="replaced_rate")

        length = config.sequence_length
        self({
            "token_ids": tf.zeros([1, length], tf.int32),
            "segment_ids": tf.zeros([1, length], tf.int32),
            "padding_mask": tf.ones([1, length], tf.int32),
        })

    # ------------------------------------------------------------------ forward
    def build(self, input_shape=None):
        # Sub-layers build on the first call, which the constructor makes.
        self.built = True

    def call(self, inputs, training=False):
        token_ids = tf.cast(inputs["token_ids"], tf.int32)
        segment_ids = tf.cast(inputs["segment_ids"], tf.int32)
        padding_mask = tf.cast(inputs["padding_mask"], tf.int32)
        masked = self.masking(inputs)
        mlm_logits = self.generator(
            {
                "token_ids": masked["token_ids"],
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
                "mask_positions": masked["mask_positions"],
            },
            training=training,
        )
        mlm_logits = tf.cast(mlm_logits, tf.float32)
        sampled = self._sample(mlm_logits)

        length = tf.shape(token_ids)[1]
        slot_hits = tf.one_hot(masked["mask_positions"], length, dtype=tf.int32)
        slot_hits *= tf.cast(masked["mask_weights"], tf.int32)[..., None]
        is_masked = tf.reduce_sum(slot_hits, axis=1) > 0
        sampled_at_token = tf.reduce_sum(slot_hits * sampled[..., None], axis=1)
        corrupted = tf.where(is_masked, sampled_at_token, token_ids)
        rtd_labels = tf.cast((corrupted != token_ids) & (padding_mask > 0), tf.float32)

        sequence_output = self.discriminator(
            {"token_ids": corrupted, "segment_ids": segment_ids, "padding_mask": padding_mask},
            training=training,
        )["sequence_output"]
        rtd_logits = tf.cast(self.rtd_head(sequence_output), tf.float32)
        return {
            "mlm_logits": mlm_logits,
            "mask_ids": masked["mask_ids"],
            "mask_weights": masked["mask_weights"],
            "rtd_logits": rtd_logits,
            "rtd_labels": rtd_labels,
            "padding_weights": tf.cast(padding_mask, tf.float32),
            "masked_token_ids": masked["token_ids"],
            "corrupted_ids": corrupted,
        }

    def _sample(self, logits):
        """Gumbel-max sampling; no gradient reaches the generator through it."""
        logits = tf.stop_gradient(logits) / self.electra_config.sampling_temperature
        uniform = tf.random.stateless_uniform(
            tf.shape(logits), seed=self.sampling_seeds.next_seed(), minval=1e-9, maxval=1.0
        )
        gumbel = -tf.math.log(-tf.math.log(uniform))
        return tf.stop_gradient(tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32))

    def compute_pretraining_losses(self, outputs):
        mlm = keras.losses.sparse_categorical_crossentropy(
            outputs["mask_ids"], outputs["mlm_logits"], from_logits=True
        )
        mask_weights = outputs["mask_weights"]
        mlm_loss = tf.reduce_sum(mlm * mask_weights) / tf.maximum(tf.reduce_sum(mask_weights), 1.0)
        rtd = tf.nn.sigmoid_cross_entropy_with_logits(outputs["rtd_labels"], outputs["rtd_logits"])
        weights = outputs["padding_weights"]
        rtd_loss = tf.reduce_sum(rtd * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
        loss = mlm_loss + self.electra_config.discriminator_loss_weight * rtd_loss
        return {"loss": loss, "mlm_loss": mlm_loss, "rtd_loss": rtd_loss}

    # ----------------------------------------------------------------- training
    def compile(self, optimizer="auto", jit_compile="auto", **kwargs):
        """Defaults: AdamW with the config's schedule; XLA as the config says."""
        if optimizer == "auto":
            optimizer = create_optimizer(self.electra_config)
        if jit_compile == "auto":
            jit_compile = self.electra_config.jit_compile
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    @property
    def metrics(self):
        return [
            self.loss_tracker, self.mlm_loss_tracker, self.rtd_loss_tracker,
            self.mlm_accuracy, self.rtd_accuracy, self.rtd_precision, self.rtd_recall,
            self.rtd_auc, self.replaced_rate,
        ]

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
        at a time. The masking and sampling streams draw once per micro-batch.
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

    def _update_metrics(self, outputs, losses):
        self.loss_tracker.update_state(losses["loss"])
        self.mlm_loss_tracker.update_state(losses["mlm_loss"])
        self.rtd_loss_tracker.update_state(losses["rtd_loss"])
        self.mlm_accuracy.update_state(
            outputs["mask_ids"], outputs["mlm_logits"], sample_weight=outputs["mask_weights"]
        )
        labels, weights = outputs["rtd_labels"], outputs["padding_weights"]
        probabilities = tf.sigmoid(outputs["rtd_logits"])
        for metric in (self.rtd_accuracy, self.rtd_precision, self.rtd_recall):
            metric.update_state(labels, probabilities, sample_weight=weights)
        # Logits: probabilities saturate to 1.0 in float32 and would tie.
        self.rtd_auc.update_state(labels, outputs["rtd_logits"], sample_weight=weights)
        self.replaced_rate.update_state(labels, sample_weight=weights)

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

        The discriminator is the preset's backbone, so
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
        return model_dir.save_preset(self, preset_dir, self.discriminator, tokenizer)

    @classmethod
    def from_preset(cls, preset_dir, load_weights=True):
        """The pre-trainer `save_to_preset` wrote, its tokenizer as `.tokenizer`.

        Directories in version 0.1's layout load too, with a warning saying
        how to rewrite them.
        """
        if model_dir.legacy_class(preset_dir) == "ElectraPretrainer":
            model_dir.warn_legacy(preset_dir, cls.__name__)
            return _from_0_1_layout(cls, preset_dir, load_weights)
        return model_dir.load_preset(cls, preset_dir, load_weights)


def _from_0_1_layout(cls, directory, load_weights):
    """Version 0.1's layout: `electra_config.json`, `vocab.txt`, `pretrainer.weights.h5`."""
    config = model_dir.pretraining_config(directory)
    tokenizer = tokenization.make_tokenizer(directory, lowercase=config.lowercase)
    pretrainer = cls(config, vocabulary_size=tokenizer.vocabulary_size(),
                     special_token_ids=tokenization.special_token_ids(tokenizer),
                     tokenizer=tokenizer)
    if load_weights:
        model_dir.load_weights_file(
            pretrainer, pathlib.Path(str(directory)) / model_dir.LEGACY_PRETRAINER_WEIGHTS)
    return pretrainer
