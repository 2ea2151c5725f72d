"""TF Serving exports: layout, answers outside this package, bad input, threads, ops.

Every export here is built once per module from tiny random models; the
slow parts (TensorFlow in fresh processes) are batched into few subprocesses.
"""

import concurrent.futures

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.export import (
    DEFAULT_SIGNATURE,
    IDS_SIGNATURE,
    ClassifierServable,
    GeneratorServable,
    export_for_serving,
    serving,
    serving_ops,
)
from electra_tf.models.classification.classifier import ElectraClassifier
from export_helpers import as_strings, assert_same_outputs, call, run_export_script, show_signatures
from export_helpers import fresh_process as ask_fresh_process

VOCAB = list(tokenization.SPECIAL_TOKENS) + list("今天气很好明也差的") + [
    "nice", "##ly", "weather", "the", "a", ".", "!", "hello", "##s",
]
# One layer: export time is mostly tracing, which grows with depth.
CONFIG = ElectraConfig.from_preset("tiny").replace(num_layers=1)  # sequence_length 32
LABELS = ["neg", "pos", "neutral"]
ODD_TEXTS = [
    "",
    " \t\n ",
    "今天天气很好" * 20_000,  # 120,000 characters
    b"\xff\xfe\xc3(nice\x80",  # invalid UTF-8
    "a\x00nice\x00",
    "😀🎉 nice",
    "hello 今天 привет مرحبا नमस्ते",
    "the weather [MASK] nice",
]


@pytest.fixture(scope="module")
def pretrainer_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("pretrainer")
    tokenizer = tokenization.make_tokenizer(VOCAB)
    pretrainer = ElectraPretrainer(
        CONFIG, vocabulary_size=len(VOCAB),
        special_token_ids=tokenization.special_token_ids(tokenizer), seed=0,
    )
    pretrainer.save_to_preset(path, tokenizer)
    return path


@pytest.fixture(scope="module")
def pretrainer(pretrainer_dir):
    pretrainer = ElectraPretrainer.from_preset(pretrainer_dir)
    return pretrainer, pretrainer.tokenizer


@pytest.fixture(scope="module")
def classifier():
    return ElectraClassifier.from_scratch(
        CONFIG, VOCAB, label_names=LABELS, sequence_length=16
    )


@pytest.fixture(scope="module")
def exports(tmp_path_factory, pretrainer_dir, pretrainer, classifier):
    """`{kind: export dir}`; the discriminator through scripts/export.py."""
    base = tmp_path_factory.mktemp("serving")
    run_export_script(f"--model_dir={pretrainer_dir}", f"--export_dir={base}",
                      "--model_name=discriminator", "--version=3", "--nocheck_ops")
    servables = {
        "generator": GeneratorServable.from_pretrainer(*pretrainer),
        "classifier": ClassifierServable(classifier, pairs=True),
    }
    paths = {"discriminator": base / "discriminator" / "3"}
    for kind, servable in servables.items():
        # Ops are checked once for all exports, in test_exports_use_only_servable_ops.
        paths[kind] = export_for_serving(servable, base, kind, check_ops=False)
    serving.write_models_config(base)
    return paths


@pytest.fixture(scope="module")
def loaded(exports):
    return {kind: tf.saved_model.load(str(path)) for kind, path in exports.items()}


def text_inputs(kind, texts):
    texts = as_strings(texts)
    if kind == "classifier":
        return {"text": texts, "text_pair": texts[::-1].copy()}
    return {"text": texts}


def test_tf_serving_layout_warmup_and_models_config(exports, loaded):
    base = exports["discriminator"].parents[1]
    assert sorted(p.name for p in base.iterdir()) == [
        "classifier", "discriminator", "generator", "models.config"]
    assert [p.name for p in (base / "generator").iterdir()] == ["1"]  # no partial left
    config = text_format.Parse(
        (base / "models.config").read_text(),
        __import__("tensorflow_serving.config.model_server_config_pb2",
                   fromlist=["x"]).ModelServerConfig(),
    )
    assert {(c.name, c.base_path) for c in config.model_config_list.config} == {
        (k, f"/models/{k}") for k in exports}

    from tensorflow_serving.apis import prediction_log_pb2

    for kind, path in exports.items():
        records = list(tf.data.TFRecordDataset(
            str(path / "assets.extra" / serving.WARMUP_FILENAME)).as_numpy_iterator())
        assert 1 <= len(records) <= 1000
        request = prediction_log_pb2.PredictionLog.FromString(records[0]).predict_log.request
        assert request.model_spec.name == kind
        assert request.model_spec.signature_name == DEFAULT_SIGNATURE
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        signature = loaded[kind].signatures[DEFAULT_SIGNATURE]
        assert set(inputs) == set(signature.structured_input_signature[1])
        call(signature, **inputs)  # the warm-up request is answered


