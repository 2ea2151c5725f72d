r"""Text files -> packed ELECTRA pre-training examples, entirely in tf.data.

The packing reproduces the original ELECTRA `ExampleBuilder`
(google-research/electra, `build_pretraining_dataset.py`): sentences of one
document are accumulated until they reach the target length (the sequence
length, or with probability `short_seq_prob` a random length in
[5, sequence_length]); the example is then `[CLS] A [SEP]` (probability
`single_segment_prob`) or `[CLS] A [SEP] B [SEP]` with A/B split at a sentence
boundary. It runs as a `tf.data.Dataset.scan` over tokenized lines, so
nothing leaves the graph and a corpus of any size streams from disk.

Input format: UTF-8 text, one sentence per line, a blank line (or the end of a
file) ends a document. Each file is packed on its own, so an example never
mixes text of two files. Defined behaviours:

* Invalid UTF-8 bytes are replaced by U+FFFD, which the WordPiece tokenizer
  turns into `[UNK]`; a bad byte never stops a long pre-training run.
  `check_text_files` counts such lines beforehand so a script can log them.
* A line with more than `sequence_length - 2` tokens is not truncated away: the
  pending example is closed, the line is cut into chunks of
  `sequence_length - 2` tokens, each full chunk becomes its own single-segment
  example and the remainder starts the next example like a normal sentence.
* As in the original, when the last accumulated sentence overshoots the
  example, its tail is dropped (only whole long lines are protected).

Files named `*.tfrecord`, `*.tfrecords` or `*.tfrecord-*` are instead read as
already packed `tf.train.Example`s with int64 `input_ids`, `input_mask` and
`segment_ids` (the original ELECTRA format, written by
`write_pretraining_tfrecords`), so a corpus can be preprocessed once.

Example:
```python
import pathlib, tempfile
from electra_tf import tokenization
from electra_tf.data import pretraining

corpus = pathlib.Path(tempfile.mkdtemp()) / "corpus.txt"
corpus.write_text("今天天气很好。\n我们去公园。\n\nthe weather is nice.\n", encoding="utf-8")
vocab = tokenization.build_vocabulary([str(corpus)], 100)
tokenizer = tokenization.make_tokenizer(vocab)
pretraining.check_text_files(str(corpus))
# -> {'files': 1, 'lines': 4, 'invalid_utf8_lines': 0}
ds = pretraining.pretraining_dataset(
    str(corpus), tokenizer, sequence_length=16, batch_size=2, seed=0
)
batch = next(iter(ds))
{name: (tensor.dtype.name, tensor.shape) for name, tensor in batch.items()}
# -> {'token_ids': ('int32', (2, 16)), 'segment_ids': ('int32', (2, 16)),
#     'padding_mask': ('int32', (2, 16))}
```
"""

import os

import numpy as np
import tensorflow as tf

# Piece kinds fed to the packer. A BREAK closes the pending example (blank line,
# end of file, or just before a long line); a FORCED piece is a full chunk of a
# long line and becomes an example on its own.
_BREAK, _NORMAL, _FORCED = 0, 1, 2
# The original draws short target lengths from randint(5, max_length).
_MIN_TARGET_LENGTH = 5
# Tokenizing many lines per call amortises the per-op overhead of TF Text.
_LINES_PER_TOKENIZER_CALL = 256
_RECORDS_PER_PARSE = 256
_MAX_CYCLE_LENGTH = 8
_FEATURES = ("input_ids", "input_mask", "segment_ids")
# The graph functions below have no tensor-dependent Python control flow;
# skipping AutoGraph conversion (of them and the tokenizer) saves seconds of
# tracing per pipeline.
_plain = tf.autograph.experimental.do_not_convert


# --------------------------------------------------------------------- files
def _pattern_list(file_patterns) -> list[str]:
    if isinstance(file_patterns, (str, os.PathLike)):
        patterns = str(file_patterns).split(",")
    else:
        patterns = [str(p) for p in file_patterns]
    patterns = [p.strip() for p in patterns if p.strip()]
    if not patterns:
        raise ValueError(
            "no input files given: pass a path, a glob such as 'corpus/*.txt' or a list of them."
        )
    return patterns


