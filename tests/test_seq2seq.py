import importlib.util
import itertools
import pathlib

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.models.losses import SmoothedSparseCategoricalCrossentropy
from electra_tf.models.samplers import LengthPenaltyBeamSampler
from electra_tf.models.seq2seq.backbone import ElectraSeq2SeqBackbone, make_encoder
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor
from electra_tf.models.seq2seq.seq2seq_lm import ElectraSeq2SeqLM
from electra_tf.tokenization import join_cjk

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
WORDS = [f"w{i}" for i in range(10)]
VOCAB = list(tokenization.SPECIAL_TOKENS) + WORDS
LENGTH = 8


def copy_pairs(n, seed):
    rng = np.random.default_rng(seed)
    lines = [" ".join(rng.choice(WORDS, rng.integers(1, 6))) for _ in range(n)]
    return {"encoder_text": lines, "decoder_text": lines}


def build_lm(vocabulary_size=len(VOCAB), target_tokenizer=None, target_vocabulary_size=None,
             seed=0):
    keras.utils.set_random_seed(seed)
    encoder = make_encoder(vocabulary_size=vocabulary_size, hidden_dim=32, num_layers=1,
                           num_heads=2, intermediate_dim=64, max_sequence_length=16, dropout=0.0)
    backbone = ElectraSeq2SeqBackbone(encoder, target_vocabulary_size=target_vocabulary_size,
                                      num_decoder_layers=2, dropout=0.0, max_target_length=16)
    preprocessor = ElectraSeq2SeqLMPreprocessor(
        tokenization.make_tokenizer(VOCAB), target_tokenizer=target_tokenizer,
        encoder_sequence_length=LENGTH, decoder_sequence_length=LENGTH,
    )
    return ElectraSeq2SeqLM(backbone, preprocessor)


@pytest.fixture(scope="module")
def copy_lm():
    """A tiny model trained to copy 1-5 words (one vocabulary for both sides)."""
    lm = build_lm()
    lm.compile(optimizer=keras.optimizers.Adam(3e-3), label_smoothing=0.05)
    data = tf.data.Dataset.from_tensor_slices(copy_pairs(4096, seed=0)).batch(32)
    lm.fit(data, epochs=3, verbose=0)
    return lm


@pytest.fixture(scope="module")
def heldout():
    return copy_pairs(64, seed=1)["encoder_text"]


def generate_with(lm, sampler, sources, **kwargs):
    lm.compile(sampler=sampler)
    return lm.generate(sources, max_length=LENGTH, **kwargs)


def test_copy_task_is_learned(copy_lm, heldout):
    outputs = generate_with(copy_lm, "greedy", heldout)
    exact = np.mean([o == s for o, s in zip(outputs, heldout)])
    assert exact >= 0.9, list(zip(heldout, outputs))[:5]


def test_beam_of_one_and_top_k_of_one_equal_greedy(copy_lm, heldout):
    sources = heldout[:16]
    greedy = generate_with(copy_lm, "greedy", sources)
    assert generate_with(copy_lm, LengthPenaltyBeamSampler(num_beams=1), sources) == greedy
    assert generate_with(copy_lm, keras_hub.samplers.TopKSampler(k=1, seed=3), sources) == greedy


def test_cached_and_uncached_decoding_give_the_same_tokens(copy_lm, heldout):
    sources = heldout[:16]
    for sampler in ("greedy", LengthPenaltyBeamSampler(num_beams=3, length_penalty=0.6)):
        copy_lm.compile(sampler=sampler)
        cached = copy_lm.generate(sources, max_length=LENGTH)
        assert copy_lm.generate(sources, max_length=LENGTH, use_cache=False) == cached


class EveryBeamSampler(LengthPenaltyBeamSampler):
    """Keeps every beam's tokens and raw score from its last decoding loop (run eagerly)."""

    def run_loop(self, *args, **kwargs):
        prompt, _, _, _, log_probs = outputs = super().run_loop(*args, **kwargs)
        self.beams = (prompt.numpy(), log_probs.numpy())
        return outputs


