import keras_hub
import pytest
import tensorflow as tf

from electra_tf import tokenization


def tokenize(tokenizer, texts):
    # In the graph (as training and export use it), keras-hub tokenizers return tensors.
    return tf.function(lambda x: tokenizer(x).to_tensor())(tf.constant(texts)).numpy().tolist()


@pytest.fixture(scope="module")
def vocabulary():
    corpus = ["今天天气很好。", "明天天气也很好！", "the weather is nice today", "nice weather"] * 5
    return tokenization.build_vocabulary(corpus, vocab_size=200)


def test_special_tokens_first(vocabulary):
    assert vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert not any(t.startswith("##") and len(t) == 3 and "\u4e00" <= t[2] <= "\u9fff" for t in vocabulary)


def test_every_chinese_character_is_a_token(vocabulary):
    tokenizer = tokenization.make_tokenizer(vocabulary)
    [ids] = tokenize(tokenizer, ["今天天气"])
    assert [vocabulary[i] for i in ids] == ["今", "天", "天", "气"]


def test_unknown_characters_become_unk(vocabulary):
    tokenizer = tokenization.make_tokenizer(vocabulary)
    [ids] = tokenize(tokenizer, ["鬼天气"])
    assert ids[0] == vocabulary.index("[UNK]") and [vocabulary[i] for i in ids[1:]] == ["天", "气"]
    assert tokenization.oov_rate(tokenizer, ["鬼天气"]) == pytest.approx(1 / 3)
    assert tokenization.oov_rate(tokenizer, ["天气"]) == 0.0


def test_lowercasing_is_an_option(vocabulary):
    lower = tokenization.make_tokenizer(vocabulary, lowercase=True)
    cased = tokenization.make_tokenizer(vocabulary, lowercase=False)
    unk = vocabulary.index("[UNK]")
    assert unk not in tokenize(lower, ["NICE"])[0]
    assert unk in tokenize(cased, ["NICE"])[0]


def test_vocabulary_round_trip_and_errors(tmp_path, vocabulary):
    tokenization.save_vocabulary(vocabulary, tmp_path)
    assert tokenization.load_vocabulary(tmp_path) == vocabulary
    with pytest.raises(FileNotFoundError, match="--vocab_file"):
        tokenization.load_vocabulary(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match="special token"):
        tokenization.make_tokenizer(tmp_path / "bad.txt")
    with pytest.raises(ValueError, match="at least 6"):
        tokenization.build_vocabulary(["x"], vocab_size=3)


def test_whitespace_the_pre_tokenizer_keeps_never_becomes_a_token(tmp_path):
    # An ideographic space (U+3000) between Chinese characters became the
    # token " " under NFKC, which vocab.txt cannot hold: reloading lost it and
    # every later id shifted, so the model directory no longer loaded.
    texts = ["今天\u3000天气很好", "明天\u3000也很好", "好\u00a0的 ok\tyes"] * 5
    vocabulary = tokenization.build_vocabulary(texts, 60)
    assert all(t.strip() == t and t for t in vocabulary)
    tokenization.save_vocabulary(vocabulary, tmp_path)
    assert tokenization.load_vocabulary(tmp_path) == vocabulary


def test_one_cjk_definition_is_the_tokenizers():
    """`CJK_RANGES` are exactly the characters keras-hub's tokenizer splits apart."""
    import re

    from keras_hub.src.tokenizers.word_piece_tokenizer import PY_CJK_REGEX

    ours = re.compile(f"[{tokenization.cjk_ranges()}]")
    keras_hubs = re.compile(PY_CJK_REGEX)
    for code in range(0x30000):
        character = chr(code)
        assert bool(ours.fullmatch(character)) == bool(keras_hubs.fullmatch(character)), hex(code)
    re2 = f"[{tokenization.cjk_ranges(re2=True)}]"
    sample = tf.constant(["\u4e00", "\u3400", "\U00020000", "\uf900", "a", "\u3001", "\u4dc0"])
    assert tf.strings.regex_full_match(sample, re2).numpy().tolist() == [
        True, True, True, True, False, False, False]
    punctuation = f"[{tokenization.cjk_ranges(re2=True, punctuation=True)}]"
    assert tf.strings.regex_full_match(sample, punctuation).numpy().tolist() == [
        True, True, True, True, False, True, False]


def test_a_long_sentence_is_text_not_a_file_name():
    sentence = "这本书紧接《春秋大义》，作者以浅显的语言告诉我们古代的智力英雄们如何解读春秋。" * 5
    vocabulary = tokenization.build_vocabulary([sentence, "短句"], 60)  # raised OSError before
    assert "春" in vocabulary and "短" in vocabulary


def test_one_segment_packs_in_a_few_ops_as_keras_hubs_packer_packs_it(vocabulary):
    ours = tokenization.segment_packer(tokenization.make_tokenizer(vocabulary), 6)
    keras_hubs = keras_hub.layers.MultiSegmentPacker(
        6, ours.start_value, ours.end_value, pad_value=ours.pad_value, truncate="waterfall")
    ids = tf.ragged.constant([[], [7], [7, 8, 9, 10], [7, 8, 9, 10, 11, 12]], dtype=tf.int32)
    pair = (ids, tf.ragged.constant([[5], [5, 6], [], [5]], dtype=tf.int32))
    for inputs in (ids, (ids,), pair):
        # In a graph, as tf.data and the models run it.
        packed, expected = tf.function(ours)(inputs), tf.function(keras_hubs)(inputs)
        for value, reference in zip(packed, expected, strict=True):
            assert value.dtype == reference.dtype and value.shape[1:] == reference.shape[1:]
            assert value.numpy().tolist() == reference.numpy().tolist()
    assert tf.function(ours)(ids)[0].numpy().tolist() == [
        [2, 3, 0, 0, 0, 0], [2, 7, 3, 0, 0, 0], [2, 7, 8, 9, 10, 3], [2, 7, 8, 9, 10, 3]]
    spec = tf.RaggedTensorSpec([None, None], tf.int32)
    operations = {packer: len(tf.function(packer).get_concrete_function(spec).graph.get_operations())
                  for packer in (ours, keras_hubs)}
    assert operations[ours] < 100 < 500 < operations[keras_hubs]
