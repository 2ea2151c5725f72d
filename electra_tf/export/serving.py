"""String-in SavedModels for TensorFlow Serving.

A *servable* bundles a model, its tokenizer and the readable post-processing
of one task. `export_saved_model` writes it with `keras.export.ExportArchive`
(a plain `tf.saved_model.save` of a Keras 3 model loads in Python but not in
TF Serving's loader) and gives it two signatures:

- `serving_default`: raw text, `tf.string [None]` per input (`text`, and
  `text_pair` for pair tasks). Text is repaired and bounded in the graph, so
  any byte string gets an answer: invalid UTF-8 becomes U+FFFD, control
  characters (NUL included) become spaces, and text past `max_chars`
  characters or past the sequence length is cut, with a `truncated` output
  saying so.
- `serve_token_ids`: `token_ids`, `segment_ids`, `padding_mask`
  (`int32 [None, None]`) for clients that tokenize themselves.

`export_for_serving` adds TF Serving's layout: `<base>/<name>/<version>/`
with warm-up requests in `assets.extra/`, so a server without an op the
model needs fails at load time rather than on the first request.

Example:
```python
from electra_tf import ElectraPretrainer
from electra_tf.export import DiscriminatorServable, export_for_serving

pretrainer, tokenizer = ElectraPretrainer.from_model_dir("runs/zh_small")
servable = DiscriminatorServable.from_pretrainer(pretrainer, tokenizer)
export_for_serving(servable, "exports", "discriminator")  # exports/discriminator/1
```
"""

import json
import pathlib
import shutil
import uuid

import keras
import keras_hub
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from electra_tf import tokenization
from electra_tf.export.serving_ops import check_serving_ops

DEFAULT_SIGNATURE = "serving_default"
IDS_SIGNATURE = "serve_token_ids"
ID_INPUTS = ("token_ids", "segment_ids", "padding_mask")
WARMUP_FILENAME = "tf_serving_warmup_requests"
# Characters kept per token slot: far more than any real text needs, few
# enough that a megabyte request costs no more than a normal one.
CHARS_PER_TOKEN = 16
# C0 controls other than tab/newline/return, and DEL: NUL in particular is
# valid UTF-8 but means nothing to a tokenizer or to a client reading output.
_CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_WARMUP_TEXTS = ("ELECTRA [MASK] text.", "", "今天天气很好 😀", "a" * 300)


def repair_text(texts, max_chars):
    """Makes any byte strings valid, printable, bounded UTF-8.

    Returns `(texts, truncated)`; `truncated[i]` is True when text `i` had more
    than `max_chars` characters.
    """
    texts = tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    texts = tf.strings.regex_replace(texts, _CONTROL_CHARACTERS, " ")
    truncated = tf.strings.length(texts, unit="UTF8_CHAR") > max_chars
    return tf.strings.substr(texts, 0, max_chars, unit="UTF8_CHAR"), truncated


class TextEncoder:
    """Raw strings to packed `[CLS] a [SEP] (b [SEP])` ids, in the graph.

    Packing truncates "waterfall" style: keras-hub's default round-robin
    emits `TFText>RoundRobinTrim`, which TF Serving only has from 2.20.

    Example:
    ```python
    from electra_tf import tokenization
    vocab = list(tokenization.SPECIAL_TOKENS) + ["hello"]
    encoder = TextEncoder(tokenization.make_tokenizer(vocab), sequence_length=8)
    encoder(tf.constant(["hello hello", b"\\xff"]))["token_ids"]  # [2, 5, 5, 3, 0, ...]
    ```
    """

    def __init__(self, tokenizer, sequence_length, num_segments=1, max_chars=None):
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.num_segments = int(num_segments)
        self.max_chars = int(max_chars or CHARS_PER_TOKEN * sequence_length)
        self.packer = keras_hub.layers.MultiSegmentPacker(
            sequence_length=self.sequence_length,
            start_value=tokenizer.token_to_id(tokenization.CLS),
            end_value=tokenizer.token_to_id(tokenization.SEP),
            pad_value=tokenizer.token_to_id(tokenization.PAD),
            truncate="waterfall",
        )

    # A graph even when called eagerly: keras-hub tokenizers return Python
    # lists outside one.
    @tf.function(reduce_retracing=True)
    def __call__(self, *texts):
        """Returns the model inputs, the repaired `texts` and `truncated`."""
        if len(texts) != self.num_segments:
            raise ValueError(f"expected {self.num_segments} text inputs, got {len(texts)}.")
        repaired, segments = [], []
        truncated = tf.zeros_like(texts[0], tf.bool)
        for text in texts:
            text, cut = repair_text(text, self.max_chars)
            repaired.append(text)
            truncated |= cut
            segments.append(self.tokenizer(text))
        token_ids, segment_ids = self.packer(tuple(segments))
        lengths = tf.add_n([tf.cast(s.row_lengths(), tf.int32) for s in segments])
        room = self.sequence_length - self.num_segments - 1
        return {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "padding_mask": tf.cast(token_ids != self.packer.pad_value, tf.int32),
            "texts": repaired,
            "truncated": truncated | (lengths > room),
        }