def test_cached_beams_follow_their_own_source(copy_lm):
    """Different sources in one batch, 4 beams: every beam of every source is the same,
    token for token and score, cached or not. Fails if the per-source part of the cache
    (encoder states, cross-attention keys and values) were reordered with the beams or
    handed to another source's rows, or if the self-attention cache were not reordered."""
    sources, num_beams = ["w1 w2 w3", "w9", "w4 w4 w7 w0 w5"], 4
    sampler = EveryBeamSampler(num_beams=num_beams)
    copy_lm.compile(sampler=sampler, run_eagerly=True)
    beams = {}
    for use_cache in (True, False):
        copy_lm.generate(sources, max_length=LENGTH, use_cache=use_cache)
        beams[use_cache] = sampler.beams
    (cached, cached_scores), (uncached, uncached_scores) = beams[True], beams[False]
    assert cached.shape == (len(sources) * num_beams, LENGTH)
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_allclose(cached_scores, uncached_scores, rtol=1e-5, atol=1e-5)
    # The sources decode differently, so one source's rows in another's place would show.
    best = np.argmax(cached_scores.reshape(len(sources), num_beams), axis=1)
    best_rows = cached.reshape(len(sources), num_beams, LENGTH)[np.arange(len(sources)), best]
    assert len({tuple(row) for row in best_rows}) == len(sources)


def test_sampling_is_deterministic_with_a_seed(copy_lm, heldout):
    def sample():
        return generate_with(
            copy_lm, keras_hub.samplers.TopPSampler(p=0.9, temperature=2.0, seed=7), heldout[:16]
        )

    assert sample() == sample()


def test_save_and_load_give_the_same_generations(copy_lm, heldout, tmp_path):
    copy_lm.compile(sampler="greedy")
    before = copy_lm.generate(heldout[:8], max_length=LENGTH)
    copy_lm.save_to_preset(str(tmp_path))
    loaded = ElectraSeq2SeqLM.from_preset(str(tmp_path))
    loaded.compile(sampler="greedy")
    assert loaded.generate(heldout[:8], max_length=LENGTH) == before


def test_separate_target_vocabulary_round_trips(tmp_path):
    target_vocab = list(tokenization.SPECIAL_TOKENS) + ["甲", "乙", "丙"]
    target_tokenizer = keras_hub.models.ElectraTokenizer(
        vocabulary=target_vocab, config_file="target_tokenizer.json"
    )
    lm = build_lm(target_tokenizer=target_tokenizer, target_vocabulary_size=len(target_vocab))
    assert lm.backbone.token_embedding.input_dim == len(target_vocab)
    x, y, _ = lm.preprocessor({"encoder_text": ["w1 w2"], "decoder_text": ["甲乙"]})
    np.testing.assert_array_equal(y[0, :3], [5, 6, 3])
    before = lm.generate(["w1 w2", "w3"], max_length=5)
    assert all(set(text) <= set("甲乙丙") for text in before)
    lm.save_to_preset(str(tmp_path))
    loaded = ElectraSeq2SeqLM.from_preset(str(tmp_path))
    assert loaded.preprocessor.target_tokenizer.get_vocabulary() == target_vocab
    assert loaded.generate(["w1 w2", "w3"], max_length=5) == before


def test_generation_stops_at_the_target_vocabularys_end_token():
    # [SEP] is 4 in this target vocabulary and 3 in the source's, where 3 is "甲" here.
    target_vocab = ["[PAD]", "[UNK]", "[CLS]", "甲", "[SEP]", "[MASK]", "乙"]
    target_tokenizer = keras_hub.models.ElectraTokenizer(
        vocabulary=target_vocab, config_file="target_tokenizer.json")
    lm = build_lm(target_tokenizer=target_tokenizer, target_vocabulary_size=len(target_vocab))
    stops = []
    generate_step = lm.generate_step
    lm.generate_step = lambda inputs, stop_token_ids=None: (
        stops.append(stop_token_ids) or generate_step(inputs, stop_token_ids))
    lm.generate(["w1 w2"], max_length=5)
    assert stops == [[4]]


