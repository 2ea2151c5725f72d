"""The tagger export: in-graph word splitting, windows and BIO decoding agree with `ElectraTagger.tag`."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from electra_tf import ElectraConfig, tokenization
from electra_tf.data.tagging import entities_from_tags, split_words
from electra_tf.export import (
    DEFAULT_SIGNATURE, IDS_SIGNATURE, TaggerServable, serving, serving_ops, tagging)
from electra_tf.models.tagging.tagger import ElectraTagger
from export_helpers import (
    assert_same_outputs, call, export_and_load, fresh_process, show_signatures)

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-LOC", "S-PER"]
VOCAB = list(tokenization.SPECIAL_TOKENS) + list("江泽民在北京克林顿华盛") + [
    "hello", "world", ",", "!", "##s"]


# Unassigned code points (Cn) are left out: RE2's Unicode tables are newer
# than Python 3.11's, so they may call a character a letter that Python does not.
@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Cn"]), max_size=40))
def test_words_and_offsets_match_split_words(text):
    words, starts, ends = tagging.split_words_with_offsets(tf.constant([text]))
    expected_words, expected_offsets = split_words(text)
    assert [w.decode() for w in words[0].numpy()] == expected_words
    assert list(zip(starts[0].numpy(), ends[0].numpy())) == expected_offsets


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.sampled_from(TAGS), max_size=12), min_size=1, max_size=6))
def test_bio_decoding_matches_entities_from_tags(sequences):
    width = max(map(len, sequences))
    entities = tagging.bio_entities(tf.constant(
        [s + ["O"] * (width - len(s)) for s in sequences], tf.string, [len(sequences), width]))
    types = entities["type"].numpy()
    for i, tags in enumerate(sequences):
        got = [(types[i, first].decode(), first, last) for first, last in
               zip(entities["first"][i].numpy(), entities["last"][i].numpy())]
        assert got == entities_from_tags(tags)


@pytest.fixture(scope="module")
def tagger():
    return ElectraTagger.from_scratch(
        ElectraConfig.from_preset("tiny").replace(num_layers=1), VOCAB,
        tag_names=TAGS, sequence_length=16,
    )


@pytest.fixture(scope="module")
def export(tagger, tmp_path_factory):
    return export_and_load(TaggerServable(tagger), tmp_path_factory.mktemp("tagger"), "tagger")


@pytest.fixture(scope="module")
def loaded(export):
    return export[1]


def entities(out, i):
    return [
        {"type": out["entity_type"][i, j].decode(), "start": int(out["entity_start"][i, j]),
         "end": int(out["entity_end"][i, j]), "text": out["entity_text"][i, j].decode()}
        for j in range(out["num_entities"][i])
    ]


# Several 14-piece windows each (sequence length 16); "hellos" is two pieces,
# so windows break inside runs that do not divide evenly.
LONG_TEXTS = ["江泽民在北京 hellos, world!" * 6, "克林顿 在华盛顿" * 9 + " hellos" * 7]


def test_entities_match_tag(loaded, tagger):
    texts = ["江泽民在北京 hello, world!", "", "克林顿 在华盛顿 hellos", "\u3000北京！", *LONG_TEXTS]
    out = call(loaded.signatures[DEFAULT_SIGNATURE], text=tf.constant(texts))
    for i, expected in enumerate(tagger.tag(texts)):
        assert entities(out, i) == expected
    assert not out["truncated"].any()
    words = [len(split_words(t)[0]) for t in texts]
    assert out["num_words"].tolist() == words and words[:4] == [10, 0, 8, 3]
    assert min(words[4:]) > 3 * 14  # each long text spans more than three windows
    # Word tags equal the Python tagger's, window boundaries included.
    expected_tags = tagger.predict_tags([split_words(t)[0] for t in texts])
    for i, tags in enumerate(expected_tags):
        assert [t.decode() for t in out["word_tags"][i, :words[i]]] == tags


def test_long_and_odd_text(loaded):
    odd = ["江" * 100_000, b"\xff\x00\xfe", "😀", " \t", "北京" * 20]
    out = call(loaded.signatures[DEFAULT_SIGNATURE], text=tf.constant(odd))
    assert out["truncated"].tolist() == [True, False, False, False, False]
    # Eight windows of 16 slots - [CLS] - [SEP]; the bad bytes become "\ufffd \ufffd".
    assert out["num_words"].tolist() == [8 * 14, 2, 1, 0, 40]
    assert out["entity_end"].max() <= 8 * 14
    empty = loaded.signatures[DEFAULT_SIGNATURE](text=tf.constant([], tf.string))
    assert empty["entity_type"].shape[0] == 0 and empty["words"].shape[0] == 0
    ids = np.array([[2, 5, 6, 3, 0]], "int32")
    by_ids = loaded.signatures[IDS_SIGNATURE](
        token_ids=ids, segment_ids=0 * ids, padding_mask=(ids > 0).astype("int32"))
    tags = by_ids["token_tags"].numpy()[0]
    assert tags[0] == b"" and tags[3:].tolist() == [b"", b""] and all(t in
        [n.encode() for n in TAGS] for t in tags[1:3])


def warmup_requests(export_dir):
    """The export's `assets.extra/tf_serving_warmup_requests` as PredictRequests."""
    from tensorflow_serving.apis import prediction_log_pb2

    records = tf.data.TFRecordDataset(
        str(export_dir / "assets.extra" / serving.WARMUP_FILENAME)).as_numpy_iterator()
    return [prediction_log_pb2.PredictionLog.FromString(r).predict_log.request for r in records]


