"""`ElectraTagger`: token classification (NER) with BIO / BIOES tags.

Labels belong to words (CoNLL tokens; characters for Chinese). A word may
become several WordPiece tokens: the first carries the word's tag and the
others get sample weight 0, so they count neither in the loss nor in the
metric. `tag(texts)` goes the other way: it splits raw text into words with
character offsets, tags them in windows that fit the encoder (no word is left
untagged), and returns entity spans in the original text.

Example:
```python
from electra_tf import ElectraConfig, tokenization
from electra_tf.models.tagger import ElectraTagger

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
tagger.tag(["江泽民在华盛顿"])  # [[{'type': 'PER', 'start': 0, 'end': 3, 'text': '江泽民'}, ...]]
```
"""

import re

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.data.tasks import check_tagging_data
from electra_tf.layers.initializers import electra_kernel_initializer
from electra_tf.models import encoders
from electra_tf.models.backbone import ElectraTaskPresets
from electra_tf.models.tracing import BuildOptimizerBeforeTraining

_CJK = tokenization.cjk_ranges()
# Words as BERT's basic tokenizer sees them: one CJK character, one
# punctuation mark, or a run of other word characters.
_WORD = re.compile(rf"[{_CJK}]|[^\w\s]|[^\W{_CJK}]+")


def split_words(text):
    """`(words, offsets)`: the words of `text` and their `(start, end)` character offsets."""
    matches = list(_WORD.finditer(text))
    return [m.group() for m in matches], [m.span() for m in matches]


def word_windows(counts, budget):
    """Per word of `counts` WordPiece pieces: `(window, slot)`, its window and the
    position of its first piece after `[CLS]`.

    Greedy: a word that does not fit the current window's `budget` pieces
    starts the next window; a word of more than `budget` pieces fills one
    alone and keeps its first pieces. `electra_tf.export.tagging.
    assign_windows` is the same rule in graph ops (tested equal).
    """
    placed, window, used = [], 0, 0
    for count in counts:
        count = min(count, budget)
        if used + count > budget:
            window, used = window + 1, 0
        placed.append((window, used + 1))
        used += count
    return placed


def entity_spans(text, offsets, tags):
    """Entities of word `tags` as `{type, start, end, text}` character spans of `text`."""
    spans = []
    for type_, first, last in entities_from_tags(tags):
        start, end = offsets[first][0], offsets[last][1]
        spans.append({"type": type_, "start": start, "end": end, "text": text[start:end]})
    return spans


# ------------------------------------------------------------------ entities
def entities_from_tags(tags):
    """`(type, first, last)` word spans of a BIO / BIOES sequence (inclusive ends).

    The same lenient reading as seqeval's default mode (and conlleval): an
    `I-` after `O` or after another type starts an entity, `E-` / `S-` end one.
    """
    entities, previous, previous_type, begin = [], "O", "", 0
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, type_ = tag[0], tag[1:].split("-", maxsplit=1)[-1] or "_"
        if _ends(previous, prefix, previous_type, type_):
            entities.append((previous_type, begin, i - 1))
        if _starts(previous, prefix, previous_type, type_):
            begin = i
        previous, previous_type = prefix, type_
    return entities


def _ends(previous, tag, previous_type, type_):
    return (
        previous in "ES"
        or (previous in "BI" and tag in "BSO")
        or (previous not in "O." and previous_type != type_)
    )


def _starts(previous, tag, previous_type, type_):
    return (
        tag in "BS"
        or (previous in "ESO" and tag in "EI")
        or (tag not in "O." and previous_type != type_)
    )


