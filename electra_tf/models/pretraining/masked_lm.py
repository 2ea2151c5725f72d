"""`ElectraMaskedLM`: an ELECTRA generator on its own, as keras-hub's `MaskedLM`.

Inside `ElectraPretrainer` the generator borrows the discriminator's
embeddings; on its own (Hugging Face's `ElectraForMaskedLM`, a released
generator, or a pre-trainer's generator taken out) it is a narrow
`ElectraBackbone` whose embeddings and projection are the generator's, with
keras-hub's `MaskedLMHead` tied to its word embeddings. Its preprocessor
(`masked_lm_preprocessor.py`) masks as ELECTRA does: 85% `[MASK]`, 15%
unchanged, no random tokens.

Example:
```python
from electra_tf import convert

masked_lm, tokenizer = convert.load("tests/fixtures/hf_electra/generator")
history = masked_lm.fit(["今天天气很好", "明天也很好"], epochs=1, verbose=0)  # masks in fit
sorted(history.history)  # -> ['loss', 'sparse_categorical_accuracy']
```
"""

import keras
import keras_hub

from electra_tf.layers.activations import activation_function
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.models.backbone import activation_of
from electra_tf.models.pretraining.masked_lm_preprocessor import ElectraMaskedLMPreprocessor
from electra_tf.models.task_presets import ElectraTaskPresets


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraMaskedLM(ElectraTaskPresets, keras_hub.models.MaskedLM):
    """A generator-sized `ElectraBackbone` with ELECTRA's masked-LM head.

    The head is dense(embedding size) + GELU (the backbone's) + LayerNorm, then
    the tied word embeddings and an output bias: the original's
    `generator_predictions`. Inputs are the backbone's plus `mask_positions`;
    outputs are logits `[batch, predictions, vocabulary]`.
    """

    backbone_cls = keras_hub.models.ElectraBackbone
    preprocessor_cls = ElectraMaskedLMPreprocessor

    def __init__(self, backbone, preprocessor=None, **kwargs):
        backbone.pooled_dense.trainable = False  # no released checkpoint trains it
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.masked_lm_head = keras_hub.layers.MaskedLMHead(
            token_embedding=backbone.token_embedding,
            intermediate_activation=activation_function(activation_of(backbone)),
            layer_norm_epsilon=1e-12,
            kernel_initializer=electra_kernel_initializer(),
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        inputs = {**backbone.input, "mask_positions": keras.Input(
            shape=(None,), dtype="int32", name="mask_positions")}
        outputs = self.masked_lm_head(
            backbone(backbone.input)["sequence_output"], inputs["mask_positions"])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