def test_a_version_is_never_overwritten(exports, pretrainer, tmp_path):
    servable = GeneratorServable.from_pretrainer(*pretrainer)
    with pytest.raises(FileExistsError, match="--version"):
        export_for_serving(servable, exports["generator"].parents[1], "generator", version=1)


def test_discriminator_outputs(loaded, pretrainer):
    model, tokenizer = pretrainer
    out = call(loaded["discriminator"].signatures[DEFAULT_SIGNATURE],
               text=as_strings(["今天 nicely", "hello"]))
    assert out["tokens"][0, :6].tolist() == [b"[CLS]", "今".encode(), "天".encode(),
                                             b"nice", b"##ly", b"[SEP]"]
    assert out["num_tokens"].tolist() == [6, 3] and not out["truncated"].any()
    # The same numbers as the Keras discriminator + head on the same ids.
    ids = np.zeros((2, CONFIG.sequence_length), "int32")
    ids[0, :6] = [2, *map(tokenizer.token_to_id, ["今", "天", "nice", "##ly"]), 3]
    ids[1, :3] = [2, tokenizer.token_to_id("hello"), 3]
    inputs = {"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": (ids > 0).astype("int32")}
    logits = model.rtd_head(model.discriminator(inputs)["sequence_output"]).numpy()
    expected = (1 / (1 + np.exp(-logits))) * inputs["padding_mask"]
    np.testing.assert_allclose(out["replaced_probability"], expected, atol=1e-5)
    assert out["tokens"][1, 3] == b"" and out["replaced_probability"][1, 3] == 0


def test_generator_fills_masks(loaded):
    signature = loaded["generator"].signatures[DEFAULT_SIGNATURE]
    text = "今天[MASK]气 nice[MASK] [MASK]"
    out = call(signature, text=as_strings([text, "no mask here", "今" * 40 + "[MASK]"]))
    assert out["num_masks"].tolist() == [3, 0, 0]
    tokens = [t.decode() for t in out["predicted_tokens"][0, :3]]
    assert all(t and t not in tokenization.SPECIAL_TOKENS for t in tokens)
    fills = [t.removeprefix("##") for t in tokens]
    assert out["filled_text"][0].decode() == "今天{}气 nice{} {}".format(*fills)
    assert out["filled_text"][1] == b"no mask here"
    # A [MASK] past the sequence length is reported, and left in the text.
    assert out["truncated"].tolist() == [False, False, True]
    assert out["filled_text"][2].decode().endswith("[MASK]")
    assert (out["probabilities"][0, :3] > 0).all() and out["probabilities"][1:].max() == 0


def test_generator_answers_as_the_keras_generator(loaded, pretrainer):
    """At each [MASK]: the likeliest non-special token of the Keras `ElectraGenerator`'s
    logits, with its probability under the softmax over the non-special tokens."""
    model, tokenizer = pretrainer
    texts = ["今天 [MASK] 气 nice [MASK] 的", "[MASK] hello"]
    ids = np.zeros((2, CONFIG.sequence_length), "int32")
    ids[0, :9] = [2, *map(tokenizer.token_to_id, ["今", "天", "[MASK]", "气", "nice",
                                                  "[MASK]", "的"]), 3]
    ids[1, :4] = [2, tokenizer.token_to_id("[MASK]"), tokenizer.token_to_id("hello"), 3]
    positions = np.array([[3, 6], [1, 0]], "int32")
    num_masks = [2, 1]
    inputs = {"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": (ids > 0).astype("int32")}
    logits = model.generator({**inputs, "mask_positions": positions}).numpy().astype("float64")
    special = list(tokenization.special_token_ids(tokenizer).values())
    logits[..., special] = -np.inf
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    vocabulary = tokenizer.get_vocabulary()
    by_text = call(loaded["generator"].signatures[DEFAULT_SIGNATURE], text=as_strings(texts))
    by_ids = call(loaded["generator"].signatures[IDS_SIGNATURE], **inputs)
    for out in (by_text, by_ids):
        assert out["num_masks"].tolist() == num_masks
        for row, count in enumerate(num_masks):
            best = expected[row, :count].argmax(-1)
            assert [t.decode() for t in out["predicted_tokens"][row, :count]] == [
                vocabulary[i] for i in best]
            np.testing.assert_allclose(out["probabilities"][row, :count],
                                       expected[row, :count].max(-1), atol=1e-5)
        assert out["predicted_tokens"][1, 1] == b"" and out["probabilities"][1, 1] == 0
    # The softmax spreads over many tokens: an untrained model is no near-certain argmax.
    assert (expected[0, :2].max(-1) < 0.5).all()