def expand_file_patterns(file_patterns) -> list[str]:
    """Paths matched by `file_patterns` (str, comma-separated str or list), in order.

    Raises FileNotFoundError naming the first pattern that matches no file.
    """
    files, seen = [], set()
    for pattern in _pattern_list(file_patterns):
        matches = [m for m in sorted(tf.io.gfile.glob(pattern)) if not tf.io.gfile.isdir(m)]
        if not matches:
            raise FileNotFoundError(
                f"input pattern {pattern!r} matches no file. Check the path (globs such as "
                "'corpus/*.txt' work, several patterns can be comma-separated) or create the "
                "corpus first, e.g. with electra_tf.data.corpora.write_default_pretraining_corpus."
            )
        files.extend(m for m in matches if m not in seen)
        seen.update(matches)
    return files


def is_tfrecord_file(path) -> bool:
    name = os.path.basename(str(path))
    return name.endswith((".tfrecord", ".tfrecords")) or ".tfrecord-" in name


def check_text_files(file_patterns) -> dict:
    """Pre-flight check of text corpora, cheap enough to run before every training.

    Every file must exist, be readable and hold some non-whitespace text;
    TFRecord shards among the patterns are skipped. Files are streamed, never
    loaded whole. Returns `{"files", "lines", "invalid_utf8_lines"}`; invalid
    lines are not an error because the pipeline repairs them (U+FFFD -> [UNK]),
    but a script should log the count.

    >>> check_text_files("corpus/*.txt")  # doctest: +SKIP
    {'files': 3, 'lines': 120000, 'invalid_utf8_lines': 0}
    """
    files = [f for f in expand_file_patterns(file_patterns) if not is_tfrecord_file(f)]
    lines = invalid = 0
    for path in files:
        has_text = False
        try:
            with tf.io.gfile.GFile(path, "rb") as handle:
                for line in handle:
                    lines += 1
                    if not has_text and line.strip():
                        has_text = True
                    try:
                        line.decode("utf-8")
                    except UnicodeDecodeError:
                        invalid += 1
        except (OSError, tf.errors.OpError) as error:
            raise OSError(f"cannot read input file {path}: {error}") from None
        if not has_text:
            raise ValueError(
                f"input file {path} is empty (no text, only whitespace): remove it from the "
                "input patterns or add text (one sentence per line, blank line between documents)."
            )
    return {"files": len(files), "lines": lines, "invalid_utf8_lines": invalid}


