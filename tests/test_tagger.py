import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval import metrics as seqeval_metrics
from seqeval.metrics.sequence_labeling import get_entities

from electra_tf import ElectraConfig, tokenization
from electra_tf.data.tasks import DataFormatError
from electra_tf.data.tagging import entities_from_tags, entity_spans, split_words, word_windows
from electra_tf.models.metrics import EntityF1
from electra_tf.models.tagging.tagger import ElectraTagger

CONFIG = ElectraConfig.from_preset("tiny")
ENGLISH = list(tokenization.SPECIAL_TOKENS) + ["john", "paris", "lives", "in", "##s", "x", "jo", "##hn"]
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
PEOPLE, PLACES, FILLER = ["张三", "李四", "王小明"], ["北京", "上海", "广州市"], list("的了在是和有去看说")
CHINESE = list(tokenization.SPECIAL_TOKENS) + sorted(set("".join(PEOPLE + PLACES + FILLER)))


def make_tagger(vocab=ENGLISH, sequence_length=12, **kwargs):
    kwargs.setdefault("tag_names", TAGS)
    return ElectraTagger.from_scratch(CONFIG, vocab, sequence_length=sequence_length, **kwargs)


def chinese_sentences(num, seed):
    """Character-level sentences: filler with one person and one place dropped in."""
    rng = np.random.default_rng(seed)
    sentences, tags = [], []
    for _ in range(num):
        chars, labels = [], []
        for kind, names in (("PER", PEOPLE), ("LOC", PLACES)):
            filler = list(rng.choice(FILLER, size=rng.integers(1, 4)))
            name = names[rng.integers(len(names))]
            chars += filler + list(name)
            labels += ["O"] * len(filler) + [f"B-{kind}"] + [f"I-{kind}"] * (len(name) - 1)
        sentences.append(chars)
        tags.append(labels)
    return sentences, tags


def test_word_tags_go_to_the_first_word_piece():
    preprocessor = make_tagger().preprocessor
    words = tf.ragged.constant([["John", "lives", "in", "Paris"], ["x", "johns", "\x07"]])
    x, y, weights = preprocessor(words, tf.ragged.constant([[1, 0, 0, 3], [0, 1, 0]]))
    ids = {t: i for i, t in enumerate(ENGLISH)}
    np.testing.assert_array_equal(
        x["token_ids"][1][:6],
        [ids["[CLS]"], ids["x"], ids["john"], ids["##s"], ids["[UNK]"], ids["[SEP]"]],
    )
    np.testing.assert_array_equal(y[0][:6], [0, 1, 0, 0, 3, 0])
    np.testing.assert_array_equal(weights[0][:6], [0, 1, 1, 1, 1, 0])
    # "johns" -> john ##s: the tag sits on "john", "##s" is ignored; the
    # control character the tokenizer drops still gets a ([UNK]) token.
    np.testing.assert_array_equal(weights[1][:6], [0, 1, 1, 0, 1, 0])
    assert y[1][2] == 1
    assert int(tf.reduce_sum(weights)) == 7  # one weight per word


def test_entity_reading_and_metric_equal_seqeval():
    rng = np.random.default_rng(0)
    bioes = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    for tag_set in (TAGS, bioes):
        for _ in range(200):
            sequence = [tag_set[i] for i in rng.integers(len(tag_set), size=rng.integers(1, 12))]
            assert entities_from_tags(sequence) == get_entities(sequence), sequence
    metric = EntityF1(TAGS)
    gold, predicted = [], []
    for _ in range(3):  # several batches accumulate
        y_true = rng.integers(len(TAGS), size=(8, 10))
        logits = rng.normal(size=(8, 10, len(TAGS))).astype("float32")
        logits[..., 0] += 1.0
        weights = (rng.random((8, 10)) < 0.7).astype("float32")  # sub-tokens and padding at 0
        metric.update_state(y_true, logits, sample_weight=weights)
        for t, p, w in zip(y_true, logits.argmax(-1), weights > 0):
            gold.append([TAGS[i] for i in t[w]])
            predicted.append([TAGS[i] for i in p[w]])
    result = {k: float(v) for k, v in metric.result().items()}
    assert result["entity_precision"] == pytest.approx(seqeval_metrics.precision_score(gold, predicted))
    assert result["entity_recall"] == pytest.approx(seqeval_metrics.recall_score(gold, predicted))
    assert result["entity_f1"] == pytest.approx(seqeval_metrics.f1_score(gold, predicted))
    assert 0 < result["entity_f1"] < 1