def test_beam_search_finds_the_best_enumerated_sequence():
    """With more beams than prefixes (wider than the vocabulary), beam search is exact."""
    vocabulary_size, steps = 7, 3
    lm = build_lm(vocabulary_size=vocabulary_size, seed=3)
    # Sharpen the random model so sequence scores are far apart.
    table = lm.backbone.token_embedding.embeddings
    table.assign(table * 60.0)
    end = 3  # [SEP]
    source = {"encoder_token_ids": np.array([[2, 5, 6, 3]], "int32"),
              "encoder_padding_mask": np.ones((1, 4), "int32")}

    candidates = [
        seq[: seq.index(end) + 1] if end in seq else seq
        for seq in map(list, itertools.product(range(vocabulary_size), repeat=steps))
    ]
    candidates = [list(c) for c in {tuple(c) for c in candidates}]
    padded = np.array([[2] + c + [0] * (steps - len(c)) for c in candidates], "int32")
    batch = {k: np.repeat(v, len(candidates), 0) for k, v in source.items()}
    logits = lm({**batch, "decoder_token_ids": padded[:, :-1],
                 "decoder_padding_mask": np.ones_like(padded[:, :-1])})
    log_probs = tf.nn.log_softmax(logits).numpy()
    scores = [sum(log_probs[i, t, token] for t, token in enumerate(c))
              for i, c in enumerate(candidates)]
    best = candidates[int(np.argmax(scores))]

    lm.preprocessor = None
    lm.compile(sampler=LengthPenaltyBeamSampler(num_beams=vocabulary_size ** (steps - 1)))
    prompt = {**source, "decoder_token_ids": np.array([[2, 0, 0, 0]], "int32"),
              "decoder_padding_mask": np.array([[1, 0, 0, 0]], "int32")}
    output = lm.generate(prompt, stop_token_ids=[end])
    found = output["decoder_token_ids"][0][output["decoder_padding_mask"][0]][1:].tolist()
    assert found == best, (found, best, max(scores))


def test_bad_inputs(copy_lm):
    copy_lm.compile(sampler="greedy")
    empty, unknown = copy_lm.generate(["", "w1 ☃ w2"], max_length=LENGTH)
    assert isinstance(empty, str) and isinstance(unknown, str)
    unk = copy_lm.preprocessor.tokenizer.token_to_id(tokenization.UNK)
    packed = copy_lm.preprocessor.generate_preprocess(["w1 ☃ w2"])
    assert unk in packed["encoder_token_ids"].numpy()[0]
    with pytest.warns(UserWarning, match="1 source.* truncated"):
        copy_lm.generate([" ".join(WORDS), "w1"], max_length=LENGTH)
    with pytest.raises(ValueError, match="max_length must be >= 1"):
        copy_lm.generate(["w1"], max_length=0)
    with pytest.raises(ValueError, match="position table"):
        copy_lm.generate(["w1"], max_length=100)


def test_truncation_is_reported_for_tensor_and_dataset_inputs(copy_lm):
    long, short = " ".join(WORDS), "w1"
    preprocessor = copy_lm.preprocessor
    assert preprocessor.count_truncated(long) == 1
    assert preprocessor.count_truncated(tf.constant([long, short, long])) == 2
    assert preprocessor.count_truncated([]) == 0
    dataset = tf.data.Dataset.from_tensor_slices([long, short, long]).batch(2)
    assert preprocessor.count_truncated(dataset) == 2
    as_dicts = tf.data.Dataset.from_tensor_slices({"encoder_text": [long, short]}).batch(2)
    assert preprocessor.count_truncated(as_dicts) == 1
    fitting = " ".join(WORDS[:LENGTH - 1])  # [CLS] and these fill the decoder's input
    assert preprocessor.count_truncated_targets([long, fitting, short]) == 1
    copy_lm.compile(sampler="greedy")
    with pytest.warns(UserWarning, match="1 source.* truncated"):
        copy_lm.generate(tf.constant([long, short]), max_length=LENGTH)
    with pytest.warns(UserWarning, match="2 source.* truncated"):
        copy_lm.generate(dataset, max_length=LENGTH)


def test_label_smoothing_loss():
    logits = np.log(np.array([[[0.7, 0.2, 0.1]]], "float32"))
    plain = SmoothedSparseCategoricalCrossentropy(label_smoothing=0.0)(np.array([[0]]), logits)
    np.testing.assert_allclose(plain, -np.log(0.7), rtol=1e-5)
    smoothed = SmoothedSparseCategoricalCrossentropy(label_smoothing=0.3)(np.array([[0]]), logits)
    expected = 0.7 * -np.log(0.7) + 0.3 * -np.mean(np.log([0.7, 0.2, 0.1]))
    np.testing.assert_allclose(smoothed, expected, rtol=1e-5)