def test_warmup_records_are_answered(export, loaded):
    requests = warmup_requests(export[0])
    # One per text signature: the tagger has one, serving_default.
    assert [(r.model_spec.name, r.model_spec.signature_name) for r in requests] == [
        ("tagger", DEFAULT_SIGNATURE)]
    inputs = {k: tf.make_ndarray(v) for k, v in requests[0].inputs.items()}
    signature = loaded.signatures[DEFAULT_SIGNATURE]
    assert set(inputs) == set(signature.structured_input_signature[1]) == {"text"}
    out = call(signature, **inputs)
    assert out["num_words"].shape == (len(inputs["text"]),) and out["num_words"].max() > 0


def test_tensorflow_only_process_ops_saved_model_cli_and_warmup(export, loaded):
    """As the server would: only servable ops, `saved_model_cli` (TF1-session loading)
    shows and runs it, and the warm-up records replayed give the in-Python answers."""
    path = export[0]
    texts = np.array([t.encode() for t in ["江泽民在北京", "", *LONG_TEXTS]] + [b"\xff"], object)
    requests = {"text": (str(path), DEFAULT_SIGNATURE, {"text": texts})}
    for i, request in enumerate(warmup_requests(path)):
        requests[f"warmup{i}"] = (str(path), request.model_spec.signature_name,
                                  {k: tf.make_ndarray(v) for k, v in request.inputs.items()})
    cli_runs = [
        *show_signatures(path, DEFAULT_SIGNATURE, IDS_SIGNATURE),
        ["run", "--dir", str(path), "--tag_set", "serve", "--signature_def", DEFAULT_SIGNATURE,
         "--input_exprs", "text=[b'\\xe6\\xb1\\x9f hello, world!', b'', b'\\xff\\x00']"],
    ]
    result = fresh_process(requests, cli_runs=cli_runs)
    assert result["imported"] == []

    kinds = result["op_kinds"]
    assert serving_ops.unservable_ops(kinds) == []
    assert kinds["RegexSplitWithOffsets"] == "tf_text"  # the word splitting
    assert "FastWordpieceTokenizeWithOffsets" in kinds or "WordpieceTokenizeWithOffsets" in kinds

    for key, (_, signature, inputs) in requests.items():
        assert_same_outputs(result["answers"][key], call(loaded.signatures[signature], **inputs))

    (keys_code, keys), (text_code, shown_text), (ids_code, shown_ids), (run_code, ran) = (
        result["cli"])
    assert keys_code == text_code == ids_code == run_code == 0
    assert DEFAULT_SIGNATURE in keys and IDS_SIGNATURE in keys
    for name in ("text", "DT_STRING", "entity_text", "entity_start", "word_tags", "num_words"):
        assert name in shown_text, name
    for name in ("token_ids", "padding_mask", "token_tags", "token_tag_probability"):
        assert name in shown_ids, name
    for name in ("entity_type", "word_tags", "words", "truncated"):
        assert name in ran, name
    assert "hello" in ran and "world" in ran  # the words came back
