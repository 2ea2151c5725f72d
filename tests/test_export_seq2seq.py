"""The seq2seq export: generated text equals `ElectraSeq2SeqLM.generate` for every
decoding signature, options are clamped, any input answered.

The model is exported once, through scripts/export.py with `--num_beams` and
`--length_penalty`: exporting its six decoding signatures is most of this
module's time.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.export import DEFAULT_SIGNATURE, IDS_SIGNATURE, serving, serving_ops
from electra_tf.models.samplers import LengthPenaltyBeamSampler
from electra_tf.models.seq2seq.backbone import ElectraSeq2SeqBackbone, make_encoder
from electra_tf.models.seq2seq.preprocessor import ElectraSeq2SeqLMPreprocessor
from electra_tf.models.seq2seq.seq2seq_lm import ElectraSeq2SeqLM
from export_helpers import (
    as_strings, assert_same_outputs, call, fresh_process, run_export_script, show_signatures)

WORDS = [f"w{i}" for i in range(10)] + list("床前明月光")
VOCAB = list(tokenization.SPECIAL_TOKENS) + WORDS
LENGTH = 8
# generate_beam's settings, given to scripts/export.py: not its defaults (4 and 0).
NUM_BEAMS, LENGTH_PENALTY = 3, 1.5


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
def export(lm, tmp_path_factory):
    """`(export dir, loaded export)` of the preset `lm` saves, exported by scripts/export.py."""
    model_dir = tmp_path_factory.mktemp("s2s_preset")
    lm.save_to_preset(str(model_dir))
    base = tmp_path_factory.mktemp("s2s_serving")
    # Ops are checked in the TensorFlow-only process instead.
    run_export_script(f"--model_dir={model_dir}", f"--export_dir={base}",
                      f"--num_beams={NUM_BEAMS}", f"--length_penalty={LENGTH_PENALTY}",
                      "--nocheck_ops")
    path = base / "seq2seq" / "1"
    return path, tf.saved_model.load(str(path))


@pytest.fixture(scope="module")
def loaded(export):
    return export[1]


SOURCES = ["w1 w2 w3", "床前明月光", "w4", "w9 w8 w7 w6"]


def options(n, **values):
    defaults = {"max_length": LENGTH, "k": 5, "p": 0.9, "temperature": 1.0, "seed": 0}
    dtypes = {"max_length": "int32", "k": "int32", "seed": "int32"}
    return {name: np.full(n, value, dtypes.get(name, "float32"))
            for name, value in {**defaults, **values}.items()}


def sampling(loaded, name, sources, **values):
    wanted = {"generate_top_k": ("max_length", "k", "temperature", "seed"),
              "generate_top_p": ("max_length", "p", "temperature", "seed"),
              "generate_greedy": ("max_length",)}[name]
    chosen = {k: v for k, v in options(len(sources), **values).items() if k in wanted}
    return call(loaded.signatures[name], text=as_strings(sources), **chosen)


def test_generated_text_matches_generate(lm, loaded):
    sources = ["w1 w2 w3", "床前明月光", "w4", "w9 w8 w7 w6"]
    expected = lm.generate(sources, max_length=LENGTH)
    out = loaded.signatures[DEFAULT_SIGNATURE](text=tf.constant(sources))
    assert [t.decode() for t in out["generated_text"].numpy()] == list(expected)
    assert all(expected), "the model should write something"
    assert ((out["num_generated"].numpy() > 0) == [bool(t) for t in expected]).all()


def test_odd_input_and_the_ids_signature(loaded, lm):
    odd = [b"", b" \t", b"\xff\xfe\x00", "😀 w1".encode(), ("w1 " * 50_000).encode()]
    for name in ("serving_default", "generate_top_p", "generate_beam"):
        out = (call(loaded.signatures[name], text=odd) if name != "generate_top_p"
               else sampling(loaded, name, odd))
        assert out["truncated"].tolist() == [False, False, False, False, True]
        assert out["generated_tokens"].shape == (len(odd), LENGTH)
        empty = (call(loaded.signatures[name], text=np.array([], object))
                 if name != "generate_top_p" else sampling(loaded, name, []))
        assert empty["generated_text"].shape == (0,)

    encoded = serving.TextEncoder(lm.preprocessor.tokenizer, LENGTH)(tf.constant(["w1 w2"]))
    by_ids = loaded.signatures[IDS_SIGNATURE](
        **{name: encoded[name] for name in serving.ID_INPUTS})
    by_text = loaded.signatures[DEFAULT_SIGNATURE](text=tf.constant(["w1 w2"]))
    assert by_ids["generated_text"].numpy() == by_text["generated_text"].numpy()


def test_greedy_signature_cuts_each_row_at_its_max_length(loaded, lm):
    lengths = np.array([1, 3, LENGTH, 5], "int32")
    out = call(loaded.signatures["generate_greedy"], text=as_strings(SOURCES), max_length=lengths)
    for source, length, text in zip(SOURCES, lengths, out["generated_text"]):
        assert text.decode() == lm.generate([source], max_length=int(length))[0]
    assert out["num_generated"][0] == 0 and not out["options_clamped"].any()


def test_sampling_is_seeded_and_k1_or_p0_is_greedy(loaded, lm):
    greedy = call(loaded.signatures[DEFAULT_SIGNATURE], text=as_strings(SOURCES))["generated_text"]
    assert sampling(loaded, "generate_top_k", SOURCES, k=1)["generated_text"].tolist() == (
        greedy.tolist())
    assert sampling(loaded, "generate_top_p", SOURCES, p=0.0)["generated_text"].tolist() == (
        greedy.tolist())
    hot = dict(temperature=5.0, seed=7)
    first = sampling(loaded, "generate_top_k", SOURCES * 4, k=20, **hot)["generated_text"]
    again = sampling(loaded, "generate_top_k", SOURCES * 4, k=20, **hot)["generated_text"]
    assert first.tolist() == again.tolist()
    other = sampling(loaded, "generate_top_k", SOURCES * 4, k=20, temperature=5.0, seed=8)
    assert other["generated_text"].tolist() != first.tolist()
    # Rows are independent: a row's answer does not depend on its neighbours.
    alone = sampling(loaded, "generate_top_k", SOURCES[:1], k=20, **hot)["generated_text"]
    assert alone[0] == first[0]


def test_bad_options_are_clamped_not_errors(loaded):
    n = 6
    out = call(loaded.signatures["generate_top_p"], text=as_strings(["w1"] * n),
               max_length=np.array([-5, 10**6, 4, 4, 4, 4], "int32"),
               p=np.array([0.5, 0.5, np.nan, -1, 2, 0.5], "float32"),
               temperature=np.array([1, 1, 1, 1, 1, 0], "float32"),
               seed=np.arange(n, dtype="int32"))
    assert out["options_clamped"].all()
    assert out["num_generated"][0] == 0 and (out["num_generated"][2:] <= 3).all()
    out = sampling(loaded, "generate_top_k", ["w1", "w2"], k=0, temperature=np.nan)
    assert out["options_clamped"].all()
    assert sampling(loaded, "generate_top_k", ["w1"], k=10**9)["options_clamped"].all()


def test_beam_signature_matches_generate_with_the_beam_sampler(loaded, lm):
    out = call(loaded.signatures["generate_beam"], text=as_strings(SOURCES))
    lm.compile(sampler=LengthPenaltyBeamSampler(NUM_BEAMS, LENGTH_PENALTY))
    try:
        expected = lm.generate(SOURCES, max_length=LENGTH)
    finally:
        lm.compile()
    assert [t.decode() for t in out["generated_text"]] == list(expected)


def test_tensorflow_only_process_and_warmup(export, loaded):
    path, _ = export
    requests = {
        "default": (str(path), DEFAULT_SIGNATURE, {"text": as_strings(SOURCES)}),
        "beam": (str(path), "generate_beam", {"text": as_strings(SOURCES)}),
        "top_p": (str(path), "generate_top_p", {"text": as_strings(SOURCES), **{
            k: v for k, v in options(4, temperature=3.0, seed=1).items() if k != "k"}}),
        "top_k": (str(path), "generate_top_k", {"text": as_strings(SOURCES), **{
            k: v for k, v in options(4, k=10, seed=2).items() if k != "p"}}),
    }
    result = fresh_process(requests, cli_runs=show_signatures(path, "generate_top_k"))
    assert result["imported"] == [] and serving_ops.unservable_ops(result["op_kinds"]) == []
    for key, (_, signature, inputs) in requests.items():
        assert_same_outputs(result["answers"][key], call(loaded.signatures[signature], **inputs))
    (keys_code, keys), (show_code, shown) = result["cli"]
    assert keys_code == show_code == 0 and all(name in keys for name in (
        "generate_greedy", "generate_top_k", "generate_top_p", "generate_beam"))
    assert "temperature" in shown and "generated_text" in shown
    from tensorflow_serving.apis import prediction_log_pb2

    records = list(tf.data.TFRecordDataset(
        str(path / "assets.extra" / serving.WARMUP_FILENAME)).as_numpy_iterator())
    warmup = [prediction_log_pb2.PredictionLog.FromString(r).predict_log.request
              for r in records]
    assert [r.model_spec.signature_name for r in warmup] == [
        DEFAULT_SIGNATURE, "generate_greedy", "generate_top_k", "generate_top_p", "generate_beam"]
    for request in warmup:  # each is answered
        call(loaded.signatures[request.model_spec.signature_name],
             **{k: tf.make_ndarray(v) for k, v in request.inputs.items()})