# ------------------------------------------------------------------ packing
class _Packer:
    """Graph functions that turn one text file into packed examples."""

    def __init__(self, tokenizer, sequence_length, short_seq_prob, single_segment_prob,
                 whole_word):
        self.tokenizer = tokenizer
        self.length = int(sequence_length)
        self.short_seq_prob = float(short_seq_prob)
        self.single_segment_prob = float(single_segment_prob)
        self.whole_word = bool(whole_word)
        self.cls_id = tokenizer.token_to_id("[CLS]")
        self.sep_id = tokenizer.token_to_id("[SEP]")
        self.pad_id = tokenizer.token_to_id("[PAD]")
        # The largest piece a single-segment example holds: [CLS] piece [SEP].
        self.chunk = self.length - 2
        self.keys = ("token_ids", "segment_ids", "padding_mask") + (
            ("word_ids",) if self.whole_word else ()
        )

    # -- lines -> pieces ------------------------------------------------
    def pieces(self, lines):
        """A batch of raw lines -> ragged token pieces with their kind."""
        lines = tf.strings.unicode_transcode(
            lines, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        lines = tf.strings.strip(lines)
        blank = tf.equal(lines, "")
        if self.whole_word:
            words = tf.strings.split(lines)
            word_tokens = self.tokenizer(words.flat_values)
            tokens_per_word = tf.cast(word_tokens.row_lengths(), tf.int32)
            flat_ids = tf.cast(word_tokens.flat_values, tf.int32)
            line_lengths = tf.reduce_sum(
                tf.RaggedTensor.from_row_lengths(tokens_per_word, words.row_lengths()), axis=1
            )
            word_rows = words.value_rowids()
            word_in_line = tf.cast(
                tf.range(tf.size(word_rows, out_type=tf.int64))
                - tf.gather(words.row_starts(), word_rows),
                tf.int32,
            )
            flat_words = tf.repeat(word_in_line, tokens_per_word)
        else:
            ids = self.tokenizer(lines)
            flat_ids = tf.cast(ids.flat_values, tf.int32)
            line_lengths = tf.cast(ids.row_lengths(), tf.int32)

        long = line_lengths > self.chunk
        full = line_lengths // self.chunk
        remainder = line_lengths % self.chunk
        num_pieces = tf.where(long, 1 + full + tf.cast(remainder > 0, tf.int32), 1)
        index = tf.ragged.range(num_pieces)
        row = index.value_rowids()
        j = index.flat_values
        n, is_long = tf.gather(line_lengths, row), tf.gather(long, row)
        n_full, n_rem = tf.gather(full, row), tf.gather(remainder, row)
        piece_lengths = tf.where(
            is_long, tf.where(j == 0, 0, tf.where(j <= n_full, self.chunk, n_rem)), n
        )
        kinds = tf.where(
            is_long,
            tf.where(j == 0, _BREAK, tf.where(j <= n_full, _FORCED, _NORMAL)),
            tf.where(tf.gather(blank, row), _BREAK, _NORMAL),
        )
        out = {
            "tokens": tf.RaggedTensor.from_row_lengths(flat_ids, piece_lengths),
            "kind": kinds,
        }
        if self.whole_word:
            out["words"] = tf.RaggedTensor.from_row_lengths(flat_words, piece_lengths)
        return out

    # -- pieces -> examples (scan) --------------------------------------
    def initial_state(self, seed):
        state = {
            "tokens": tf.zeros([0], tf.int32),
            "sentence_lengths": tf.zeros([0], tf.int32),
            "target": tf.constant(self.length, tf.int32),
            # A counter-based stateless seed keeps every draw reproducible.
            "seed": tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)]),
        }
        if self.whole_word:
            state["words"] = tf.zeros([0], tf.int32)
            state["num_words"] = tf.constant(0, tf.int32)
        return state

    def step(self, state, piece):
        new_tokens = piece["tokens"]
        n = tf.size(new_tokens)
        tokens = tf.concat([state["tokens"], new_tokens], 0)
        # Zero-length pieces (breaks) add no sentence: fill([0], n) is empty.
        sentence_lengths = tf.concat(
            [state["sentence_lengths"], tf.fill([tf.cast(n > 0, tf.int32)], n)], 0
        )
        words = num_words = None
        if self.whole_word:
            # Shift so that ids keep increasing across sentences (chunks of a
            # long line may not start at word 0).
            first = tf.reduce_min(tf.concat([piece["words"], [2**30]], 0))
            shifted = piece["words"] - first + state["num_words"]
            words = tf.concat([state["words"], shifted], 0)
            num_words = tf.reduce_max(tf.concat([shifted + 1, [state["num_words"]]], 0))

        total = tf.size(tokens)
        emit = (total > 0) & ((piece["kind"] != _NORMAL) | (total >= state["target"]))

        # Only finishing an example costs more than a few ops; the scan emits
        # a [0 or 1, length] block that `unbatch` flattens without calling a
        # function per element (a filter would).
        def finish():
            u = tf.random.stateless_uniform([4], seed=state["seed"])
            example = self.make_example(tokens, words, sentence_lengths, state["target"], u)
            # The next target is drawn when an example is finished, as originally.
            short = _MIN_TARGET_LENGTH + tf.cast(
                tf.floor(u[3] * (self.length - _MIN_TARGET_LENGTH + 1)), tf.int32
            )
            new_state = {
                "tokens": tf.zeros([0], tf.int32),
                "sentence_lengths": tf.zeros([0], tf.int32),
                "target": tf.where(u[2] < self.short_seq_prob, short, self.length),
                "seed": state["seed"] + tf.constant([0, 1], tf.int64),
            }
            if self.whole_word:
                new_state["words"] = tf.zeros([0], tf.int32)
                new_state["num_words"] = tf.constant(0, tf.int32)
            return new_state, {k: v[tf.newaxis] for k, v in example.items()}

        def accumulate():
            new_state = dict(state, tokens=tokens, sentence_lengths=sentence_lengths)
            if self.whole_word:
                new_state.update(words=words, num_words=num_words)
            return new_state, {k: tf.zeros([0, self.length], tf.int32) for k in self.keys}

        return tf.cond(emit, finish, accumulate)

    def make_example(self, tokens, words, sentence_lengths, target, u):
        length = self.length
        single = u[0] < self.single_segment_prob
        first_target = tf.where(single, tf.int32.max, (target - 3) // 2)
        ends = tf.cumsum(sentence_lengths)
        num_sentences = tf.size(sentence_lengths)
        # Contiguous split: the leading sentences that fit go to A (at least
        # one); the first one that does not fit joins A on a coin flip if A is
        # still short; everything after goes to B. The original may also put a
        # later short sentence into A out of order; we keep sentence order.
        k = tf.maximum(tf.reduce_sum(tf.cast(ends < first_target, tf.int32)), 1)
        take_next = (k < num_sentences) & (ends[k - 1] < first_target) & (u[1] < 0.5)
        k += tf.cast(take_next, tf.int32)
        split = ends[k - 1]
        a_len = tf.minimum(split, length - 2)
        b_len = tf.minimum(tf.size(tokens) - split, tf.maximum(0, length - a_len - 3))
        has_b = tf.cast(b_len > 0, tf.int32)

        ids = tf.concat(
            [[self.cls_id], tokens[:a_len], [self.sep_id], tokens[split:split + b_len],
             tf.fill([has_b], self.sep_id)], 0
        )
        real = tf.size(ids)
        padding = [[0, length - real]]
        example = {
            "token_ids": tf.pad(ids, padding, constant_values=self.pad_id),
            "segment_ids": tf.pad(
                tf.concat([tf.zeros([a_len + 2], tf.int32), tf.ones([b_len + has_b], tf.int32)], 0),
                padding,
            ),
            "padding_mask": tf.cast(tf.range(length) < real, tf.int32),
        }
        if self.whole_word:
            kept = tf.concat([words[:a_len], words[split:split + b_len]], 0)
            # Renumber densely: trimming A can leave gaps in the ids.
            new_word = tf.concat(
                [tf.ones_like(kept[:1]), tf.cast(kept[1:] != kept[:-1], tf.int32)], 0
            )
            dense = tf.cumsum(new_word) - 1
            word_ids = tf.concat(
                [[-1], dense[:a_len], [-1], dense[a_len:], tf.fill([has_b], -1)], 0
            )
            example["word_ids"] = tf.pad(word_ids, padding, constant_values=-1)
        for value in example.values():
            value.set_shape([length])
        return example

    def file_examples(self, path, seed):
        """All packed examples of one text file, in order."""
        # A final BREAK flushes the sentences left at the end of the file.
        empty = tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.int32), tf.zeros([1], tf.int32))
        end_of_file = {"tokens": empty, "kind": tf.constant([_BREAK], tf.int32)}
        if self.whole_word:
            end_of_file["words"] = empty
        pieces = (
            tf.data.TextLineDataset(path)
            .batch(_LINES_PER_TOKENIZER_CALL)
            .map(_plain(self.pieces))
            .concatenate(tf.data.Dataset.from_tensors(end_of_file))
            .unbatch()
        )
        return (
            pieces.scan(self.initial_state(seed), _plain(self.step)).unbatch()
        )


