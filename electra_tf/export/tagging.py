"""Tagging in the graph: words, windows, tags and entity spans with character offsets.

`WindowedTagging` does what `ElectraTagger.tag` does in Python: split text
into words with character offsets, cut the words into windows that fit the
encoder (greedily, as `ElectraTagger.windows`), tag each word at its first
WordPiece and read entities from the tags. `TaggerServable` exports it for
an `ElectraTagger`; the multi-task servable uses it for its tagging heads.
"""

import tensorflow as tf
import tensorflow_text as tf_text

from electra_tf import tokenization
from electra_tf.export.serving import CHARS_PER_TOKEN, Servable, repair_text


# `electra_tf.data.tagging.split_words` in RE2, whose `\w` and `\s` are
# ASCII-only: one CJK character, one mark that is neither word nor space, or a
# run of other word characters (letters, digits, `_`).
_CJK_RANGES = tokenization.cjk_ranges(re2=True)
_SPACE = r"\s\p{Z}"
_WORD_PATTERN = (
    rf"[{_CJK_RANGES}]|[^\p{{L}}\p{{N}}_{_SPACE}]|(?:[^\P{{L}}{_CJK_RANGES}]|[\p{{N}}_])+"
)
# Windows a text may fill before the rest is reported as truncated: bounds
# the cost of one request at `max_windows` encoder passes.
DEFAULT_MAX_WINDOWS = 8


