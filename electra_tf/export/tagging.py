"""The tagger's servable: word tags and entity spans with character offsets, in the graph."""

import tensorflow as tf
import tensorflow_text as tf_text

from electra_tf import tokenization
from electra_tf.export.serving import Servable, repair_text


# `electra_tf.models.tagger.split_words` in RE2, whose `\w` and `\s` are
# ASCII-only: one CJK character, one mark that is neither word nor space, or a
# run of other word characters (letters, digits, `_`).
_CJK_RANGES = r"\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}"
_SPACE = r"\s\p{Z}"
_WORD_PATTERN = (
    rf"[{_CJK_RANGES}]|[^\p{{L}}\p{{N}}_{_SPACE}]|(?:[^\P{{L}}{_CJK_RANGES}]|[\p{{N}}_])+"
)


class TaggerServable(Servable):
    """An `ElectraTagger`: word tags and entity spans with character offsets.

    Text is split into words as `ElectraTagger.tag` does, each word tagged at
    its first WordPiece. Offsets count characters (code points) of the text
    as repaired by `repair_text`, which for valid UTF-8 are Python `str`
    indices; `end` is exclusive. Words past the sequence length are not
    tagged and `truncated` is set (`ElectraTagger.tag` windows instead).

    Outputs (`W` = most words in the batch, `E` = most entities):
    `words`, `word_tags` (`string [batch, W]`, `""` past `num_words`),
    `word_start`, `word_end` (`int32 [batch, W]`), `num_words`;
    `entity_type`, `entity_text` (`string [batch, E]`), `entity_start`,
    `entity_end` (`int32 [batch, E]`), `num_entities`; `truncated`. The ids
    signature returns `token_tags` (`string [batch, length]`, `""` at
    `[CLS]`, `[SEP]` and padding) and `token_tag_probability`.
    """

    def __init__(self, tagger, sequence_length=None, max_chars=None):
        preprocessor = tagger.preprocessor
        super().__init__(
            preprocessor.tokenizer, sequence_length or preprocessor.sequence_length, max_chars
        )
        self.tagger = tagger
        self.tag_names = tf.constant(tagger.tag_names)
        self.unknown_id = self.tokenizer.token_to_id(tokenization.UNK)

    def trackables(self):
        return [self.tagger, self.tokenizer]

    def _word_pieces(self, words):
        """Token ids per word; as in `ElectraTaggerPreprocessor`, never empty ([UNK])."""
        pieces = self.tokenizer(words)
        unknown = tf.RaggedTensor.from_tensor(tf.fill([tf.shape(words)[0], 1], self.unknown_id))
        padded = tf.concat([pieces, unknown], axis=1)
        keep = tf.maximum(pieces.row_lengths(), 1)
        return tf.ragged.boolean_mask(padded, tf.ragged.range(padded.row_lengths()) < keep[:, None])

    def _tag_probabilities(self, token_ids, segment_ids, padding_mask):
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        return tf.nn.softmax(tf.cast(self.tagger(inputs), tf.float32))

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        probabilities = self._tag_probabilities(token_ids, segment_ids, padding_mask)
        real = (padding_mask > 0) & (token_ids != self.encoder.packer.start_value) & (
            token_ids != self.encoder.packer.end_value)
        best = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            "token_tags": tf.where(real, tf.gather(self.tag_names, best), ""),
            "token_tag_probability": tf.where(real, tf.reduce_max(probabilities, -1), 0.0),
        }

    def predict_text(self, text):
        text, truncated = repair_text(text, self.encoder.max_chars)
        words, starts, ends = split_words_with_offsets(text)
        pieces = self._word_pieces(words.flat_values)
        counts = words.with_flat_values(tf.cast(pieces.row_lengths(), tf.int32)).to_tensor()
        token_ids, segment_ids = self.encoder.packer(words.with_flat_values(pieces).merge_dims(1, 2))
        padding_mask = tf.cast(token_ids != self.encoder.packer.pad_value, tf.int32)
        probabilities = self._tag_probabilities(token_ids, segment_ids, padding_mask)

        # A word is tagged at its first piece (after [CLS]), if that piece fit.
        first_piece = 1 + tf.cumsum(counts, axis=1, exclusive=True)
        last_slot = self.sequence_length - 1
        tagged = (first_piece < last_slot) & tf.sequence_mask(
            tf.cast(words.row_lengths(), tf.int32), tf.shape(counts)[1])
        num_words = tf.reduce_sum(tf.cast(tagged, tf.int32), axis=1)
        truncated |= tf.reduce_sum(counts, axis=1) > self.sequence_length - 2
        word_probabilities = tf.gather(
            probabilities, tf.minimum(first_piece, last_slot), batch_dims=1)
        best = tf.argmax(word_probabilities, axis=-1, output_type=tf.int32)
        tags = tf.where(tagged, tf.gather(self.tag_names, best), "")
        word_start = tf.where(tagged, starts.to_tensor(), 0)
        word_end = tf.where(tagged, ends.to_tensor(), 0)
        entities = bio_entities(tf.where(tagged, tags, "O"))
        rows = tf.cast(entities["first"].value_rowids(), tf.int32)
        first_word = entities["first"].flat_values
        last_word = entities["last"].flat_values
        entity_start = tf.gather_nd(word_start, tf.stack([rows, first_word], 1))
        entity_end = tf.gather_nd(word_end, tf.stack([rows, last_word], 1))
        entity_text = tf.strings.substr(
            tf.gather(text, rows), entity_start, entity_end - entity_start, unit="UTF8_CHAR")
        entity_type = tf.gather_nd(entities["type"], tf.stack([rows, first_word], 1))

        def per_row(values, default):
            return entities["first"].with_flat_values(values).to_tensor(default)

        return {
            "words": tf.where(tagged, words.to_tensor(""), ""),
            "word_tags": tags,
            "word_start": word_start,
            "word_end": word_end,
            "num_words": num_words,
            "entity_type": per_row(entity_type, ""),
            "entity_text": per_row(entity_text, ""),
            "entity_start": per_row(entity_start, 0),
            "entity_end": per_row(entity_end, 0),
            "num_entities": tf.cast(entities["first"].row_lengths(), tf.int32),
            "truncated": truncated,
        }