@keras.saving.register_keras_serializable(package="electra_tf")
class EntityF1(keras.metrics.Metric):
    """Entity-level micro precision / recall / F1, as `seqeval.metrics` computes them.

    `y_true` are tag ids and `y_pred` tag logits per token; `sample_weight`
    marks the tokens that carry a word's tag (first WordPiece of each word),
    so entities are read from word-level sequences exactly as seqeval reads
    the gold and predicted tag lists. Counting runs in NumPy
    (`tf.numpy_function`): compile the model without XLA.
    """

    def __init__(self, tag_names, name="entity", **kwargs):
        super().__init__(name=name, **kwargs)
        self.tag_names = list(tag_names)
        self.counts = self.add_variable((3,), initializer="zeros", dtype="float64", name="counts")

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None:
            sample_weight = tf.ones_like(y_true, tf.float32)
        counts = tf.numpy_function(
            self._count,
            [tf.cast(y_true, tf.int32), tf.argmax(y_pred, -1, output_type=tf.int32),
             tf.cast(sample_weight, tf.float32)],
            tf.float64,
        )
        self.counts.assign_add(tf.reshape(counts, [3]))

    def _count(self, y_true, y_pred, weights):
        matched = gold = predicted = 0
        for true_row, pred_row, keep in zip(y_true, y_pred, weights > 0):
            true = set(entities_from_tags([self.tag_names[i] for i in true_row[keep]]))
            pred = set(entities_from_tags([self.tag_names[i] for i in pred_row[keep]]))
            matched, gold, predicted = matched + len(true & pred), gold + len(true), predicted + len(pred)
        return np.array([matched, gold, predicted], "float64")

    def result(self):
        matched, gold, predicted = tf.unstack(self.counts)
        precision = tf.math.divide_no_nan(matched, predicted)
        recall = tf.math.divide_no_nan(matched, gold)
        f1 = tf.math.divide_no_nan(2 * precision * recall, precision + recall)
        return {f"{self.name}_precision": precision, f"{self.name}_recall": recall,
                f"{self.name}_f1": f1}

    def reset_state(self):
        self.counts.assign(tf.zeros_like(self.counts))

    def get_config(self):
        return {**super().get_config(), "tag_names": self.tag_names}


# -------------------------------------------------------------- preprocessor
@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraTaggerPreprocessor(keras_hub.models.Preprocessor):
    """Word sequences (and word tags) in, packed WordPiece tokens (and token tags) out.

    `x` is a `tf.RaggedTensor` of words, `[batch, (words)]`; `y` the tag ids
    `[batch, (words)]`. Each word's first WordPiece gets the word's tag and
    sample weight 1, its other pieces weight 0; `[CLS]`, `[SEP]` and padding
    get weight 0. A word the tokenizer drops entirely (a control character)
    becomes `[UNK]` so every word keeps a token. Sequences longer than
    `sequence_length` are truncated: `ElectraTagger.dataset` and `.tag` cut
    long sentences into windows first so nothing is lost.
    """

    backbone_cls = keras_hub.models.ElectraBackbone
    tokenizer_cls = keras_hub.models.ElectraTokenizer

    def __init__(self, tokenizer, sequence_length=128, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.packer = None
        # keras-hub tokenizers return Python lists when run eagerly; eager
        # calls go through these graph functions instead.
        self._graph_preprocess = tf.function(self._preprocess, reduce_retracing=True)
        self.graph_word_pieces = tf.function(self.word_pieces, reduce_retracing=True)

    def build(self, input_shape):
        super().build(input_shape)
        # Built late so the tokenizer's vocabulary is loaded when restoring.
        self.packer = tokenization.segment_packer(self.tokenizer, self.sequence_length)
        # Tags and weights share the token layout; 0 at [CLS], [SEP], padding.
        self.zero_packer = keras_hub.layers.MultiSegmentPacker(
            start_value=0, end_value=0, pad_value=0, sequence_length=self.sequence_length
        )

    def word_pieces(self, words):
        """`[num_words, (pieces)]` token ids of a flat string tensor, never empty."""
        return tokenization.word_pieces(self.tokenizer, words)

    def call(self, x, y=None, sample_weight=None):
        if tf.executing_eagerly():
            return self._graph_preprocess(x, y)
        return self._preprocess(x, y)

    def _preprocess(self, words, tags=None):
        pieces = self.word_pieces(words.flat_values)
        counts = pieces.row_lengths()
        token_ids = words.with_flat_values(pieces).merge_dims(1, 2)
        token_ids, segment_ids = self.packer(token_ids)
        x = {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "padding_mask": token_ids != self.tokenizer.pad_token_id,
        }
        if tags is None:
            return x
        first = tf.cast(tf.ragged.range(counts) == 0, tf.int32)
        weights, _ = self.zero_packer(words.with_flat_values(first).merge_dims(1, 2))
        token_tags = tf.RaggedTensor.from_row_lengths(
            tf.repeat(tf.cast(tags.flat_values, tf.int32), counts), counts
        )
        token_tags, _ = self.zero_packer(words.with_flat_values(token_tags).merge_dims(1, 2))
        return x, token_tags, tf.cast(weights, tf.float32)

    def windows(self, sentences):
        """Cuts word lists so each fits; returns `(window, sentence index, first word)`."""
        counts = iter(self.piece_counts([w for words in sentences for w in words]))
        windows = []
        for index, words in enumerate(sentences):
            placed = word_windows([next(counts) for _ in words], self.sequence_length - 2)
            starts = [i for i, (window, _) in enumerate(placed)
                      if i == 0 or window != placed[i - 1][0]] or [0]
            for start, end in zip(starts, starts[1:] + [len(words)]):
                windows.append((words[start:end], index, start))
        return windows

    def piece_counts(self, words):
        """WordPiece count of each word in a flat list."""
        if not words:
            return []
        return self.graph_word_pieces(tf.constant(words)).row_lengths().numpy().tolist()

    def tagging_dataset(self, sentences, tags, tag_names, batch_size=32, shuffle_seed=None):
        """`tf.data` of raw `(words, tag ids)` ragged batches, long sentences cut into windows.

        Map it through this preprocessor (as `fit` does for a tagger) to get
        `(x, token tags, sample weights)`.
        """
        check_tagging_data(sentences, tags, tag_names)
        ids = {name: i for i, name in enumerate(tag_names)}
        words, tag_ids = [], []
        for window, index, start in self.windows(sentences):
            words.append(list(window))
            tag_ids.append([ids[t] for t in tags[index][start:start + len(window)]])
        ds = tf.data.Dataset.from_tensor_slices(
            (tf.ragged.constant(words, dtype=tf.string), tf.ragged.constant(tag_ids, dtype=tf.int32))
        )
        if shuffle_seed is not None:
            ds = ds.shuffle(len(words), seed=shuffle_seed, reshuffle_each_iteration=True)
        return ds.ragged_batch(batch_size)

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length}


