"""`ElectraMaskedLM`: an ELECTRA generator on its own, as keras-hub's `MaskedLM`.

Inside `ElectraPretrainer` the generator borrows the discriminator's
embeddings; on its own (Hugging Face's `ElectraForMaskedLM`, a released
generator, or a pre-trainer's generator taken out) it is a narrow
`ElectraBackbone` whose embeddings and projection are the generator's, with
keras-hub's `MaskedLMHead` tied to its word embeddings. Masking follows
ELECTRA's recipe: 85% `[MASK]`, 15% unchanged, no random tokens.

Example:
```python
from electra_tf import convert

masked_lm, tokenizer = convert.load("tests/fixtures/hf_electra/generator")
masked_lm.fit(["今天天气很好", "明天也很好"], epochs=1, verbose=0)  # masks in fit
```
"""

import keras
import keras_hub

from electra_tf.layers.activations import activation_function
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.models.backbone import ElectraTaskPresets, activation_of


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraMaskedLMPreprocessor(keras_hub.models.MaskedLMPreprocessor):
    """keras-hub's masked-LM preprocessing with ELECTRA's defaults.

    85% of the chosen tokens become `[MASK]`, the rest stay (BERT's 80/10/10
    adds random tokens, which ELECTRA does not); `truncate="waterfall"`
    because stock TF Serving may lack the op `round_robin` needs.
    """

    backbone_cls = keras_hub.models.ElectraBackbone
    tokenizer_cls = keras_hub.models.ElectraTokenizer

    def __init__(self, tokenizer, sequence_length=128, truncate="waterfall",
                 mask_selection_rate=0.15, mask_selection_length=None, mask_token_rate=0.85,
                 random_token_rate=0.0, **kwargs):
        if mask_selection_length is None:  # the original's cap: int((p + 0.005) x length)
            mask_selection_length = max(1, int((mask_selection_rate + 0.005) * sequence_length))
        super().__init__(tokenizer, sequence_length=sequence_length, truncate=truncate,
                         mask_selection_rate=mask_selection_rate,
                         mask_selection_length=mask_selection_length,
                         mask_token_rate=mask_token_rate, random_token_rate=random_token_rate,
                         **kwargs)


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