# ------------------------------------------------------------------ records
def _parse_records(serialized, sequence_length):
    spec = {name: tf.io.RaggedFeature(tf.int64) for name in _FEATURES}
    parsed = tf.io.parse_example(serialized, spec)
    out = {}
    for key, name in (("token_ids", "input_ids"), ("segment_ids", "segment_ids"),
                      ("padding_mask", "input_mask")):
        lengths = parsed[name].row_lengths()
        check = tf.debugging.assert_equal(
            lengths,
            tf.cast(tf.fill(tf.shape(lengths), sequence_length), lengths.dtype),
            message=(
                f"TFRecord feature '{name}' must have exactly sequence_length={sequence_length} "
                "values (the length the shards were written with); pass that sequence_length "
                "or rewrite the shards with write_pretraining_tfrecords. Lengths found:"
            ),
            summarize=8,
        )
        with tf.control_dependencies([check]):
            values = tf.cast(parsed[name].flat_values, tf.int32)
        out[key] = tf.reshape(values, [-1, sequence_length])
    return out


def _validate(sequence_length, short_seq_prob, single_segment_prob):
    if not isinstance(sequence_length, (int, np.integer)) or sequence_length < _MIN_TARGET_LENGTH:
        raise ValueError(
            f"sequence_length must be an integer >= {_MIN_TARGET_LENGTH}, got {sequence_length!r}."
        )
    for name, value in (("short_seq_prob", short_seq_prob),
                        ("single_segment_prob", single_segment_prob)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}.")


