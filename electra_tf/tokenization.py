"""WordPiece vocabularies and the in-graph tokenizer.

The tokenizer is keras-hub's `ElectraTokenizer` (a `WordPieceTokenizer` on
TF Text ops): BERT basic tokenization that puts every CJK character in its own
token, optional lower-casing, `[UNK]` for anything outside the vocabulary. This
module adds what keras-hub leaves to the user: building a vocabulary from a
corpus with ELECTRA's special tokens first, reporting the out-of-vocabulary
rate, saving / loading the vocabulary with a model directory, and joining
detokenized CJK text without WordPiece's spaces (`join_cjk`).

Example:
```python
from electra_tf import tokenization

vocab = tokenization.build_vocabulary(["今天天气很好", "the weather is nice"], 50)
tokenizer = tokenization.make_tokenizer(vocab)
ids = tokenizer(["天气 nice"])  # ids per text: lists when eager, a ragged tensor in a graph
ids  # -> [[16, 19, 31]]
[vocab[i] for i in ids[0]]  # each Chinese character is one token
# -> ['天', '气', 'nice']
```
"""

import pathlib

import re
import unicodedata

import keras_hub
import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as wordpiece_learner

from electra_tf import compat

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
VOCAB_FILENAME = "vocab.txt"

# The one definition of a CJK character in this package: the code points the
# tokenizer splits into single-character words (BERT's `_is_chinese_char`, as
# keras-hub's WordPiece tokenizer applies it; a test checks they agree).
CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)
# CJK punctuation and full-width forms: written without spaces, like CJK characters.
CJK_PUNCTUATION_RANGES = ((0x3000, 0x303F), (0xFF00, 0xFFEF))


def cjk_ranges(re2=False, punctuation=False):
    """The CJK ranges as the inside of a regex character class.

    Python `re` syntax by default; `re2=True` gives RE2's (`tf.strings.regex_*`).
    `punctuation=True` adds CJK punctuation and full-width forms.
    """
    ranges = CJK_RANGES + (CJK_PUNCTUATION_RANGES if punctuation else ())
    code = (lambda c: f"\\x{{{c:X}}}") if re2 else chr
    return "".join(f"{code(low)}-{code(high)}" for low, high in ranges)


# Lower-casing applies NFKC, which maps Chinese full-width marks to ASCII
# ("，" to ","); after a Han character such a mark was full-width.
_FULL_WIDTH_MARKS = {",": "，", "!": "！", "?": "？", ";": "；", ":": "："}


def join_cjk(text):
    """Removes the spaces WordPiece detokenization puts between CJK characters.

    `text` is a string tensor (any shape); graph-safe. ASCII `, ! ? ; :`
    right after a Han character become full-width again (undoing the NFKC of
    an uncased vocabulary), so Chinese output reads "，".

    Example:
    ```python
    import tensorflow as tf
    join_cjk(tf.constant("床 前 明 月 光 , 疑 是 a b")).numpy().decode()
    # -> '床前明月光，疑是 a b'
    ```
    """
    cjk, cjk_class = cjk_ranges(re2=True), f"[{cjk_ranges(re2=True, punctuation=True)}]"
    for mark, full_width in _FULL_WIDTH_MARKS.items():
        text = tf.strings.regex_replace(text, rf"([{cjk}]) {re.escape(mark)}", rf"\1 {full_width}")
    pattern = f"({cjk_class}) ({cjk_class})"
    # Matches cannot overlap, so one pass joins every other gap; two join all.
    for _ in range(2):
        text = tf.strings.regex_replace(text, pattern, r"\1\2")
    return text


