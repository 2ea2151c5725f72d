"""`ElectraTextClassifierPreprocessor`: one sentence or a pair in, `[CLS] A [SEP] (B [SEP])` out.

The classifier reads its inputs so, and so do the other heads that read whole
sentences: the replaced-token detector and the multi-task model's
classification tasks. The example is the class's.
"""

import keras
import keras_hub
import tensorflow as tf

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
        self._graph_call = tf.function(self._call_in_graph, reduce_retracing=True)

    def call(self, x, y=None, sample_weight=None):
        # In a graph (a tf.data map, a traced function) through one function per input
        # structure: the tokenizer's graph, most of the ops, is then traced once per
        # preprocessor, not at every map (a fine-tuning run maps train, dev and test).
        if tf.inside_function():
            return self._graph_call(x, y, sample_weight, self.sequence_length)
        return super().call(x, y, sample_weight)

    def _call_in_graph(self, x, y, sample_weight, sequence_length):
        # `sequence_length` (keras-hub lets it change) is an argument so that a new length
        # gets a trace of its own.
        return super().call(x, y, sample_weight)

    def build(self, input_shape):
        super().build(input_shape)
        # keras-hub's packer, with single sentences (every built-in task's) packed in a few
        # graph ops: `tokenization.SegmentPacker`.
        self.packer = tokenization.segment_packer(self.tokenizer, self.sequence_length,
                                                  truncate=self.truncate)