def _seeds(seed):
    # rerandomize: each epoch packs the files differently, still reproducibly.
    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)


def packed_examples(file_patterns, tokenizer=None, *, sequence_length, seed=None,
                    short_seq_prob=0.05, single_segment_prob=0.1, whole_word=False,
                    shuffle_files=True) -> tf.data.Dataset:
    """Unbatched, unshuffled packed examples (one epoch) of text files or TFRecord shards.

    Each element is a dict of int32 `[sequence_length]` tensors `token_ids`,
    `segment_ids`, `padding_mask` (and `word_ids` when `whole_word`).
    `pretraining_dataset` shuffles, repeats and batches this; it is exposed for
    inspection and for `write_pretraining_tfrecords`.
    """
    _validate(sequence_length, short_seq_prob, single_segment_prob)
    files = expand_file_patterns(file_patterns)
    records = [is_tfrecord_file(f) for f in files]
    if any(records) and not all(records):
        raise ValueError(
            "the inputs mix TFRecord shards and text files; preprocess the text with "
            "write_pretraining_tfrecords or give only one kind of input."
        )
    cycle_length = min(len(files), _MAX_CYCLE_LENGTH)
    names = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files and len(files) > 1:
        names = names.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

    if all(records):
        if whole_word:
            raise ValueError(
                "whole_word=True needs text input: TFRecord shards carry no word boundaries. "
                "Pass the text files instead."
            )
        return (
            names.interleave(
                tf.data.TFRecordDataset, cycle_length=cycle_length,
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
            )
            .batch(_RECORDS_PER_PARSE)
            .map(_plain(lambda s: _parse_records(s, sequence_length)))
            .unbatch()
        )

    if tokenizer is None:
        raise ValueError("text input needs a tokenizer (electra_tf.tokenization.make_tokenizer).")
    packer = _Packer(tokenizer, sequence_length, short_seq_prob, single_segment_prob, whole_word)
    return tf.data.Dataset.zip(names, _seeds(seed)).interleave(
        _plain(packer.file_examples), cycle_length=cycle_length,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    )