class WindowedTagging:
    """Raw text to words tagged in encoder windows, for one or more tagging heads.

    Words are cut into windows of at most `sequence_length - 2` pieces as
    `ElectraTagger.windows` cuts them, so no word goes untagged; only words
    past `max_windows` windows (or text past `max_chars` characters) are
    left out, and `truncated` says so. Offsets count characters (code
    points) of the text as repaired by `repair_text`, which for valid UTF-8
    are Python `str` indices; `end` is exclusive.

    Example:
    ```python
    from electra_tf import ElectraConfig, tokenization
    from electra_tf.models.tagging.tagger import ElectraTagger

    vocab = tokenization.build_vocabulary(["江泽民在北京"], 40)
    tagger = ElectraTagger.from_scratch(ElectraConfig.from_preset("tiny"), vocab,
                                        tag_names=["O", "B-PER", "I-PER"], sequence_length=16)
    windowed = WindowedTagging(tagger.preprocessor.tokenizer, sequence_length=16)
    tag = tf.function(lambda text: windowed(text, lambda inputs: {"ner": tagger(inputs)},
                                            {"ner": tagger.tag_names}))  # graph ops, as exported
    words, heads = tag(tf.constant(["江泽民在北京"]))
    words["word_start"], words["word_end"]  # character offsets: one word per CJK character
    # -> ([[0, 1, 2, 3, 4, 5]], [[1, 2, 3, 4, 5, 6]])
    heads["ner"]["entity_text"]  # [[b"江泽民", b"北京"]] once trained
    # Untrained, the tags are random, but the graph reads the entities `tagger.tag` reads:
    [entity["text"].encode() for entity in tagger.tag(["江泽民在北京"])[0]] == (
        heads["ner"]["entity_text"][0].numpy().tolist())  # -> True
    ```
    """

    def __init__(self, tokenizer, sequence_length, max_windows=DEFAULT_MAX_WINDOWS,
                 max_chars=None):
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.budget = self.sequence_length - 2  # [CLS] and [SEP]
        self.max_windows = int(max_windows)
        # Every word takes at least one piece, so later words can never fit.
        self.max_words = self.max_windows * self.budget
        self.max_chars = int(max_chars or CHARS_PER_TOKEN * self.sequence_length * max_windows)
        self.packer = tokenization.segment_packer(tokenizer, self.sequence_length)

    def word_pieces(self, words):
        return tokenization.word_pieces(self.tokenizer, words)

    def __call__(self, text, logits_fn, heads):
        """Tags `text` (`string [batch]`) with each head of `logits_fn`.

        `logits_fn` maps packed `token_ids` / `segment_ids` / `padding_mask`
        to `{head: logits [windows, length, tags]}`; `heads` maps each head to
        its tag names. Returns `(words, per_head)`: the word outputs
        (`words`, `word_start`, `word_end`, `num_words`, `truncated`) and,
        per head, `word_tags` and the entity outputs.
        """
        text, truncated = repair_text(text, self.max_chars)
        words, starts, ends = split_words_with_offsets(text)
        truncated |= words.row_lengths() > self.max_words
        words, starts, ends = (x[:, : self.max_words] for x in (words, starts, ends))
        pieces = self.word_pieces(words.flat_values)
        counts = words.with_flat_values(tf.cast(pieces.row_lengths(), tf.int32)).to_tensor()
        window, slot = assign_windows(counts, self.budget)
        valid = tf.sequence_mask(words.row_lengths(), tf.shape(counts)[1])
        # Windows are in word order, so the tagged words are a prefix of each row's.
        tagged = valid & (window < self.max_windows)
        truncated |= tf.reduce_any(valid & ~tagged, axis=1)
        num_tagged = tf.reduce_sum(tf.cast(tagged, tf.int32), axis=1)

        # One encoder row per window; text without words still gets one
        # ([CLS] [SEP]), as `ElectraTagger.tag` runs it.
        windows_per_row = tf.maximum(tf.reduce_max(tf.where(tagged, window + 1, 0), axis=1), 1)
        rows = tf.where(tagged)[:, 0]
        key = tf.gather(tf.cumsum(tf.cast(windows_per_row, tf.int64), exclusive=True), rows) + (
            tf.cast(tf.boolean_mask(window, tagged), tf.int64))
        tagged_pieces = tf.ragged.boolean_mask(pieces, tf.boolean_mask(tagged, valid))
        window_tokens = tf.RaggedTensor.from_value_rowids(
            tagged_pieces, key, nrows=tf.reduce_sum(tf.cast(windows_per_row, tf.int64)),
        ).merge_dims(1, 2)
        token_ids, segment_ids = self.packer(window_tokens)
        padding_mask = tf.cast(token_ids != self.packer.pad_value, tf.int32)
        logits = logits_fn(
            {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask})

        def per_row(dense, default):
            flat = tf.boolean_mask(dense, tagged)
            return tf.RaggedTensor.from_row_lengths(flat, num_tagged).to_tensor(default)

        word_start, word_end = per_row(starts.to_tensor(), 0), per_row(ends.to_tensor(), 0)
        first_pieces = tf.stack([tf.cast(key, tf.int32), tf.boolean_mask(slot, tagged)], axis=1)
        per_head = {}
        for name, tag_names in heads.items():
            probabilities = tf.nn.softmax(tf.cast(logits[name], tf.float32))
            best = tf.argmax(tf.gather_nd(probabilities, first_pieces), -1, output_type=tf.int32)
            tags = tf.RaggedTensor.from_row_lengths(
                tf.gather(tf.constant(tag_names), best), num_tagged).to_tensor("")
            per_head[name] = {"word_tags": tags,
                              **entity_outputs(text, tags, word_start, word_end)}
        return {
            "words": per_row(words.to_tensor(""), ""),
            "word_start": word_start,
            "word_end": word_end,
            "num_words": num_tagged,
            "truncated": truncated,
        }, per_head


