"""The seq2seq export: generated text equals `ElectraSeq2SeqLM.generate`, any input answered."""

import keras
import pytest
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.export import (
    DEFAULT_SIGNATURE, IDS_SIGNATURE, Seq2SeqServable, export_for_serving, serving)
from electra_tf.models.seq2seq import (
    ElectraSeq2SeqBackbone,
    ElectraSeq2SeqLM,
    ElectraSeq2SeqLMPreprocessor,
    make_encoder,
)

WORDS = [f"w{i}" for i in range(10)] + list("床前明月光")
VOCAB = list(tokenization.SPECIAL_TOKENS) + WORDS
LENGTH = 8


@pytest.fixture(scope="module")
def lm():
    """A tiny random model that writes words: every special token's logit is 0.

    (Untrained, it would often write [SEP] or [PAD] first and show nothing.)
    """
    keras.utils.set_random_seed(0)
    encoder = make_encoder(vocabulary_size=len(VOCAB), hidden_dim=32, num_layers=1, num_heads=2,
                           intermediate_dim=64, max_sequence_length=16, dropout=0.0)
    backbone = ElectraSeq2SeqBackbone(encoder, num_decoder_layers=1, dropout=0.0,
                                      max_target_length=16)
    preprocessor = ElectraSeq2SeqLMPreprocessor(
        tokenization.make_tokenizer(VOCAB), encoder_sequence_length=LENGTH,
        decoder_sequence_length=LENGTH,
    )
    model = ElectraSeq2SeqLM(backbone, preprocessor)
    table = backbone.token_embedding.embeddings
    special = len(tokenization.SPECIAL_TOKENS)  # the first rows
    table.assign(tf.concat([tf.zeros([special, table.shape[1]]), table[special:]], axis=0))
    return model


@pytest.fixture(scope="module")
def loaded(lm, tmp_path_factory):
    path = export_for_serving(Seq2SeqServable(lm), tmp_path_factory.mktemp("s2s"),
                              "seq2seq", check_ops=False)
    return tf.saved_model.load(str(path))


def test_generated_text_matches_generate(lm, loaded):
    sources = ["w1 w2 w3", "床前明月光", "w4", "w9 w8 w7 w6"]
    expected = lm.generate(sources, max_length=LENGTH)
    out = loaded.signatures[DEFAULT_SIGNATURE](text=tf.constant(sources))
    assert [t.decode() for t in out["generated_text"].numpy()] == list(expected)
    assert all(expected), "the model should write something"
    assert ((out["num_generated"].numpy() > 0) == [bool(t) for t in expected]).all()


def test_odd_input_and_the_ids_signature(loaded, lm):
    odd = [b"", b" \t", b"\xff\xfe\x00", "😀 w1".encode(), ("w1 " * 50_000).encode()]
    out = {k: v.numpy() for k, v in
           loaded.signatures[DEFAULT_SIGNATURE](text=tf.constant(odd)).items()}
    assert out["truncated"].tolist() == [False, False, False, False, True]
    assert out["generated_tokens"].shape == (len(odd), LENGTH)
    empty = loaded.signatures[DEFAULT_SIGNATURE](text=tf.constant([], tf.string))
    assert empty["generated_text"].shape == (0,)

    encoded = serving.TextEncoder(lm.preprocessor.tokenizer, LENGTH)(tf.constant(["w1 w2"]))
    by_ids = loaded.signatures[IDS_SIGNATURE](
        **{name: encoded[name] for name in serving.ID_INPUTS})
    by_text = loaded.signatures[DEFAULT_SIGNATURE](text=tf.constant(["w1 w2"]))
    assert by_ids["generated_text"].numpy() == by_text["generated_text"].numpy()