class Servable:
    """A model, its tokenizer and its readable outputs, ready to export.

    Subclasses set `text_inputs` and implement `trackables` (what
    `ExportArchive` must save) and `predict_ids` (the ids-in signature);
    `predict_text` may add outputs that need the request text.
    """

    text_inputs = ("text",)

    def __init__(self, tokenizer, sequence_length, max_chars=None):
        if not tokenizer.built:
            tokenizer.build(None)  # `ExportArchive` tracks built layers only.
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.encoder = TextEncoder(
            tokenizer, sequence_length, num_segments=len(self.text_inputs), max_chars=max_chars
        )
        # Ids to token strings with a core `Gather`: no lookup table to track.
        self.vocabulary = tf.constant(tokenizer.get_vocabulary())

    def trackables(self):
        raise NotImplementedError

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        raise NotImplementedError

    def predict_text(self, *texts):
        encoded = self.encoder(*texts)
        outputs = self.predict_ids(*(encoded[name] for name in ID_INPUTS))
        return {**outputs, "truncated": encoded["truncated"]}

    def token_strings(self, token_ids, padding_mask):
        """Token strings, `""` at padding."""
        tokens = tf.gather(self.vocabulary, token_ids)
        return tf.where(padding_mask > 0, tokens, "")

    def warmup_inputs(self):
        """A small request for each signature input, for the warm-up file."""
        return {name: np.array(_WARMUP_TEXTS, dtype=object) for name in self.text_inputs}


class DiscriminatorServable(Servable):
    """The pre-trained discriminator: per token, the probability it was replaced.

    Outputs: `tokens` (`string [batch, sequence_length]`, `""` at padding),
    `replaced_probability` (`float32`, 0 at padding), `num_tokens`
    (`int32 [batch]`, `[CLS]`/`[SEP]` included) and, for text, `truncated`.
    """

    def __init__(self, discriminator, rtd_head, tokenizer, sequence_length, max_chars=None):
        super().__init__(tokenizer, sequence_length, max_chars)
        self.discriminator = discriminator
        self.rtd_head = rtd_head

    @classmethod
    def from_pretrainer(cls, pretrainer, tokenizer, **kwargs):
        kwargs.setdefault("sequence_length", pretrainer.electra_config.sequence_length)
        return cls(pretrainer.discriminator, pretrainer.rtd_head, tokenizer, **kwargs)

    def trackables(self):
        return [self.discriminator, self.rtd_head, self.tokenizer]

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        sequence = self.discriminator(inputs)["sequence_output"]
        probability = tf.sigmoid(tf.cast(self.rtd_head(sequence), tf.float32))
        return {
            "tokens": self.token_strings(token_ids, padding_mask),
            "replaced_probability": probability * tf.cast(padding_mask, tf.float32),
            "num_tokens": tf.reduce_sum(padding_mask, axis=1),
        }