def test_classifier_matches_model_predict(loaded, classifier):
    first, second = ["今天天气很好", "差", "hello nice"], ["明天也很好", "", "the weather"]
    out = call(loaded["classifier"].signatures[DEFAULT_SIGNATURE],
               text=as_strings(first), text_pair=as_strings(second))
    # The Keras model on its own preprocessing (`predict` would add only batching).
    logits = classifier(classifier.preprocessor(x=(tf.constant(first), tf.constant(second))))
    expected = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)
    assert [label.decode() for label in out["label"]] == [LABELS[i] for i in expected.argmax(-1)]
    np.testing.assert_allclose(out["score"], expected.max(-1), atol=1e-6)
    assert out["label_names"].tolist() == [[n.encode() for n in LABELS]] * 3


@pytest.mark.parametrize("kind", ["discriminator", "generator", "classifier"])
def test_odd_input_gets_a_defined_answer(loaded, kind):
    signature = loaded[kind].signatures[DEFAULT_SIGNATURE]
    out = call(signature, **text_inputs(kind, ODD_TEXTS))
    long_text = np.array([len(t) > 100_000 for t in ODD_TEXTS])
    if kind == "classifier":  # text_pair is the list reversed
        long_text |= long_text[::-1]
    assert out["truncated"].tolist() == long_text.tolist()
    for value in out.values():
        assert value.shape[0] == len(ODD_TEXTS)
        if value.dtype.kind == "f":
            assert np.isfinite(value).all()
    empty = call(signature, **text_inputs(kind, []))
    assert {k: v.shape[0] for k, v in empty.items()} == {k: 0 for k in out}
    if kind == "discriminator":
        # Empty and blank text: just [CLS] [SEP]; NUL reads as a space.
        assert out["num_tokens"][:2].tolist() == [2, 2]
        assert out["tokens"][4, :4].tolist() == [b"[CLS]", b"a", b"nice", b"[SEP]"]
        assert out["tokens"][3, 1] == b"[UNK]" and out["tokens"][5, 1] == b"[UNK]"


def test_ids_signature_gives_the_text_signature_answers(loaded, pretrainer):
    texts = ["今天 nicely", "hello 的 weather", ""]
    encoder = serving.TextEncoder(pretrainer[1], CONFIG.sequence_length)
    encoded = encoder(tf.constant(texts))
    ids = {name: encoded[name].numpy() for name in serving.ID_INPUTS}
    for kind in ("discriminator", "generator"):
        text_out = call(loaded[kind].signatures[DEFAULT_SIGNATURE], text=as_strings(texts))
        ids_out = call(loaded[kind].signatures[IDS_SIGNATURE], **ids)
        assert set(text_out) - set(ids_out) <= {"truncated", "filled_text"}
        for key, value in ids_out.items():
            np.testing.assert_array_equal(value, text_out[key], err_msg=key)


FRESH_TEXTS = ["今天天气很好", "hello [MASK] nice!", *ODD_TEXTS[3:]]


