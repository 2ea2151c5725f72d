"""`ElectraReplacedTokenDetector`: the discriminator with its head, on raw strings.

The task ELECTRA pre-trains: for every token, the logit that it was replaced.
It is what Hugging Face's `ElectraForPreTraining` holds, so a converted
Google discriminator keeps its head here; any head of this package can also
start from its backbone (`--init_from` takes its preset).

Example:
```python
import numpy as np
from electra_tf import ElectraConfig, tokenization
from electra_tf.models.pretraining.detector import ElectraReplacedTokenDetector

vocab = tokenization.build_vocabulary(["今天天气很好", "明天也很好"], 40)
detector = ElectraReplacedTokenDetector.from_scratch(
    ElectraConfig.from_preset("tiny"), vocab, sequence_length=16)
logits = detector.predict(["今天天气很好"], verbose=0)
logits.shape  # > 0 means "replaced"  # -> (1, 16)
```
"""

import keras
import keras_hub

from electra_tf.layers.heads import ReplacedTokenDetectionHead
from electra_tf.models import encoders
from electra_tf.models.backbone import activation_of
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraReplacedTokenDetector(encoders.ElectraEncoderTask, keras_hub.models.Task):
    """An `ElectraBackbone` with the replaced-token-detection head (dense + GELU, dense(1)).

    Args:
        backbone: an ELECTRA backbone; the head's GELU is the backbone's.
        preprocessor: an `ElectraTextClassifierPreprocessor` (strings or pairs
            in), or `None` for token ids.

    Output: `[batch, sequence_length]` logits; positive means "replaced".
    """

    backbone_cls = keras_hub.models.ElectraBackbone
    preprocessor_cls = ElectraTextClassifierPreprocessor

    def __init__(self, backbone, preprocessor=None, **kwargs):
        self._set_encoder(backbone, preprocessor)
        self.rtd_head = ReplacedTokenDetectionHead(
            backbone.hidden_dim, activation=activation_of(backbone),
            dtype=backbone.dtype_policy, name="rtd_head",
        )
        inputs = backbone.input
        outputs = self.rtd_head(backbone(inputs)["sequence_output"])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
