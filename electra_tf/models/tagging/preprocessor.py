"""`ElectraTaggerPreprocessor`: words and word tags in, packed WordPieces and token tags out.

Example:
```python
import tensorflow as tf
from electra_tf import tokenization
from electra_tf.models.tagging.preprocessor import ElectraTaggerPreprocessor

vocab = list(tokenization.SPECIAL_TOKENS) + ["john", "##s", "in", "paris"]
preprocessor = ElectraTaggerPreprocessor(tokenization.make_tokenizer(vocab), sequence_length=8)
words = tf.ragged.constant([["Johns", "in", "Paris"]])
x, token_tags, weights = preprocessor(words, tf.ragged.constant([[1, 0, 3]]))
token_tags  # [CLS] john ##s in paris [SEP] [PAD] [PAD]  # -> [[0, 1, 1, 0, 3, 0, 0, 0]]
weights  # only each word's first piece counts  # -> [[0, 1, 0, 1, 1, 0, 0, 0]]
# A sentence too long for one sequence is cut into windows of at most 6 pieces:
preprocessor.windows([["Johns", "in", "Paris"] * 3])
# -> [(['Johns', 'in', 'Paris', 'Johns'], 0, 0),
#     (['in', 'Paris', 'Johns', 'in', 'Paris'], 0, 4)]
```
"""

import keras
import keras_hub
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.data import tasks
from electra_tf.data.tagging import cut_windows


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraTaggerPreprocessor(keras_hub.models.Preprocessor):
    """Word sequences (and word tags) in, packed WordPiece tokens (and token tags) out.

    `x` is a `tf.RaggedTensor` of words, `[batch, (words)]`; `y` the tag ids
    `[batch, (words)]`. Each word's first WordPiece gets the word's tag and
    sample weight 1, its other pieces weight 0; `[CLS]`, `[SEP]` and padding
    get weight 0. A word the tokenizer drops entirely (a control character)
    becomes `[UNK]` so every word keeps a token. Sequences longer than
    `sequence_length` are truncated: `windows` (used by
    `ElectraTagger.dataset` and `.tag`) cuts long sentences first so nothing
    is lost.
    """

    backbone_cls = keras_hub.models.ElectraBackbone
    tokenizer_cls = keras_hub.models.ElectraTokenizer

    def __init__(self, tokenizer, sequence_length=128, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        # keras-hub tokenizers return Python lists when run eagerly, so every call goes
        # through these graph functions, in a graph too: the tokenizer's graph (most of the
        # ops) is then traced once per preprocessor, not at every tf.data map (a fine-tuning
        # run maps train, dev and test) and again for `windows`. Words come as one flat list
        # whatever their number: one trace.
        self._graph_preprocess = tf.function(self._preprocess, reduce_retracing=True)
        self.graph_word_pieces = tf.function(
            self.word_pieces, input_signature=[tf.TensorSpec([None], tf.string)])

    def word_pieces(self, words):
        """`[num_words, (pieces)]` token ids of a flat string tensor, never empty."""
        return tokenization.word_pieces(self.tokenizer, words)

    def call(self, x, y=None, sample_weight=None):
        return self._graph_preprocess(x, y)

    def _preprocess(self, words, tags=None):
        pieces = self.graph_word_pieces(words.flat_values)
        counts = pieces.row_lengths()
        token_ids = self._pack(words.with_flat_values(pieces).merge_dims(1, 2),
                               *(self.tokenizer.token_to_id(token) for token in
                                 (tokenization.CLS, tokenization.SEP, tokenization.PAD)))
        x = {
            "token_ids": token_ids,
            "segment_ids": tf.zeros_like(token_ids),
            "padding_mask": token_ids != self.tokenizer.pad_token_id,
        }
        if tags is None:
            return x
        # Tags and weights share the token layout; 0 at [CLS], [SEP], padding.
        first = tf.cast(tf.ragged.range(counts) == 0, tf.int32)
        weights = self._pack(words.with_flat_values(first).merge_dims(1, 2))
        token_tags = tf.RaggedTensor.from_row_lengths(
            tf.repeat(tf.cast(tags.flat_values, tf.int32), counts), counts
        )
        token_tags = self._pack(words.with_flat_values(token_tags).merge_dims(1, 2))
        return x, token_tags, tf.cast(weights, tf.float32)

    def _pack(self, ids, start=0, end=0, pad=0):
        """One segment per row, packed as `tokenization.segment_packer` packs it."""
        return tokenization.pack_one_segment(ids, self.sequence_length, start, end, pad)

    @property
    def window_pieces(self):
        """How many word pieces a window holds: the sequence but `[CLS]` and `[SEP]`."""
        return self.sequence_length - 2

    def windows(self, sentences):
        """Cuts word lists so each fits; returns `(window, sentence index, first word)`.

        The rule is `electra_tf.data.tagging.cut_windows`, with this
        tokenizer's piece counts and `window_pieces` pieces a window.
        """
        counts = self.piece_counts([w for words in sentences for w in words])
        return cut_windows(sentences, counts, self.window_pieces)

    def piece_counts(self, words):
        """WordPiece count of each word in a flat list."""
        if not words:
            return []
        return self.graph_word_pieces(tf.constant(words)).row_lengths().numpy().tolist()

    def tagging_dataset(self, sentences, tags, tag_names, batch_size=32, shuffle_seed=None):
        """`electra_tf.data.tasks.tagging_dataset`, cut into this preprocessor's `windows`.

        Map it through this preprocessor (as `fit` does for a tagger) to get
        `(x, token tags, sample weights)`.
        """
        return tasks.tagging_dataset(sentences, tags, tag_names, self.windows,
                                     batch_size=batch_size, shuffle_seed=shuffle_seed)

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length}