@pytest.fixture(scope="module")
def fresh_process(exports):
    """One process that imports TensorFlow only: op kinds, answers, saved_model_cli output.

    Everything is asked of one process because starting TensorFlow is the
    slow part. The CLI is `saved_model_cli` itself after TF Text's ops were
    loaded, as `standalone.py` does.
    """
    requests = {
        kind: (str(path), DEFAULT_SIGNATURE, text_inputs(kind, FRESH_TEXTS))
        for kind, path in exports.items()
    }
    cli_runs = [
        *show_signatures(exports["classifier"], DEFAULT_SIGNATURE, IDS_SIGNATURE),
        ["show", "--dir", str(exports["classifier"]), "--all"],
        ["run", "--dir", str(exports["discriminator"]), "--tag_set", "serve",
         "--signature_def", DEFAULT_SIGNATURE,
         "--input_exprs", "text=[b'hello nice', b'', b'\\xff\\x00']"],
    ]
    # The model folder, not a version: `predict` picks the latest.
    predict_request = (str(exports["classifier"].parent), ["今天天气很好\t明天也很好", "差\t"])
    return {"requests": requests, **ask_fresh_process(requests, cli_runs, predict_request)}


def test_fresh_tensorflow_only_process_gives_the_same_answers(fresh_process, loaded):
    assert fresh_process["imported"] == []
    for kind, (_, signature, inputs) in fresh_process["requests"].items():
        assert_same_outputs(fresh_process["answers"][kind],
                            call(loaded[kind].signatures[signature], **inputs))


def test_standalone_predict_reads_pairs_and_the_latest_version(fresh_process, loaded):
    expected = call(loaded["classifier"].signatures[DEFAULT_SIGNATURE],
                    text=as_strings(["今天天气很好", "差"]), text_pair=as_strings(["明天也很好", ""]))
    rows = fresh_process["predicted"]
    assert [row["label"] for row in rows] == [label.decode() for label in expected["label"]]
    np.testing.assert_allclose([row["probabilities"] for row in rows],
                               expected["probabilities"], atol=1e-6)
    assert rows[0]["label_names"] == LABELS and rows[0]["truncated"] is False


def test_saved_model_cli_show_and_run(fresh_process):
    *shows, (all_code, shown_all), (run_code, ran) = fresh_process["cli"]
    assert [code for code, _ in shows] == [0, 0, 0] and all_code == 0 and run_code == 0
    shown = "".join(output for _, output in shows)
    for name in (DEFAULT_SIGNATURE, IDS_SIGNATURE, "text_pair", "probabilities", "label"):
        assert name in shown
        assert name in shown_all  # `show --all`: every signature's inputs and outputs
    assert "DT_STRING" in shown_all
    assert "replaced_probability" in ran and "[CLS]" in ran


def test_exports_use_only_servable_ops(fresh_process):
    kinds = fresh_process["op_kinds"]
    assert serving_ops.unservable_ops(kinds) == []
    used_tf_text = {name for name, kind in kinds.items() if kind == "tf_text"}
    assert "FastWordpieceTokenizeWithOffsets" in used_tf_text
    assert kinds["StringSplitV2"] == "core" and kinds["MatMul"] == "core"


def test_the_op_check_rejects_what_serving_lacks():
    kinds = {"MatMul": "core", "TFText>RoundRobinTrim": "tf_text", "PyFunc": "core",
             "Addons>Foo": "unknown", "NormalizeUTF8": "tf_text"}
    assert serving_ops.unservable_ops(kinds) == ["Addons>Foo", "PyFunc", "TFText>RoundRobinTrim"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=300), max_size=4))
def test_random_bytes_never_break_the_signature(loaded, texts):
    out = call(loaded["discriminator"].signatures[DEFAULT_SIGNATURE],
               text=np.array(texts, dtype=object).reshape([len(texts)]))
    assert out["tokens"].shape == (len(texts), CONFIG.sequence_length)
    assert ((out["num_tokens"] >= 2) & (out["num_tokens"] <= CONFIG.sequence_length)).all()
    assert ((out["replaced_probability"] >= 0) & (out["replaced_probability"] <= 1)).all()
    assert all(t.decode("utf-8") is not None for t in out["tokens"].ravel())


def test_eight_threads_give_the_serial_answers(loaded):
    signature = loaded["classifier"].signatures[DEFAULT_SIGNATURE]
    rng = np.random.default_rng(0)
    words = np.array(VOCAB[5:] + ["😀", "x"], dtype=object)
    requests = [
        text_inputs("classifier", [" ".join(rng.choice(words, rng.integers(0, 20)))
                                   for _ in range(rng.integers(1, 4))])
        for _ in range(800)
    ]
    serial = [call(signature, **r)["probabilities"] for r in requests]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda r: call(signature, **r)["probabilities"], requests))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)