class GeneratorServable(Servable):
    """The pre-trained generator: fills each `[MASK]` in the text.

    `[MASK]` is recognised only spelled exactly so. Special tokens are never
    predicted. Outputs: `predicted_tokens` (`string [batch, masks]`, one per
    `[MASK]` in order, `""` past the last), `probabilities` (`float32`),
    `num_masks` (`int32 [batch]`, masks inside the sequence) and, for text,
    `filled_text` (the repaired text with every `[MASK]` that fit replaced;
    `##` continuation marks dropped) and `truncated`.
    """

    def __init__(self, generator, tokenizer, sequence_length, max_chars=None):
        # Reads "[MASK]" in the text as the mask token; lower-casing leaves it alone.
        tokenizer = keras_hub.models.ElectraTokenizer(
            vocabulary=tokenizer.get_vocabulary(),
            lowercase=tokenizer.lowercase,
            strip_accents=tokenizer.strip_accents,
            special_tokens_in_strings=True,
        )
        super().__init__(tokenizer, sequence_length, max_chars)
        self.generator = generator
        self.mask_id = tokenizer.token_to_id(tokenization.MASK)
        special = tokenization.special_token_ids(tokenizer).values()
        self.logit_mask = tf.constant(
            [-1e9 if i in special else 0.0 for i in range(tokenizer.vocabulary_size())]
        )

    @classmethod
    def from_pretrainer(cls, pretrainer, tokenizer, **kwargs):
        kwargs.setdefault("sequence_length", pretrainer.electra_config.sequence_length)
        return cls(pretrainer.generator, tokenizer, **kwargs)

    def trackables(self):
        return [self.generator, self.tokenizer]

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        is_mask = (token_ids == self.mask_id) & (padding_mask > 0)
        where = tf.cast(tf.where(is_mask), tf.int32)
        positions = tf.RaggedTensor.from_value_rowids(
            where[:, 1], where[:, 0], nrows=tf.shape(token_ids)[0]
        )
        num_masks = tf.cast(positions.row_lengths(), tf.int32)
        # One spare column keeps the gather shapes non-empty for mask-free batches.
        dense_positions = tf.pad(positions.to_tensor(), [[0, 0], [0, 1]])
        logits = self.generator(
            {
                "token_ids": token_ids,
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
                "mask_positions": dense_positions,
            }
        )
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32) + self.logit_mask)
        predicted = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        valid = tf.sequence_mask(num_masks, tf.shape(dense_positions)[1])
        return {
            "predicted_tokens": tf.where(valid, tf.gather(self.vocabulary, predicted), ""),
            "probabilities": tf.where(valid, tf.reduce_max(probabilities, axis=-1), 0.0),
            "num_masks": num_masks,
        }

    def predict_text(self, text):
        encoded = self.encoder(text)
        outputs = self.predict_ids(*(encoded[name] for name in ID_INPUTS))
        filled = fill_masks(encoded["texts"][0], outputs["predicted_tokens"], outputs["num_masks"])
        return {**outputs, "filled_text": filled, "truncated": encoded["truncated"]}


class ClassifierServable(Servable):
    """An `ElectraClassifier`: label names and class probabilities.

    With `pairs=True` the signature takes `text` and `text_pair`. Outputs:
    `label` (`string [batch]`, the most likely class), `score` (its
    probability), `probabilities` (`float32 [batch, classes]`), `label_names`
    (`string [batch, classes]`, the class of each column) and, for text,
    `truncated`. Without `label_names`, classes are named by their ids.
    """

    def __init__(self, classifier, pairs=False, sequence_length=None, max_chars=None):
        self.text_inputs = ("text", "text_pair") if pairs else ("text",)
        preprocessor = classifier.preprocessor
        super().__init__(
            preprocessor.tokenizer, sequence_length or preprocessor.sequence_length, max_chars
        )
        self.classifier = classifier
        names = classifier.label_names or [str(i) for i in range(classifier.num_classes)]
        self.label_names = tf.constant(names)
        # Logits unless the model was built to output probabilities already.
        self.outputs_probabilities = classifier.activation in (
            keras.activations.softmax, keras.activations.sigmoid
        )

    def trackables(self):
        return [self.classifier, self.tokenizer]

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        outputs = tf.cast(self.classifier(inputs), tf.float32)
        probabilities = outputs if self.outputs_probabilities else tf.nn.softmax(outputs)
        best = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        batch = tf.shape(token_ids)[0]
        return {
            "label": tf.gather(self.label_names, best),
            "score": tf.reduce_max(probabilities, axis=-1),
            "probabilities": probabilities,
            "label_names": tf.tile(self.label_names[None], [batch, 1]),
        }


