import keras
import keras_hub
import numpy as np
import pytest
from keras.layers import Input
from keras.losses import SparseCategoricalCrossentropy
from keras.optimizers import Adam

from electra_tf import tokenization
from electra_tf.models.seq2seq.document import (
    ELECTRA_model,
    generator_decoder,
    greedy_generate,
    make_training_arrays,
    seq2seq_lm,
)
from electra_tf.models.samplers import LengthPenaltyBeamSampler

WORDS = [f"w{i}" for i in range(6)]
TOKENIZER = tokenization.make_tokenizer(list(tokenization.SPECIAL_TOKENS) + WORDS)


def count_layers(model, kind):
    # keras-hub's Task walks its backbone's layers the same way.
    return sum(isinstance(layer, kind) for layer in model._flatten_layers())


def test_num_layers_is_honoured_on_both_sides():
    model = ELECTRA_model(None, None, 32, 3, 0.1, vocab_size=TOKENIZER.vocabulary_size(),
                          sequence_length=8)
    assert count_layers(model, keras_hub.layers.TransformerDecoder) == 3
    assert model.get_layer("encoder").num_layers == 3


def test_the_documents_lines_train_the_generation_model():
    keras.utils.set_random_seed(0)
    input_ids = Input(shape=(8,), dtype="int32", name="input_ids")
    input_mask = Input(shape=(8,), dtype="int32", name="input_mask")
    model = ELECTRA_model(input_ids, input_mask, 32, 2, 0.0, vocab_size=TOKENIZER.vocabulary_size())
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, rng.integers(1, 4))) for _ in range(512)]
    x_train, y_train = make_training_arrays(model, lines, lines, TOKENIZER)
    model.compile(optimizer=Adam(3e-3), loss=SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0).history
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    outputs = greedy_generate(model, lines[:16], TOKENIZER)
    # 128 steps learn the lengths and most words of this copy task.
    assert np.mean([len(o.split()) == len(s.split()) for o, s in zip(outputs, lines)]) >= 0.8
    assert all(set(o.split()) <= set(WORDS) for o in outputs)


def test_translation_form_has_separate_vocabularies():
    model = ELECTRA_model(source_input_ids=True, target_input_ids=True, hidden_size=32,
                          num_layers=1, dropout_rate=0.1, source_vocab_size=11,
                          target_vocab_size=13, sequence_length=6)
    assert [t.name for t in model.inputs] == ["source_input_ids", "target_input_ids"]
    assert model.output.shape[-1] == 13
    assert model.get_layer("encoder").vocab_size == 11
    # Defaults are the released ELECTRA vocabularies.
    default = ELECTRA_model(source_input_ids=True, hidden_size=32, num_layers=1,
                            sequence_length=4)
    assert default.get_layer("encoder").vocab_size == 30522 and default.output.shape[-1] == 21128


def test_generator_decoder_alone_is_a_causal_language_model():
    ids = Input((5,), dtype="int32")
    model = keras.Model(ids, generator_decoder(ids, ids, 16, 2, 0.0, vocab_size=20))
    x = np.array([[2, 5, 6, 7, 8]], "int32")
    changed = x.copy()
    changed[0, -1] = 9
    # Earlier positions cannot see later tokens.
    np.testing.assert_allclose(model(x)[0, :-1], model(changed)[0, :-1], atol=1e-5)


def test_forms_cannot_be_mixed_and_warm_start_sizes_must_match():
    with pytest.raises(ValueError, match="not both"):
        ELECTRA_model(Input((4,), dtype="int32"), None, 32, 1, 0.1, source_vocab_size=10)
    encoder = keras_hub.models.ElectraBackbone(
        vocab_size=10, num_layers=1, num_heads=1, hidden_dim=16, embedding_dim=16,
        intermediate_dim=32, max_sequence_length=16,
    )
    with pytest.raises(ValueError, match="warm-start encoder"):
        ELECTRA_model(None, None, 32, 1, 0.1, vocab_size=10, encoder=encoder)


def test_bad_inputs_to_the_document_helpers():
    model = ELECTRA_model(None, None, 16, 1, 0.0, vocab_size=TOKENIZER.vocabulary_size(),
                          sequence_length=6)
    long = " ".join(WORDS)  # 6 tokens; 4 fit between [CLS] and [SEP]
    with pytest.warns(UserWarning, match="1 text.* truncated"):
        x, _ = make_training_arrays(model, [long, "w1"], ["w1", "w2"], TOKENIZER)
    assert x[0][0].tolist() == [2, 5, 6, 7, 8, 3]
    with pytest.warns(UserWarning, match="1 text.* truncated.* target_length"):
        _, y = make_training_arrays(model, ["w1"], [long], TOKENIZER)
    assert y[0].tolist() == [5, 6, 7, 8, 9, 3]
    unk = TOKENIZER.token_to_id(tokenization.UNK)
    x, _ = make_training_arrays(model, ["", "w1 ☃"], ["", ""], TOKENIZER)
    assert x[0][0].tolist() == [2, 3, 0, 0, 0, 0] and unk in x[0][1]
    outputs = greedy_generate(model, ["", "w1 ☃"], TOKENIZER)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)


def test_the_model_decodes_as_an_electra_seq2seq_lm():
    model = ELECTRA_model(None, None, 32, 2, 0.1, vocab_size=TOKENIZER.vocabulary_size(),
                          sequence_length=8)
    x, _ = make_training_arrays(model, ["w1 w2", "w3"], ["w4", "w5 w0 w1"], TOKENIZER)
    lm = seq2seq_lm(model, TOKENIZER)
    logits = lm({"encoder_token_ids": x[0], "encoder_padding_mask": x[1],
                 "decoder_token_ids": x[2], "decoder_padding_mask": x[2] != 0})
    np.testing.assert_allclose(logits, model.predict_on_batch(x), atol=1e-5)
    lm.compile(sampler=LengthPenaltyBeamSampler(num_beams=2))
    outputs = lm.generate(["w1 w2", "w3"], max_length=6)
    assert len(outputs) == 2 and all(set(o.split()) <= set(WORDS) for o in outputs)