def pretraining_dataset(file_patterns, tokenizer, *, sequence_length, batch_size, seed=None,
                        shuffle_buffer=10_000, repeat=True, short_seq_prob=0.05,
                        single_segment_prob=0.1, whole_word=False,
                        drop_remainder=True) -> tf.data.Dataset:
    """Batches of packed ELECTRA pre-training examples from text files or TFRecord shards.

    Elements are dicts of int32 `[batch_size, sequence_length]` tensors:
    `token_ids` (`[CLS] A [SEP] B [SEP]`, padded with `[PAD]`), `segment_ids`
    (0 for `[CLS] A [SEP]`, 1 for `B [SEP]`), `padding_mask` (1 = real token)
    and, with `whole_word=True`, `word_ids` (0-based index of the
    whitespace-separated word each token came from, -1 for specials/padding;
    Chinese needs pre-segmented text). Given `seed` the stream is reproducible.
    `shuffle_buffer=0` disables shuffling of examples.

    ```python
    import pathlib
    from electra_tf import tokenization

    pathlib.Path("corpus.txt").write_text("今天天气很好。\\n我们去公园。\\n", encoding="utf-8")
    tokenizer = tokenization.make_tokenizer(tokenization.build_vocabulary(["corpus.txt"], 50))
    ds = pretraining_dataset("corpus*.txt", tokenizer, sequence_length=16, batch_size=2, seed=0)
    example = next(iter(ds))["token_ids"][0]  # [CLS] A [SEP] B [SEP] (padded when shorter)
    [tokenizer.id_to_token(i) for i in example.numpy().tolist()]
    # -> ['[CLS]', '今', '天', '天', '气', '很', '好', '。', '[SEP]', '我', '们', '去', '公', '园', '。',
    #     '[SEP]']
    ```
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    ds = packed_examples(
        file_patterns, tokenizer, sequence_length=sequence_length, seed=seed,
        short_seq_prob=short_seq_prob, single_segment_prob=single_segment_prob,
        whole_word=whole_word,
    )
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------------------------ writing
def _int64_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def write_pretraining_tfrecords(dataset_or_files, tokenizer, output_dir, *, sequence_length,
                                num_shards=1, seed=None, short_seq_prob=0.05,
                                single_segment_prob=0.1, prefix="pretrain"):
    """Packs a corpus once and writes it as TFRecord shards in ELECTRA's format.

    `dataset_or_files` is file patterns (packed here with `tokenizer`) or a
    dataset of examples as produced by `packed_examples` (batched ones are
    unbatched). Examples are dealt round-robin to `num_shards` files named
    `{prefix}-00000-of-0000N.tfrecord` in `output_dir`, readable by
    `pretraining_dataset`. Returns `(paths, number_of_examples)`.

    ```python
    import pathlib
    from electra_tf import tokenization

    pathlib.Path("corpus.txt").write_text("今天天气很好。\\n我们去公园。\\n", encoding="utf-8")
    tokenizer = tokenization.make_tokenizer(tokenization.build_vocabulary(["corpus.txt"], 50))
    paths, n = write_pretraining_tfrecords("corpus.txt", tokenizer, "shards",
                                           sequence_length=16, num_shards=2, seed=0)
    [pathlib.Path(path).name for path in paths], n  # both lines pack into one example
    # -> (['pretrain-00000-of-00002.tfrecord', 'pretrain-00001-of-00002.tfrecord'], 1)
    ds = pretraining_dataset(paths, None, sequence_length=16, batch_size=2)
    next(iter(ds))["token_ids"].shape  # -> (2, 16)
    ```
    """
    if not isinstance(num_shards, (int, np.integer)) or num_shards < 1:
        raise ValueError(f"num_shards must be a positive integer, got {num_shards!r}.")
    if isinstance(dataset_or_files, tf.data.Dataset):
        dataset = dataset_or_files
        if dataset.element_spec["token_ids"].shape.rank == 2:
            dataset = dataset.unbatch()
        if dataset.element_spec["token_ids"].shape[-1] != sequence_length:
            raise ValueError(
                f"the dataset's examples have length {dataset.element_spec['token_ids'].shape[-1]}"
                f", not sequence_length={sequence_length}."
            )
    else:
        dataset = packed_examples(
            dataset_or_files, tokenizer, sequence_length=sequence_length, seed=seed,
            short_seq_prob=short_seq_prob, single_segment_prob=single_segment_prob,
        )
    tf.io.gfile.makedirs(str(output_dir))
    paths = [
        os.path.join(str(output_dir), f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord")
        for i in range(num_shards)
    ]
    writers = [tf.io.TFRecordWriter(p) for p in paths]
    count = 0
    try:
        for batch in dataset.batch(1024).as_numpy_iterator():
            for ids, mask, segments in zip(
                batch["token_ids"], batch["padding_mask"], batch["segment_ids"]
            ):
                example = tf.train.Example(features=tf.train.Features(feature={
                    "input_ids": _int64_feature(ids),
                    "input_mask": _int64_feature(mask),
                    "segment_ids": _int64_feature(segments),
                }))
                writers[count % num_shards].write(example.SerializeToString())
                count += 1
    finally:
        for writer in writers:
            writer.close()
    return paths, count

