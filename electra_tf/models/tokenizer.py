"""`ElectraTokenizer`: keras-hub's ELECTRA tokenizer, declared for `ElectraBackbone`.

Example:
```python
from electra_tf import tokenization
from electra_tf.models.tokenizer import ElectraTokenizer

tokenizer = ElectraTokenizer(vocabulary=list(tokenization.SPECIAL_TOKENS) + ["今", "天"])
tokenizer("今天")  # -> [5, 6]
```
"""

import keras
import keras_hub

from electra_tf.models.backbone import ElectraBackbone


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraTokenizer(keras_hub.models.ElectraTokenizer):
    """keras-hub's `ElectraTokenizer`, declared as the tokenizer of `ElectraBackbone`.

    keras-hub's `Tokenizer.from_preset` picks the tokenizer class through
    `backbone_cls`, among the subclasses defined so far; without this,
    `keras_hub.models.ElectraTokenizer.from_preset` refuses a preset whose backbone
    has exact GELU. `model_dir` imports it, so `import electra_tf` defines it. Nothing
    else differs.
    """

    backbone_cls = ElectraBackbone