class TaggerServable(Servable):
    """An `ElectraTagger`: word tags and entity spans with character offsets.

    Text is split into words and tagged in windows as `ElectraTagger.tag`
    does (see `WindowedTagging`); only words past `max_windows` windows are
    left untagged, with `truncated` set.

    Outputs (`W` = most words in the batch, `E` = most entities):
    `words`, `word_tags` (`string [batch, W]`, `""` past `num_words`),
    `word_start`, `word_end` (`int32 [batch, W]`), `num_words`;
    `entity_type`, `entity_text` (`string [batch, E]`), `entity_start`,
    `entity_end` (`int32 [batch, E]`), `num_entities`; `truncated`. The ids
    signature returns `token_tags` (`string [batch, length]`, `""` at
    `[CLS]`, `[SEP]` and padding) and `token_tag_probability`.
    """

    def __init__(self, tagger, sequence_length=None, max_windows=DEFAULT_MAX_WINDOWS,
                 max_chars=None):
        preprocessor = tagger.preprocessor
        super().__init__(
            preprocessor.tokenizer, sequence_length or preprocessor.sequence_length, max_chars
        )
        self.tagger = tagger
        self.tag_names = tf.constant(tagger.tag_names)
        self.windowed = WindowedTagging(self.tokenizer, self.sequence_length, max_windows,
                                        max_chars)

    def trackables(self):
        return [self.tagger, self.tokenizer]

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        probabilities = tf.nn.softmax(tf.cast(self.tagger(inputs), tf.float32))
        packer = self.encoder.packer
        real = (padding_mask > 0) & (token_ids != packer.start_value) & (
            token_ids != packer.end_value)
        best = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            "token_tags": tf.where(real, tf.gather(self.tag_names, best), ""),
            "token_tag_probability": tf.where(real, tf.reduce_max(probabilities, -1), 0.0),
        }

    def predict_text(self, text):
        words, heads = self.windowed(
            text, lambda inputs: {"tags": self.tagger(inputs)}, {"tags": self.tagger.tag_names})
        return {**words, **heads["tags"]}


def assign_windows(counts, budget):
    """Per word (`counts`: pieces, `int32 [batch, words]`, 0 = padding): its
    window and the slot of its first piece after `[CLS]`.

    `electra_tf.data.tagging.word_windows` in graph ops (tested equal): a
    word that does not fit the current window's `budget` pieces starts the
    next one; a word of more than `budget` pieces fills a window alone (its
    tail is cut).
    """

    def step(state, count):
        used, window, _ = state
        count = tf.minimum(count, budget)
        new = used + count > budget
        return (tf.where(new, count, used + count), window + tf.cast(new, tf.int32),
                tf.where(new, 0, used) + 1)

    zeros = tf.zeros([tf.shape(counts)[0]], tf.int32)
    # A spare column: `scan` cannot stack zero steps of an unknown shape.
    padded = tf.pad(counts, [[0, 0], [0, 1]])
    _, window, slot = tf.scan(step, tf.transpose(padded), initializer=(zeros, zeros, zeros))
    return tf.transpose(window)[:, :-1], tf.transpose(slot)[:, :-1]


def entity_outputs(text, tags, word_start, word_end):
    """Entities of word `tags` (`string [batch, words]`, `""` past the last) as
    `entity_type`, `entity_text`, `entity_start`, `entity_end`, `num_entities`."""
    entities = bio_entities(tf.where(tags == "", "O", tags))
    rows = tf.cast(entities["first"].value_rowids(), tf.int32)
    first_word = tf.stack([rows, entities["first"].flat_values], 1)
    entity_start = tf.gather_nd(word_start, first_word)
    entity_end = tf.gather_nd(word_end, tf.stack([rows, entities["last"].flat_values], 1))
    entity_text = tf.strings.substr(
        tf.gather(text, rows), entity_start, entity_end - entity_start, unit="UTF8_CHAR")

    def per_row(values, default):
        return entities["first"].with_flat_values(values).to_tensor(default)

    return {
        "entity_type": per_row(tf.gather_nd(entities["type"], first_word), ""),
        "entity_text": per_row(entity_text, ""),
        "entity_start": per_row(entity_start, 0),
        "entity_end": per_row(entity_end, 0),
        "num_entities": tf.cast(entities["first"].row_lengths(), tf.int32),
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

    Reads tags as `electra_tf.data.tagging.entities_from_tags` does (lenient,
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