class Seq2SeqServable(Servable):
    """An `ElectraSeq2SeqLM`: generated text, decoded greedily (or with the
    sampler the model was compiled with) up to the preprocessor's
    `decoder_sequence_length`.

    The ids signature takes the encoder's packed source (`segment_ids` is
    ignored). Outputs: `generated_text` (`string [batch]`; WordPiece pieces
    joined, no spaces between CJK characters), `generated_tokens`
    (`string [batch, decoder length]`, `""` outside the generated span),
    `num_generated` (`int32 [batch]`) and, for text, `truncated`.
    TF Serving signatures have no optional inputs, so decoding options are
    fixed at export: compile the model with the sampler to serve.
    """

    def __init__(self, seq2seq_lm, sequence_length=None, max_chars=None):
        preprocessor = seq2seq_lm.preprocessor
        if not preprocessor.built:
            preprocessor.build(None)
        super().__init__(
            preprocessor.tokenizer, sequence_length or preprocessor.encoder_sequence_length,
            max_chars,
        )
        self.seq2seq_lm = seq2seq_lm
        target = preprocessor.decoder_tokenizer
        if not target.built:
            target.build(None)
        self.target_tokenizer = target
        self.target_vocabulary = tf.constant(target.get_vocabulary())
        self.decoder_length = preprocessor.decoder_sequence_length
        self.start_id, self.end_id = target.start_token_id, target.end_token_id
        self.special_ids = tf.constant(sorted(target.special_token_ids))

    def trackables(self):
        return [self.seq2seq_lm, self.tokenizer, self.target_tokenizer]

    def predict_ids(self, token_ids, segment_ids, padding_mask):
        del segment_ids  # the encoder reads one segment
        batch = tf.shape(token_ids)[0]
        start = tf.fill([batch, 1], self.start_id)
        decoder_ids = tf.pad(start, [[0, 0], [0, self.decoder_length - 1]])
        generated = self.seq2seq_lm.generate_step(
            {
                "encoder_token_ids": token_ids,
                "encoder_padding_mask": padding_mask > 0,
                "decoder_token_ids": decoder_ids,
                "decoder_padding_mask": tf.sequence_mask(tf.ones([batch], tf.int32),
                                                         self.decoder_length),
            },
            stop_token_ids=[self.end_id],
        )
        ids = tf.cast(generated["decoder_token_ids"], tf.int32)
        keep = tf.cast(generated["decoder_padding_mask"], tf.bool) & tf.reduce_all(
            ids[..., None] != self.special_ids, axis=-1
        )
        tokens = tf.where(keep, tf.gather(self.target_vocabulary, ids), "")
        return {
            "generated_text": detokenize_word_pieces(tokens),
            "generated_tokens": tokens,
            "num_generated": tf.reduce_sum(tf.cast(keep, tf.int32), axis=1),
        }


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


def detokenize_word_pieces(tokens):
    """WordPiece strings `[batch, length]` (`""` = none) to text, with core ops.

    TF Text's detokenizer op is newer than the TF Serving builds these
    exports target (see `serving_ops`).
    """
    from electra_tf.models.seq2seq import join_cjk

    text = tf.strings.reduce_join(tf.where(tokens == "", "", tokens + " "), axis=1)
    text = tf.strings.regex_replace(tf.strings.strip(text), " ##", "")
    return join_cjk(text)


def fill_masks(texts, tokens, num_tokens, mask=tokenization.MASK):
    """Replaces the first `num_tokens[i]` occurrences of `mask` in `texts[i]`.

    Occurrences past `num_tokens` (cut by truncation) stay as they are.
    """
    pieces = tf.strings.split(texts, sep=mask)
    row = tf.cast(pieces.value_rowids(), tf.int32)
    gap = tf.cast(tf.ragged.range(pieces.row_lengths()).flat_values, tf.int32)
    gaps_in_row = tf.cast(tf.gather(pieces.row_lengths(), row), tf.int32) - 1
    column = tf.minimum(gap, tf.shape(tokens)[1] - 1)
    fill = tf.strings.regex_replace(tf.gather_nd(tokens, tf.stack([row, column], 1)), "^##", "")
    fill = tf.where(gap < tf.gather(num_tokens, row), fill, mask)
    fill = tf.where(gap < gaps_in_row, fill, "")
    joined = tf.reshape(tf.stack([pieces.flat_values, fill], axis=1), [-1])
    rows = tf.RaggedTensor.from_row_splits(joined, pieces.row_splits * 2)
    return tf.strings.reduce_join(rows, axis=1)


def _load_pretrainer(model_dir):
    from electra_tf.models.pretrainer import ElectraPretrainer

    return ElectraPretrainer.from_model_dir(model_dir)


def _load_discriminator(model_dir, **kwargs):
    return DiscriminatorServable.from_pretrainer(*_load_pretrainer(model_dir), **kwargs)


def _load_generator(model_dir, **kwargs):
    return GeneratorServable.from_pretrainer(*_load_pretrainer(model_dir), **kwargs)


def _load_classifier(model_dir, **kwargs):
    from electra_tf.models.classifier import ElectraClassifier

    return ClassifierServable(ElectraClassifier.from_preset(str(model_dir)), **kwargs)


def _load_tagger(model_dir, **kwargs):
    from electra_tf.models.tagger import ElectraTagger

    return TaggerServable(ElectraTagger.from_preset(str(model_dir)), **kwargs)


def _load_seq2seq(model_dir, **kwargs):
    from electra_tf.models.seq2seq import ElectraSeq2SeqLM

    return Seq2SeqServable(ElectraSeq2SeqLM.from_preset(str(model_dir)), **kwargs)


# Kind name -> loader of a servable from a model directory.
SERVABLES = {
    "classifier": _load_classifier,
    "discriminator": _load_discriminator,
    "generator": _load_generator,
    "seq2seq": _load_seq2seq,
    "tagger": _load_tagger,
}


