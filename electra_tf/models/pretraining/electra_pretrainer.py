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
[metric.name for metric in pretrainer.metrics]
# -> ['loss', 'mlm_loss', 'rtd_loss', 'mlm_accuracy', 'rtd_accuracy', 'rtd_precision',
#     'rtd_recall', 'rtd_auc', 'replaced_rate']
```
"""

import keras
import tensorflow as tf

from electra_tf.layers.heads import ReplacedTokenDetectionHead
from electra_tf.layers.seed_stream import SeedStream
from electra_tf.models.encoders import build_encoder
from electra_tf.models.metrics import WithinBatchRocAuc
from electra_tf.models.pretraining.base import Pretrainer
from electra_tf.models.pretraining.generator import ElectraGenerator


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraPretrainer(Pretrainer):
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

    objective = "electra"

    def __init__(self, config, vocabulary_size, special_token_ids, seed=None, tokenizer=None,
                 **kwargs):
        super().__init__(config, vocabulary_size, special_token_ids, seed=seed,
                         tokenizer=tokenizer, **kwargs)
        config = self.electra_config
        self.discriminator = build_encoder(config, vocabulary_size)
        # The pooled (tanh) output has no role in pre-training; freezing it
        # keeps every trainable variable on the gradient path.
        self.discriminator.pooled_dense.trainable = False
        self.generator = ElectraGenerator(
            self.discriminator,
            hidden_dim=config.generator_hidden_size,
            num_heads=config.generator_num_heads,
            intermediate_dim=config.generator_intermediate_size,
            dropout=config.dropout,
            normalize_first=config.normalize_first,
            name="generator",
        )
        self.rtd_head = ReplacedTokenDetectionHead(
            config.hidden_size, activation=config.activation, dtype=config.dtype_policy,
            name="rtd_head",
        )
        self.sampling_seeds = SeedStream(None if seed is None else seed + 1, name="sampling_seeds")

        self.rtd_loss_tracker = keras.metrics.Mean(name="rtd_loss")
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

        self._create_variables()

    # Properties, not attributes: Keras saves a layer's weights under the first
    # public name (alphabetically) that reaches it, and "discriminator" and
    # "generator" sort first, so the weight files keep their layout.
    @property
    def encoder(self):
        """The discriminator: the encoder fine-tuning starts from."""
        return self.discriminator

    @property
    def masked_lm(self):
        """The generator: the network that predicts masked tokens."""
        return self.generator

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
        mlm_loss = self.masked_lm_loss(outputs)
        rtd = tf.nn.sigmoid_cross_entropy_with_logits(outputs["rtd_labels"], outputs["rtd_logits"])
        weights = outputs["padding_weights"]
        rtd_loss = tf.reduce_sum(rtd * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
        loss = mlm_loss + self.electra_config.discriminator_loss_weight * rtd_loss
        return {"loss": loss, "mlm_loss": mlm_loss, "rtd_loss": rtd_loss}

    @property
    def metrics(self):
        return [
            self.loss_tracker, self.mlm_loss_tracker, self.rtd_loss_tracker,
            self.mlm_accuracy, self.rtd_accuracy, self.rtd_precision, self.rtd_recall,
            self.rtd_auc, self.replaced_rate,
        ]

    def _update_metrics(self, outputs, losses):
        super()._update_metrics(outputs, losses)
        self.rtd_loss_tracker.update_state(losses["rtd_loss"])
        labels, weights = outputs["rtd_labels"], outputs["padding_weights"]
        probabilities = tf.sigmoid(outputs["rtd_logits"])
        for metric in (self.rtd_accuracy, self.rtd_precision, self.rtd_recall):
            metric.update_state(labels, probabilities, sample_weight=weights)
        # Logits: probabilities saturate to 1.0 in float32 and would tie.
        self.rtd_auc.update_state(labels, outputs["rtd_logits"], sample_weight=weights)
        self.replaced_rate.update_state(labels, sample_weight=weights)