def test_spans_round_trip_to_the_original_text():
    text = "  John Smith moved to New-York City，见到张三。"
    words, offsets = split_words(text)
    assert [text[a:b] for a, b in offsets] == words
    assert words[-5:] == ["，", "见", "到", "张", "三"] or words[-6:-1] == ["，", "见", "到", "张", "三"]
    tags = ["O"] * len(words)
    tags[0:2] = ["B-PER", "I-PER"]
    new, city = words.index("New"), words.index("City")
    tags[new:city + 1] = ["B-LOC"] + ["I-LOC"] * (city - new)
    zhang = words.index("张")
    tags[zhang:zhang + 2] = ["B-PER", "I-PER"]
    spans = entity_spans(text, offsets, tags)
    assert [(s["type"], s["text"]) for s in spans] == [
        ("PER", "John Smith"), ("LOC", "New-York City"), ("PER", "张三")
    ]
    assert all(text[s["start"]:s["end"]] == s["text"] for s in spans)


def test_long_sentences_are_windowed_so_every_word_is_tagged():
    tagger = make_tagger()  # 10 word pieces per window
    sentence = ["johns", "x"] * 9  # 27 pieces
    windows = tagger.windows([sentence, ["x"]])
    assert [w for w, i, _ in windows if i == 0] == [sentence[0:6], sentence[6:12], sentence[12:18]]
    assert windows[-1] == (["x"], 1, 0)
    predicted = tagger.predict_tags([sentence, ["x"]])
    assert [len(p) for p in predicted] == [18, 1]
    assert set(predicted[0]) <= set(TAGS)


def test_learns_chinese_character_ner_and_tags_raw_text():
    keras.utils.set_random_seed(0)
    tagger = make_tagger(vocab=CHINESE, sequence_length=16)
    tagger.compile(optimizer=keras.optimizers.Adam(3e-3))
    sentences, tags = chinese_sentences(256, seed=0)
    tagger.fit(tagger.dataset(sentences, tags, batch_size=16, shuffle_seed=0), epochs=3, verbose=0)
    dev_sentences, dev_tags = chinese_sentences(48, seed=1)
    results = tagger.evaluate(tagger.dataset(dev_sentences, dev_tags), verbose=0, return_dict=True)
    assert results["entity_f1"] > 0.8  # an all-"O" tagger scores 0
    predicted = tagger.predict_tags(dev_sentences)
    assert seqeval_metrics.f1_score(dev_tags, predicted) == pytest.approx(results["entity_f1"], abs=1e-6)
    spans = tagger.tag(["的张三在北京", "王小明去了上海"])
    assert [[(s["type"], s["text"], s["start"]) for s in row] for row in spans] == [
        [("PER", "张三", 1), ("LOC", "北京", 4)], [("PER", "王小明", 0), ("LOC", "上海", 5)]
    ]


def test_save_load_same_predictions(tmp_path):
    tagger = make_tagger()
    tagger.save_to_preset(str(tmp_path))
    loaded = ElectraTagger.from_preset(str(tmp_path))
    assert loaded.tag_names == TAGS and loaded.preprocessor.sequence_length == 12
    words = tf.ragged.constant([["John", "lives", "in", "Paris"]])
    np.testing.assert_allclose(loaded(loaded.preprocessor(words)), tagger(tagger.preprocessor(words)), atol=1e-5)


def test_bad_tags_are_reported():
    with pytest.raises(ValueError, match="not BIO/BIOES"):
        make_tagger(tag_names=["O", "PER"])
    with pytest.raises(ValueError, match="must hold 'O'"):
        make_tagger(tag_names=["B-PER", "I-PER"])
    with pytest.raises(ValueError, match="sequence_length=65 exceeds the encoder's 64 position"):
        make_tagger(sequence_length=65)
    tagger = make_tagger()
    with pytest.raises(DataFormatError, match="sentence 0 has 2 tokens but 1 tags"):
        tagger.dataset([["john", "x"]], [["O"]])
    with pytest.raises(DataFormatError, match=r"unknown tag\(s\) \['B-ORG'\]"):
        tagger.dataset([["john"]], [["B-ORG"]])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(1, 12), min_size=1, max_size=12), min_size=1, max_size=4),
       st.integers(1, 10))
def test_export_windows_words_as_the_python_tagger_does(rows, budget):
    """One windowing rule: the graph version the export runs equals `word_windows`."""
    from electra_tf.export.tagging import assign_windows

    counts = tf.ragged.constant(rows, dtype=tf.int32).to_tensor()
    window, slot = assign_windows(counts, budget)
    for i, row in enumerate(rows):
        expected = word_windows(row, budget)
        assert list(zip(window[i, :len(row)].numpy().tolist(),
                        slot[i, :len(row)].numpy().tolist())) == expected