# Task class in a keras-hub preset's task.json -> kind.
_TASK_KINDS = {
    "ElectraClassifier": "classifier",
    "ElectraSeq2SeqLM": "seq2seq",
    "ElectraTagger": "tagger",
}


def detect_kind(model_dir):
    """The default export of a model directory: a pre-training run's
    discriminator, or the task of a keras-hub task preset."""
    model_dir = pathlib.Path(model_dir)
    if (model_dir / "electra_config.json").is_file():
        return "discriminator"
    task = model_dir / "task.json"
    if task.is_file():
        task_class = json.loads(task.read_text()).get("class_name")
        if task_class in _TASK_KINDS:
            return _TASK_KINDS[task_class]
    raise ValueError(
        f"cannot tell what {model_dir} holds (no electra_config.json, no task.json of "
        f"{sorted(_TASK_KINDS)}); pass --kind, one of {sorted(SERVABLES)}."
    )


def load_servable(kind, model_dir, sequence_length=None, **kwargs):
    """Builds the `kind` servable (see `SERVABLES`) from `model_dir`."""
    if kind not in SERVABLES:
        raise ValueError(f"unknown kind {kind!r}; choose one of {sorted(SERVABLES)}.")
    if sequence_length is not None:
        kwargs["sequence_length"] = sequence_length
    return SERVABLES[kind](model_dir, **kwargs)


def export_saved_model(servable, export_dir):
    """Writes `servable` as a SavedModel with the text and ids signatures."""
    archive = keras.export.ExportArchive()
    for trackable in servable.trackables():
        archive.track(trackable)
    archive.add_endpoint(
        DEFAULT_SIGNATURE,
        servable.predict_text,
        input_signature=[tf.TensorSpec([None], tf.string, name=n) for n in servable.text_inputs],
    )
    archive.add_endpoint(
        IDS_SIGNATURE,
        servable.predict_ids,
        input_signature=[tf.TensorSpec([None, None], tf.int32, name=n) for n in ID_INPUTS],
    )
    archive.write_out(str(export_dir), verbose=False)
    return pathlib.Path(export_dir)


def export_for_serving(servable, base_dir, model_name, version=None, check_ops=True):
    """Exports to `<base_dir>/<model_name>/<version>/` with warm-up requests.

    `version` defaults to one past the highest existing version. The export is
    written under a temporary name and renamed into place, so a server
    watching `base_dir` never loads a half-written version. With `check_ops`,
    an export using an op stock TF Serving lacks raises `ValueError` and is
    not kept (`serving_ops.check_serving_ops`).
    """
    model_dir = pathlib.Path(base_dir) / model_name
    model_dir.mkdir(parents=True, exist_ok=True)
    if version is None:
        existing = [int(p.name) for p in model_dir.iterdir() if p.name.isdigit()]
        version = max(existing, default=0) + 1
    final = model_dir / str(int(version))
    if final.exists():
        raise FileExistsError(f"{final} exists; pass another --version or delete it.")
    partial = model_dir / f".partial-{uuid.uuid4().hex}"
    try:
        export_saved_model(servable, partial)
        if check_ops:
            check_serving_ops(partial)
        write_warmup_requests(partial, model_name, servable.warmup_inputs())
        partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def write_warmup_requests(export_dir, model_name, inputs, signature_name=DEFAULT_SIGNATURE):
    """Writes `assets.extra/tf_serving_warmup_requests`: one `PredictionLog`.

    TF Serving replays it at load time, which also surfaces a missing op
    then instead of at the first real request.
    """
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    )
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    path = pathlib.Path(export_dir) / "assets.extra" / WARMUP_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(log.SerializeToString())
    return path


def write_models_config(base_dir, model_names=None, container_base="/models"):
    """Writes `<base_dir>/models.config` for `tensorflow_model_server --model_config_file`.

    `model_names` defaults to every folder of `base_dir` holding a numbered
    version. Paths are as the server sees them: `container_base` is where
    `base_dir` is mounted (the Docker image's convention is `/models`).
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    if model_names is None:
        model_names = sorted(
            d.name for d in pathlib.Path(base_dir).iterdir()
            if d.is_dir() and any(v.name.isdigit() for v in d.iterdir())
        )
    config = model_server_config_pb2.ModelServerConfig()
    for name in model_names:
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = f"{container_base.rstrip('/')}/{name}"
        entry.model_platform = "tensorflow"
    path = pathlib.Path(base_dir) / "models.config"
    path.write_text(text_format.MessageToString(config))
    return path
