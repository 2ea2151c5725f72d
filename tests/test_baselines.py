"""The generation baselines compute what they claim, on fixtures small enough to check by hand."""

import math
import random

import pytest

from electra_tf.training import baselines, generation

PAIRS = [
    ("Open the file", "打开文件"),
    ("Save the document", "保存文档"),
    ("Quit the application", "退出应用程序"),
    ("Print the page", "打印页面"),
]


def test_translation_memory_returns_the_target_of_the_nearest_source():
    pytest.importorskip("sklearn")
    memory = baselines.TranslationMemory(PAIRS)
    queries = ["Open a file", "Save documents", "quit application now", "Print pages"]
    assert list(memory.nearest(queries)) == [0, 1, 2, 3]
    assert memory.translate(queries) == [t for _, t in PAIRS]
    # Word-level ("char_wb") and plain character n-grams agree on clear cases.
    assert baselines.TranslationMemory(PAIRS, analyzer="char").translate(["SAVE"]) == ["保存文档"]
    # Batching does not change the answer.
    assert list(memory.nearest(queries * 3, batch_size=5)) == [0, 1, 2, 3] * 3
    # Chinese sources (zh→en) are read character by character.
    flipped = baselines.TranslationMemory([(t, s) for s, t in PAIRS])
    assert flipped.translate(["打开这个文件"]) == ["Open the file"]


def test_copy_baseline_and_its_scores():
    pytest.importorskip("sacrebleu")
    sources = ["Open %s", "--help"]
    assert baselines.copy_sources(sources) == sources
    copied = generation.corpus_scores(baselines.copy_sources(sources), ["打开 %s", "--help"],
                                      target_language="zh")
    assert 0 < copied["chrf"] < 100
    perfect = generation.corpus_scores(["打开文件", "退出"], ["打开文件", "退出"])
    assert perfect == pytest.approx({"bleu": 100.0, "chrf": 100.0})
    # Chinese references are tokenized by character: a half-right unspaced
    # sentence scores above zero, which 13a tokenization (one "word") would not.
    half = generation.corpus_scores(["打开这个文件夹吧"], ["打开那个文件夹了"])
    assert half["bleu"] > 0
    assert generation.corpus_scores(["打开这个文件夹吧"], ["打开那个文件夹了"],
                                    target_language="en")["bleu"] == 0


TEXTS = ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡", "明月几时有", "把酒问青天"]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_ngram_probabilities_sum_to_one_over_the_vocabulary(order):
    lm = baselines.NGramLM(order=order).fit(TEXTS)
    assert baselines.UNKNOWN in lm.vocabulary and baselines.END in lm.vocabulary
    assert len(lm.vocabulary) == len(set("".join(TEXTS))) + 2
    for history in ["", "明", "明月", "床前明", "月光", "没见过", "明没", "x"]:
        distribution = lm.distribution(history)
        assert math.isclose(sum(distribution.values()), 1.0, rel_tol=1e-9), history
        assert min(distribution.values()) > 0, history
    # An unseen character is the unknown symbol, with the unknown symbol's probability.
    assert lm.probability("龙", "明月") == lm.probability(baselines.UNKNOWN, "明月")


def test_ngram_model_prefers_text_like_its_training_text():
    rng = random.Random(0)
    text = "床前明月光，疑是地上霜。举头望明月，低头思故乡。" * 3
    lm = baselines.NGramLM(order=3).fit([text])
    shuffled = "".join(rng.sample(text, len(text)))
    assert lm.perplexity([text]) < lm.perplexity([shuffled])
    assert lm.perplexity([text]) < 2  # it has seen every trigram, three times
    # A context is read, not scored: it makes its continuation likelier.
    assert lm.log_likelihood("疑是地上霜", context="床前明月光，")[1] == 6
    assert (lm.log_likelihood("疑是地上霜", context="床前明月光，")[0]
            > lm.log_likelihood("疑是地上霜")[0])


def test_ngram_model_reads_token_ids_as_it_reads_characters():
    as_ids = [[ord(c) for c in text] for text in TEXTS]
    by_char = baselines.NGramLM(order=3).fit(TEXTS[:4], contexts=["", "", "明", ""])
    by_id = baselines.NGramLM(order=3).fit(as_ids[:4], contexts=[[], [], [ord("明")], []])
    assert math.isclose(by_char.perplexity(TEXTS[4:]), by_id.perplexity(as_ids[4:]))


def test_caption_scores_count_digits_by_position():
    scores = baselines.caption_scores(["三五", "一", "七八"], ["三五", "一二", "八七"], "zh")
    assert scores == {"exact_match": 1 / 3, "digit_accuracy": 3 / 6}
    scores = baselines.caption_scores(["one two three"], ["one two"], "en")
    assert scores == {"exact_match": 0.0, "digit_accuracy": 2 / 3}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_pixel_baseline_reads_digits_far_above_chance(language):
    pytest.importorskip("sklearn")
    from electra_tf.data.captioning import digit_captions

    images, captions = digit_captions(300, language=language, seed=0)
    test_images, test_captions = digit_captions(100, language=language, split="test", seed=1)
    reader = baselines.DigitSlotClassifier(digits_per_image=2, language=language)
    outputs = reader.fit(images, captions).predict(test_images)
    scores = baselines.caption_scores(outputs, test_captions, language)
    # Chance: 0.1 per digit, 0.01 for both.
    assert scores["digit_accuracy"] > 0.6 and scores["exact_match"] > 0.3, scores
    assert reader.slots(images).shape == (600, 64)
