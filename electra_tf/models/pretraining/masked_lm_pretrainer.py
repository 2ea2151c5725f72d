"""`MaskedLMPretrainer`: the encoder alone trained as a BERT-style masked LM.

ELECTRA's paper measures replaced-token detection against this baseline at
equal compute: the same encoder (the discriminator's sizes), the same data
and dynamic masking, trained to predict the masked tokens. Configs with
`objective="mlm"` build it (`ElectraConfig.for_objective("mlm")` also gives
BERT's 80% [MASK] / 10% random / 10% unchanged masking), and
`run_pretraining` trains it into a run folder whose backbone fine-tunes as
a discriminator's does.

Example:
```python
from electra_tf import ElectraConfig, MaskedLMPretrainer, tokenization

vocab = tokenization.build_vocabulary(["今天天气很好", "明天也很好"], 40)
config = ElectraConfig.from_preset("tiny").for_objective("mlm")
pretrainer = MaskedLMPretrainer(config, vocabulary_size=len(vocab),
                                special_token_ids=tokenization.special_token_ids(
                                    tokenization.make_tokenizer(vocab)))
pretrainer.compile()  # AdamW with the config's warmup + linear decay, as ELECTRA's
[metric.name for metric in pretrainer.metrics]  # -> ['loss', 'mlm_loss', 'mlm_accuracy']
```
"""

import keras
import keras_hub
import tensorflow as tf

from electra_tf.layers.activations import activation_function
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.models.encoders import build_encoder
from electra_tf.models.pretraining.base import Pretrainer


@keras.saving.register_keras_serializable(package="electra_tf")
class MaskedLMPretrainer(Pretrainer):
    """A masked LM on the full-width encoder, trained with plain `fit`.

    Each step masks the batch afresh (`DynamicMasking`, with the config's
    rates) and trains the encoder and its masked-LM head to predict the
    original tokens at the masked slots; the loss is their mean
    cross-entropy. The head is ELECTRA's and BERT's: dense (embedding size)
    + the encoder's GELU + LayerNorm, then the encoder's word embeddings
    (tied) and an output bias (keras-hub's `MaskedLMHead`), in float32.

    `encoder` is a keras-hub `ElectraBackbone` of the config's sizes, saved
    as the run folder's backbone. `masked_lm` is the encoder with its head:
    `token_ids`, `segment_ids`, `padding_mask` and `mask_positions` in,
    logits `[batch, predictions, vocabulary]` out.
    """

    objective = "mlm"

    def __init__(self, config, vocabulary_size, special_token_ids, seed=None, tokenizer=None,
                 **kwargs):
        super().__init__(config, vocabulary_size, special_token_ids, seed=seed,
                         tokenizer=tokenizer, **kwargs)
        self.encoder = build_encoder(self.electra_config, vocabulary_size, name="encoder")
        # The pooled (tanh) output has no role in pre-training; freezing it
        # keeps every trainable variable on the gradient path.
        self.encoder.pooled_dense.trainable = False
        self.masked_lm_head = keras_hub.layers.MaskedLMHead(
            token_embedding=self.encoder.token_embedding,
            intermediate_activation=activation_function(self.electra_config.activation),
            layer_norm_epsilon=1e-12,
            kernel_initializer=electra_kernel_initializer(),
            # float32 logits; keras-hub's head also fails to add its bias under
            # a mixed policy (float32 bias, float16 logits, autocast off).
            dtype="float32",
            name="mlm_head",
        )
        inputs = {**self.encoder.input, "mask_positions": keras.Input(
            shape=(None,), dtype="int32", name="mask_positions")}
        sequence = self.encoder(self.encoder.input)["sequence_output"]
        self.masked_lm = keras.Model(
            inputs, self.masked_lm_head(sequence, mask_positions=inputs["mask_positions"]),
            name="masked_lm")
        self._create_variables()

    def call(self, inputs, training=False):
        masked = self.masking(inputs)
        logits = self.masked_lm(
            {
                "token_ids": masked["token_ids"],
                "segment_ids": tf.cast(inputs["segment_ids"], tf.int32),
                "padding_mask": tf.cast(inputs["padding_mask"], tf.int32),
                "mask_positions": masked["mask_positions"],
            },
            training=training,
        )
        return {
            "mlm_logits": tf.cast(logits, tf.float32),
            "mask_ids": masked["mask_ids"],
            "mask_weights": masked["mask_weights"],
            "masked_token_ids": masked["token_ids"],
        }

    def compute_pretraining_losses(self, outputs):
        mlm_loss = self.masked_lm_loss(outputs)
        return {"loss": mlm_loss, "mlm_loss": mlm_loss}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mlm_loss_tracker, self.mlm_accuracy]