# ----------------------------------------------------------------------- task
@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraTagger(BuildOptimizerBeforeTraining, ElectraTaskPresets, keras_hub.models.Task):
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
        if preprocessor is not None:
            encoders.check_sequence_length(backbone, preprocessor.sequence_length)
        dropout = backbone.dropout if dropout is None else dropout
        backbone.pooled_dense.trainable = False

        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.tag_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="tagger_dropout"
        )
        self.tag_dense = keras.layers.Dense(
            len(tag_names),
            kernel_initializer=electra_kernel_initializer(),
            dtype=backbone.dtype_policy,
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

    @classmethod
    def from_model_dir(cls, init_from, sequence_length=None, **kwargs):
        """Starts from a pre-training model dir or a keras-hub ELECTRA preset."""
        backbone, tokenizer = encoders.pretrained_encoder(init_from)
        sequence_length = sequence_length or encoders.default_sequence_length(init_from, backbone)
        return cls(backbone, preprocessor=ElectraTaggerPreprocessor(
            tokenizer, sequence_length=sequence_length), **kwargs)

    @classmethod
    def from_scratch(cls, config, vocabulary, sequence_length=None, **kwargs):
        """Random weights with `config`'s sizes: the baseline without pre-training."""
        backbone, tokenizer = encoders.random_encoder(config, vocabulary)
        return cls(backbone, preprocessor=ElectraTaggerPreprocessor(
            tokenizer, sequence_length=sequence_length or config.sequence_length), **kwargs)

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
            position = 1  # after [CLS]
            for _ in window:
                result[index].append(self.tag_names[row[position]])
                position += next(counts)
        return result

    def tag(self, texts, batch_size=32):
        """Entity spans in raw texts: lists of `{type, start, end, text}` (end exclusive)."""
        split = [split_words(text) for text in texts]
        tags = self.predict_tags([words for words, _ in split], batch_size=batch_size)
        return [
            entity_spans(text, offsets, sentence_tags)
            for text, (_, offsets), sentence_tags in zip(texts, split, tags)
        ]
