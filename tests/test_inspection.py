import numpy as np
import pytest
import tensorflow as tf

from electra_tf import ElectraConfig, ElectraPretrainer, inspection, tokenization

SENTENCES = ["今天天气很好，我们去公园散步吧", "明天也很好", "江泽民在北京会见克林顿"]


@pytest.fixture(scope="module")
def model():
    vocabulary = tokenization.build_vocabulary(SENTENCES + ["<b>"], 60)
    tokenizer = tokenization.make_tokenizer(vocabulary)
    config = ElectraConfig.from_preset("tiny")
    pretrainer = ElectraPretrainer(config, len(vocabulary),
                                   tokenization.special_token_ids(tokenizer), seed=0)
    return pretrainer, tokenizer


def test_the_view_is_what_the_discriminator_read_and_answered(model):
    pretrainer, tokenizer = model
    views = inspection.replaced_token_view(pretrainer, tokenizer, SENTENCES)
    assert len(views) == len(SENTENCES)
    for sentence, view in zip(SENTENCES, views):
        pieces = [tokenizer.id_to_token(int(i)) for i in np.asarray(tokenizer(sentence))]
        assert view.tokens == ["[CLS]", *pieces, "[SEP]"]
        n = len(view.tokens)
        assert sum(view.masked) == max(1, round(0.15 * n))
        for original, read, masked, replaced in zip(view.tokens, view.read, view.masked,
                                                    view.replaced):
            assert replaced == (read != original)
            assert masked or not replaced  # only masked positions can change
    # The probabilities are the discriminator's on the text it read.
    view = views[0]
    ids = tf.constant([[tokenizer.token_to_id(t) for t in view.read]])
    hidden = pretrainer.discriminator({"token_ids": ids, "segment_ids": tf.zeros_like(ids),
                                       "padding_mask": tf.ones_like(ids)})["sequence_output"]
    expected = tf.sigmoid(pretrainer.rtd_head(hidden))[0].numpy()
    np.testing.assert_allclose(view.replaced_probability, expected, atol=1e-5)


def test_looking_does_not_move_the_training_random_streams(model):
    pretrainer, tokenizer = model
    before = [v.numpy() for v in pretrainer.non_trainable_variables if "counter" in v.path]
    assert before
    first = inspection.replaced_token_view(pretrainer, tokenizer, SENTENCES)
    after = [v.numpy() for v in pretrainer.non_trainable_variables if "counter" in v.path]
    assert before == after
    # ... so looking again draws the same masks.
    again = inspection.replaced_token_view(pretrainer, tokenizer, SENTENCES)
    assert [v.masked for v in first] == [v.masked for v in again]


def test_html_marks_masked_and_replaced_tokens_and_escapes_text(model):
    pretrainer, tokenizer = model
    views = inspection.replaced_token_view(pretrainer, tokenizer, ["<b>今天天气很好"])
    page = inspection.to_html(views)
    assert "&lt;</td>" in page and "><</td>" not in page  # the token "<", escaped
    assert page.count("text-decoration:underline") == sum(views[0].masked)
    assert page.count("color:#c00") == sum(views[0].replaced)
    assert page.count("rgba(30,90,200,") == len(views[0].tokens)


def test_markdown_marks_replaced_tokens_and_the_discriminator_s_calls():
    view = inspection.TokenView(
        tokens=["[CLS]", "今", "天", "##好", "[SEP]"], masked=[False, True, True, False, False],
        read=["[CLS]", "明", "天", "##好", "[SEP]"], replaced=[False, True, False, False, False],
        replaced_probability=[0.1, 0.9, 0.7, 0.2, 0.0])
    text = inspection.to_markdown([view, view])
    assert text.split("\n\n") == [r"\[CLS\] **明**~~今~~? 天? \#\#好 \[SEP\]"] * 2


@pytest.mark.parametrize("bad", [[], "一句话"])
def test_sentences_must_be_a_non_empty_list(model, bad):
    with pytest.raises(ValueError, match="non-empty list"):
        inspection.replaced_token_view(*model, bad)