def build_vocabulary(texts, vocab_size: int, lowercase: bool = True) -> list[str]:
    """Learns a WordPiece vocabulary of at most `vocab_size` entries.

    `texts` is a list of strings, a `tf.data.Dataset` of strings (or of
    batches of strings), or a list of text-file paths. Special tokens come
    first, `[PAD]` at id 0.

    This calls TF Text's WordPiece learner directly rather than
    `keras_hub.tokenizers.compute_word_piece_vocabulary`, which keeps the
    learner's default of 1,000 distinct characters: a Chinese corpus has
    several thousand, and the rest would all become `[UNK]`. Continuation
    pieces of CJK characters (`##中`) are dropped: CJK characters are always
    split apart, so such pieces can never be produced.
    """
    if vocab_size < len(SPECIAL_TOKENS) + 1:
        raise ValueError(
            f"vocab_size must be at least {len(SPECIAL_TOKENS) + 1} (five special "
            f"tokens and one word), got {vocab_size}."
        )
    if isinstance(texts, (list, tuple)):
        if not texts:
            raise ValueError("cannot build a vocabulary from no text: pass a non-empty corpus.")
        if all(_is_file(t) for t in texts):
            texts = tf.data.TextLineDataset([str(t) for t in texts])
        else:
            texts = tf.data.Dataset.from_tensor_slices(list(texts))
    if texts.element_spec.shape.rank == 0:
        texts = texts.batch(1024)
    # The words the tokenizer itself splits text into, so every word learned is one it sees.
    words = texts.map(
        lambda batch: compat.pretokenize(batch, lowercase=lowercase, strip_accents=lowercase),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    vocabulary = wordpiece_learner.learn(
        wordpiece_learner.count_words(words),
        vocab_size=vocab_size,
        reserved_tokens=list(SPECIAL_TOKENS),
        lower_thresh=1,
        max_unique_chars=vocab_size,
        include_joiner_token=True,
        joiner="##",
    )
    vocabulary = [
        t for t in vocabulary if not _is_cjk_continuation(t) and _fits_a_vocabulary_line(t)
    ][:vocab_size]
    if len(vocabulary) <= len(SPECIAL_TOKENS):
        raise ValueError("the corpus produced no word pieces: is every line empty?")
    return vocabulary


def _is_file(text) -> bool:
    """Whether `text` names a file; a long sentence is not a path (and `is_file`
    raises for names longer than the file system allows)."""
    if not isinstance(text, (str, pathlib.Path)):
        return False
    try:
        return pathlib.Path(text).is_file()
    except OSError:
        return False


def _fits_a_vocabulary_line(token: str) -> bool:
    # The learner can return whitespace the pre-tokenizer did not split on (an
    # ideographic space becomes " " under NFKC). Such a token cannot be
    # produced by the tokenizer and does not survive a vocab.txt round trip,
    # which would shift every id after it.
    return bool(token) and not any(c.isspace() or unicodedata.category(c) == "Cc" for c in token)


def _is_cjk_continuation(token: str) -> bool:
    return token.startswith("##") and len(token) == 3 and re.fullmatch(f"[{cjk_ranges()}]", token[2:])


def make_tokenizer(vocabulary, lowercase: bool = True) -> keras_hub.models.ElectraTokenizer:
    """An in-graph `ElectraTokenizer` over `vocabulary` (a list or a vocab file)."""
    if isinstance(vocabulary, (str, pathlib.Path)):
        vocabulary = load_vocabulary(vocabulary)
    missing = [t for t in SPECIAL_TOKENS if t not in vocabulary]
    if missing:
        raise ValueError(
            f"the vocabulary lacks the special token(s) {missing}; rebuild it with "
            "electra_tf.tokenization.build_vocabulary or add them to the file."
        )
    return keras_hub.models.ElectraTokenizer(
        vocabulary=list(vocabulary), lowercase=lowercase, strip_accents=lowercase
    )


def save_vocabulary(vocabulary, directory) -> pathlib.Path:
    path = pathlib.Path(directory) / VOCAB_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{token}\n" for token in vocabulary), encoding="utf-8")
    return path


def load_vocabulary(path) -> list[str]:
    """Reads a one-token-per-line vocabulary; a directory means its `vocab.txt`."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / VOCAB_FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"vocabulary file {path} does not exist; pass --vocab_file with a WordPiece "
            "vocabulary or --vocab_size to build one from the input."
        )
    try:
        tokens = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise ValueError(f"vocabulary file {path} is not UTF-8 text ({error}).") from None
    tokens = [t.strip() for t in tokens if t.strip()]
    if len(set(tokens)) != len(tokens):
        raise ValueError(f"vocabulary file {path} repeats some tokens; each must appear once.")
    return tokens


def oov_rate(tokenizer, texts) -> float:
    """Fraction of produced tokens that are `[UNK]`, over `texts`."""
    unk_id = tokenizer.token_to_id(UNK)
    total = unknown = 0
    # Mapped in tf.data: called eagerly, keras-hub tokenizers return lists.
    batches = tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024)
    for ids in batches.map(lambda batch: tokenizer(batch).flat_values):
        total += int(tf.size(ids))
        unknown += int(tf.reduce_sum(tf.cast(ids == unk_id, tf.int64)))
    return unknown / total if total else 0.0


def special_token_ids(tokenizer) -> dict[str, int]:
    return {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}


def segment_packer(tokenizer, sequence_length: int, truncate="waterfall") -> "SegmentPacker":
    """keras-hub's packer with ELECTRA's layout: `[CLS] A [SEP] (B [SEP]) [PAD]...`.

    Truncation is "waterfall" (the first segment keeps its tokens first), as
    every preprocessor and export in this package expects, unless `truncate`
    says "round_robin".
    """
    return SegmentPacker(
        sequence_length=int(sequence_length),
        start_value=tokenizer.token_to_id(CLS),
        end_value=tokenizer.token_to_id(SEP),
        pad_value=tokenizer.token_to_id(PAD),
        truncate=truncate,
    )


class SegmentPacker(keras_hub.layers.MultiSegmentPacker):
    """keras-hub's `MultiSegmentPacker`, but a batch of one segment packed in a graph
    goes through `pack_one_segment`: the same tensors from a few ops instead of a
    thousand (each paid at every trace and every `tf.data` iterator of the graph)."""

    def call(self, inputs, sequence_length=None, add_start_value=True, add_end_value=True):
        segment = inputs[0] if isinstance(inputs, tuple) and len(inputs) == 1 else inputs
        if not (tf.inside_function() and isinstance(segment, tf.RaggedTensor)
                and segment.shape.rank == 2 and add_start_value and add_end_value
                and self.padding_side == "right"
                and len(self.start_value) == len(self.end_value) == 1):
            return super().call(inputs, sequence_length, add_start_value, add_end_value)
        token_ids = pack_one_segment(segment, sequence_length or self.sequence_length,
                                     self.start_value[0], self.end_value[0], self.pad_value)
        return token_ids, tf.zeros_like(token_ids, dtype=tf.int32)


def pack_one_segment(ids, sequence_length: int, start_value, end_value, pad_value):
    """`[start] ids [end] [pad]...`: what `segment_packer` makes of one segment, in a few ops.

    `ids` is `[batch, (tokens)]`, cut to `sequence_length - 2`; returns a
    `[batch, sequence_length]` tensor of its dtype. keras-hub's
    `MultiSegmentPacker` builds about a thousand graph ops a call (ragged
    concatenations and a trimmer fit for any number of segments), and every
    trace and every `tf.data` iterator pays for each op; one segment needs a
    pad and two writes.
    """
    body = int(sequence_length) - 2
    ids = ids[:, :body]
    packed = tf.pad(ids.to_tensor(default_value=tf.cast(pad_value, ids.dtype), shape=[None, body]),
                    [[0, 0], [1, 1]], constant_values=tf.cast(pad_value, ids.dtype))
    positions = tf.range(body + 2, dtype=tf.int64)[None, :]
    packed = tf.where(positions == 0, tf.cast(start_value, ids.dtype), packed)
    return tf.where(positions == ids.row_lengths()[:, None] + 1, tf.cast(end_value, ids.dtype),
                    packed)


def word_pieces(tokenizer, words):
    """Token ids per word of a flat string tensor: `[num_words, (pieces)]`.

    A word the tokenizer turns into nothing (a lone control character, say)
    becomes one `[UNK]`, so every word keeps a first piece to carry its tag.
    Must run in a graph (keras-hub tokenizers return lists eagerly).
    """
    pieces = tokenizer(words)
    starts, lengths = pieces.row_starts(), pieces.row_lengths()
    # Gathered from the pieces with one [UNK] after them: a word's own, or that [UNK]. (A
    # ragged concatenation and mask did the same in some 800 graph ops; this takes 30.)
    values = tf.concat([pieces.flat_values, [tokenizer.token_to_id(UNK)]], axis=0)
    first = tf.where(lengths > 0, starts, tf.size(pieces.flat_values, out_type=starts.dtype))
    return tf.gather(values, tf.ragged.range(first, first + tf.maximum(lengths, 1)))
