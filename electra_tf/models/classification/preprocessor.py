"""`ElectraTextClassifierPreprocessor`: one sentence or a pair in, `[CLS] A [SEP] (B [SEP])` out.

The classifier reads its inputs so, and so do the other heads that read whole
sentences: the replaced-token detector and the multi-task model's
classification tasks. The example is the class's.
"""

import keras
import keras_hub

from electra_tf import tokenization


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraTextClassifierPreprocessor(keras_hub.models.TextClassifierPreprocessor):
    """Tokenizes and packs one segment or a pair into `[CLS] A [SEP] (B [SEP])`.

    keras-hub has no ELECTRA preprocessor; this one differs from BERT's only in
    its defaults: `truncate="waterfall"` (trim the last segment first), because
    the `round_robin` packer needs an op that stock TF Serving builds may lack.

    Example:
    ```python
    import tensorflow as tf
    from electra_tf import tokenization

    tokenizer = tokenization.make_tokenizer(tokenization.build_vocabulary(["好 天气"], 20))
    preprocessor = ElectraTextClassifierPreprocessor(tokenizer, sequence_length=8)
    preprocessor(["好天气"])["token_ids"]  # [CLS] 好 天 气 [SEP], padding  # -> [[2, 6, 5, 7, 3, 0, 0, 0]]
    # A pair goes in as a tuple, with its label (a bare tuple would read as (x, y)):
    x, y = preprocessor((tf.constant(["好"]), tf.constant(["天气"])), tf.constant([1]))
    x["segment_ids"]  # [CLS] 好 [SEP] then 天 气 [SEP]  # -> [[0, 0, 0, 1, 1, 1, 0, 0]]
    ```
    """

    backbone_cls = keras_hub.models.ElectraBackbone
    tokenizer_cls = keras_hub.models.ElectraTokenizer

    def __init__(self, tokenizer, sequence_length=128, truncate="waterfall", **kwargs):
        super().__init__(tokenizer, sequence_length=sequence_length, truncate=truncate, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        # keras-hub's packer, with single sentences (every built-in task's) packed in a few
        # graph ops: `tokenization.SegmentPacker`.
        self.packer = tokenization.segment_packer(self.tokenizer, self.sequence_length,
                                                  truncate=self.truncate)
