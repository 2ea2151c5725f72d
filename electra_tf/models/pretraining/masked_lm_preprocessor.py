"""`ElectraMaskedLMPreprocessor`: strings in, masked token ids and their labels out.

keras-hub's `MaskedLMPreprocessor` with ELECTRA's masking: 85% of the chosen
tokens become `[MASK]`, the rest stay as they are, none become random tokens.
`ElectraMaskedLM.fit` on raw strings masks through it.

Example:
```python
from electra_tf import tokenization
from electra_tf.models.pretraining.masked_lm_preprocessor import ElectraMaskedLMPreprocessor

tokenizer = tokenization.make_tokenizer(tokenization.build_vocabulary(["今天天气很好"], 20))
preprocessor = ElectraMaskedLMPreprocessor(tokenizer, sequence_length=8)
x, y, sample_weight = preprocessor(["今天天气很好"])
x["mask_positions"].shape  # int((0.15 + 0.005) * 8) slots  # -> (1, 1)
```
"""

import keras
import keras_hub


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
