"""`ElectraTagger`: token classification (NER) with BIO / BIOES tags.

Labels belong to words (CoNLL tokens; characters for Chinese). A word may
become several WordPiece tokens: the first carries the word's tag and the
others get sample weight 0, so they count neither in the loss nor in the
metric. `tag(texts)` goes the other way: it splits raw text into words with
character offsets, tags them in windows that fit the encoder (no word is left
untagged), and returns entity spans in the original text. Those rules (words,
windows, entities) are `electra_tf.data.tagging`; the preprocessor is
`electra_tf.models.tagging.preprocessor`, the metric `electra_tf.models.metrics`.

Example:
```python
from electra_tf import ElectraConfig, tokenization
from electra_tf.models.tagging.tagger import ElectraTagger

sentences = [list("江泽民在北京"), list("克林顿在华盛顿")]
tags = [["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"],
        ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-LOC"]]
vocab = tokenization.build_vocabulary(["".join(s) for s in sentences], 40)
tagger = ElectraTagger.from_scratch(
    ElectraConfig.from_preset("tiny"), vocab,
    tag_names=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], sequence_length=16,
)
tagger.compile()
tagger.fit(tagger.dataset(sentences, tags, batch_size=2), epochs=2)
spans = tagger.tag(["江泽民在华盛顿"])  # [[{'type': 'PER', 'start': 0, 'end': 3, 'text': '江泽民'}, ...]]
all(span["text"] == "江泽民在华盛顿"[span["start"]:span["end"]] for span in spans[0])  # -> True
```
"""

import re

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from electra_tf.compat.tracing import BuildOptimizerBeforeTraining
from electra_tf.data.tagging import entity_spans, split_words, word_windows
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.models import encoders
from electra_tf.models.metrics import EntityF1
from electra_tf.models.tagging.preprocessor import ElectraTaggerPreprocessor


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraTagger(BuildOptimizerBeforeTraining, encoders.ElectraEncoderTask,
                    keras_hub.models.Task):
    """An `ElectraBackbone` with a per-token tag classifier (dropout + dense).

    Args:
        backbone: a `keras_hub.models.ElectraBackbone`.
        tag_names: the tags, index = tag id; BIO (`B-PER`, `I-PER`, `O`) or
            BIOES (`S-`, `E-` as well). Saved with the model.
        preprocessor: an `ElectraTaggerPreprocessor` or `None`.
        dropout: before the dense layer; `None` means the backbone's rate.

    Train on `tagger.dataset(words, tags, batch_size)`; `tagger.tag(texts)`
    returns entity spans with character offsets. `save_to_preset(dir)` and
    `ElectraTagger.from_preset(dir)` save and restore everything.
    """

    backbone_cls = keras_hub.models.ElectraBackbone
    preprocessor_cls = ElectraTaggerPreprocessor

    def __init__(self, backbone, tag_names, preprocessor=None, dropout=None, **kwargs):
        tag_names = [str(t) for t in tag_names]
        bad = [t for t in tag_names if t != "O" and not re.fullmatch(r"[BIES]-.+", t)]
        if "O" not in tag_names or bad or len(set(tag_names)) != len(tag_names):
            raise ValueError(
                "tag_names must hold 'O' and B-/I-/E-/S- tags, each once; got "
                f"{tag_names}" + (f" (not BIO/BIOES: {bad})" if bad else "") + "."
            )
        dropout = backbone.dropout if dropout is None else dropout

        # === Layers ===
        self._set_encoder(backbone, preprocessor)
        self.tag_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="tagger_dropout"
        )
        self.tag_dense = keras.layers.Dense(
            len(tag_names),
            kernel_initializer=electra_kernel_initializer(),
            dtype=encoders.output_dtype_policy(backbone),  # float32 logits under mixed precision
            name="tag_logits",
        )

        # === Functional Model ===
        inputs = backbone.input
        sequence = backbone(inputs)["sequence_output"]
        outputs = self.tag_dense(self.tag_dropout(sequence))
        # Compiled below: the default metric needs the tag names.
        super().__init__(inputs=inputs, outputs=outputs, compile=False, **kwargs)

        # === Config ===
        self.tag_names = tag_names
        self.dropout = dropout
        self.compile()

    def get_config(self):
        return {**super().get_config(), "tag_names": self.tag_names, "dropout": self.dropout}

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """Defaults: Adam(5e-5), token cross-entropy, `EntityF1`; no XLA (the metric counts in NumPy).

        `EntityF1` goes in `weighted_metrics`: Keras passes the sample
        weights, which mark each word's first piece, only to those.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(5e-5)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = None
            kwargs.setdefault("weighted_metrics", [EntityF1(self.tag_names)])
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    # ----------------------------------------------------------- data & decoding
    def windows(self, sentences):
        """Cuts word lists so each fits the encoder; see `ElectraTaggerPreprocessor.windows`."""
        return self.preprocessor.windows(sentences)

    def dataset(self, sentences, tags, batch_size=32, shuffle_seed=None):
        """`tf.data` of `(words, tag ids)` ragged batches, long sentences cut into windows."""
        return self.preprocessor.tagging_dataset(
            sentences, tags, self.tag_names, batch_size=batch_size, shuffle_seed=shuffle_seed)

    def predict_tags(self, sentences, batch_size=32):
        """Word-level tag names for lists of words, however long."""
        windows = self.windows(sentences)
        ds = tf.data.Dataset.from_tensor_slices(
            tf.ragged.constant([list(w) for w, _, _ in windows], dtype=tf.string)
        ).ragged_batch(batch_size)
        predicted = np.argmax(self.predict(ds, verbose=0), axis=-1)
        counts = iter(self.preprocessor.piece_counts([w for window, _, _ in windows for w in window]))
        result = [[] for _ in sentences]
        for (window, index, _), row in zip(windows, predicted):
            # The windowing rule also says where each word's first piece sits (its slot).
            placed = word_windows([next(counts) for _ in window], self.preprocessor.window_pieces)
            result[index] += [self.tag_names[row[slot]] for _, slot in placed]
        return result

    def tag(self, texts, batch_size=32):
        """Entity spans in raw texts: lists of `{type, start, end, text}` (end exclusive)."""
        split = [split_words(text) for text in texts]
        tags = self.predict_tags([words for words, _ in split], batch_size=batch_size)
        return [
            entity_spans(text, offsets, sentence_tags)
            for text, (_, offsets), sentence_tags in zip(texts, split, tags)
        ]