def split_words_with_offsets(text):
    """Words of each text and their `[start, end)` character offsets, all ragged."""
    words, byte_starts, byte_ends = tf_text.regex_split_with_offsets(
        text, f"[{_SPACE}]+|{_WORD_PATTERN}", _WORD_PATTERN
    )
    row_text = tf.gather(text, words.value_rowids())
    byte_starts = byte_starts.flat_values
    starts = tf.strings.length(
        tf.strings.substr(row_text, tf.zeros_like(byte_starts), byte_starts), unit="UTF8_CHAR")
    ends = starts + tf.strings.length(words.flat_values, unit="UTF8_CHAR")
    return words, words.with_flat_values(starts), words.with_flat_values(ends)


def bio_entities(tags):
    """Entity word spans of BIO / BIOES tag strings `[batch, words]` (pad with "O").

    Reads tags as `electra_tf.models.tagger.entities_from_tags` does (lenient,
    like seqeval's default), with tensor ops: returns ragged `first` and
    `last` word indices (inclusive) per row, and each word's `type`.
    """
    outside = tf.fill([tf.shape(tags)[0], 1], "O")
    current = tf.concat([tags, outside], 1)
    previous = tf.concat([outside, tags], 1)

    def prefix_and_type(t):
        type_ = tf.strings.regex_replace(t, "^.-?", "")
        return tf.strings.substr(t, 0, 1), tf.where(type_ == "", "_", type_)

    def among(prefix, letters):
        return tf.reduce_any(prefix[..., None] == tf.constant(list(letters)), axis=-1)

    p, p_type = prefix_and_type(previous)
    c, c_type = prefix_and_type(current)
    type_change = p_type != c_type
    # ends[:, j]: an entity ends at word j - 1; starts[:, i]: one starts at word i.
    ends = among(p, "ES") | (among(p, "BI") & among(c, "BSO")) | (~among(p, "O") & type_change)
    starts = among(c, "BS") | (among(p, "ESO") & among(c, "EI")) | (~among(c, "O") & type_change)
    starts, closes = starts[:, :-1], ends[:, 1:]
    start_at = tf.cast(tf.where(starts), tf.int32)
    close_at = tf.cast(tf.where(closes), tf.int32)
    batch = tf.shape(tags)[0]
    first = tf.RaggedTensor.from_value_rowids(start_at[:, 1], start_at[:, 0], nrows=batch)
    close_rows = tf.RaggedTensor.from_value_rowids(close_at[:, 1], close_at[:, 0], nrows=batch)
    # An entity ends at the first close at or after its start: the k-th close
    # of the row, k = closes before the start.
    closes_before = tf.cumsum(tf.cast(closes, tf.int32), axis=1, exclusive=True)
    k = tf.gather_nd(closes_before, start_at)
    row_close_start = tf.gather(close_rows.row_starts(), start_at[:, 0])
    last = tf.gather(close_rows.flat_values, tf.cast(row_close_start, tf.int32) + k)
    return {"first": first, "last": first.with_flat_values(last), "type": c_type[:, :-1]}