def test_chinese_output_has_no_spaces_between_characters():
    assert join_cjk(tf.constant("床 前 明 月 光 ， 疑 是 a b")).numpy().decode() == "床前明月光，疑是 a b"
    # An uncased vocabulary's NFKC made "，" and "？" ASCII; after Han characters they return.
    assert (join_cjk(tf.constant("床 前 明 月 光 , 疑 是 地 上 霜 ? a , b : c")).numpy().decode()
            == "床前明月光，疑是地上霜？ a , b : c")


def test_encoder_warm_starts_from_an_electra_tf_model_dir(tmp_path):
    from electra_tf import ElectraConfig, ElectraPretrainer
    from electra_tf.training import generation

    tokenizer = tokenization.make_tokenizer(VOCAB)
    pretrainer = ElectraPretrainer(ElectraConfig.from_preset("tiny"), vocabulary_size=len(VOCAB),
                                   special_token_ids=tokenization.special_token_ids(tokenizer))
    pretrainer.save_to_preset(tmp_path, tokenizer)
    keras.utils.set_random_seed(7)
    lm = generation.build_lm([("w1 w2", "w2 w1")] * 4, encoder=str(tmp_path), sequence_length=8)
    encoder = lm.backbone.encoder
    for mine, theirs in zip(encoder.weights, pretrainer.discriminator.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    # The pre-trained vocabulary reads the sources; the decoder matches the encoder's size.
    assert lm.preprocessor.tokenizer.get_vocabulary() == VOCAB
    assert lm.backbone.num_decoder_layers == encoder.num_layers

    # The cold-start baseline: same tokenizer and shape, fresh weights.
    keras.utils.set_random_seed(7)
    cold = generation.build_lm([("w1 w2", "w2 w1")] * 4, encoder=str(tmp_path),
                               sequence_length=8, warm_start=False)
    assert cold.preprocessor.tokenizer.get_vocabulary() == VOCAB
    assert cold.backbone.encoder.get_config() == {**encoder.get_config(),
                                                  "name": cold.backbone.encoder.name}
    embedding = cold.backbone.encoder.token_embedding.embeddings.numpy()
    assert not np.array_equal(embedding, encoder.token_embedding.embeddings.numpy())
    # ... and the very same decoder, so the comparison isolates the encoder.
    def decoder_weights(model):
        encoder_weights = {id(w) for w in model.backbone.encoder.weights}
        return [w for w in model.backbone.weights if id(w) not in encoder_weights]

    warm_decoder, cold_decoder = decoder_weights(lm), decoder_weights(cold)
    assert len(warm_decoder) == len(cold_decoder) > 0
    for mine, theirs in zip(warm_decoder, cold_decoder):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def old_presets():
    """tests/fixtures/make_seq2seq_presets.py: the inputs and paths of the 0.1 presets."""
    spec = importlib.util.spec_from_file_location(
        "make_seq2seq_presets", FIXTURES / "make_seq2seq_presets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_preset_saved_before_the_shared_decoder_loads(tmp_path):
    from electra_tf.models import legacy

    presets = old_presets()
    weights = presets.OUT / "seq2seq" / "model.weights.h5"
    assert legacy.is_seq2seq_weights(weights)  # the decoder's layers at the top
    lm = ElectraSeq2SeqLM.from_preset(str(presets.OUT / "seq2seq"))
    text, _ = presets.inputs()
    expected = np.load(presets.OUT / "expected.npz")["seq2seq"]
    np.testing.assert_allclose(lm(text).numpy(), expected, atol=1e-6)
    # Saved again, it is in today's layout.
    lm.save_to_preset(str(tmp_path))
    assert not legacy.is_seq2seq_weights(tmp_path / "model.weights.h5")
    np.testing.assert_allclose(ElectraSeq2SeqLM.from_preset(str(tmp_path))(text).numpy(),
                               expected, atol=1e-6)
