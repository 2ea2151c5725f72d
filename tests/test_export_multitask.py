"""The multi-task export: every head's answer from one string-in request, as in Python."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import ElectraConfig, tokenization
from electra_tf.export import DEFAULT_SIGNATURE, IDS_SIGNATURE, serving, serving_ops
from electra_tf.models import encoders
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor
from electra_tf.models.multitask.multitask import ElectraMultiTask
from electra_tf.models.tagging.preprocessor import ElectraTaggerPreprocessor
from electra_tf.models.tagging.tagger import ElectraTagger
from export_helpers import (
    as_strings, assert_same_outputs, call, fresh_process, run_export_script, show_signatures)

VOCAB = list(tokenization.SPECIAL_TOKENS) + list("江泽民在北京克林顿华盛很好差") + [
    "hello", "world", ",", "!", "##s"]
LENGTH = 16
TASKS = {
    "sentiment": {"kind": "classification", "labels": ["neg", "pos"]},
    "ner": {"kind": "tagging", "labels": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]},
}
TEXTS = ["江泽民在北京 hello, world!", "很差", "", "克林顿 在华盛顿 hellos " * 8]
ODD = ["江" * 100_000, b"\xff\x00\xfe", "😀 北京", " \t"]


@pytest.fixture(scope="module")
def parts():
    keras.utils.set_random_seed(0)
    backbone, tokenizer = encoders.random_encoder(
        ElectraConfig.from_preset("tiny").replace(num_layers=1), VOCAB)
    return ElectraMultiTask(backbone, TASKS, tokenizer=tokenizer, sequence_length=LENGTH), tokenizer


@pytest.fixture(scope="module")
def export(parts, tmp_path_factory):
    """Saved by the model, exported by the script: the export serves the reloaded model."""
    model, _ = parts
    model_dir = tmp_path_factory.mktemp("multi")
    model.save_to_preset(model_dir)
    base = tmp_path_factory.mktemp("serving")
    run_export_script(f"--model_dir={model_dir}", f"--export_dir={base}", "--nocheck_ops")
    path = base / "multitask" / "1"
    return path, tf.saved_model.load(str(path))


def test_heads_match_the_model_in_python(export, parts):
    model, tokenizer = parts
    out = call(export[1].signatures[DEFAULT_SIGNATURE], text=as_strings(TEXTS))
    classify = ElectraTextClassifierPreprocessor(tokenizer, sequence_length=LENGTH)
    logits = model(classify(tf.constant(TEXTS)))["sentiment"]
    expected = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(out["sentiment_probabilities"], expected, atol=1e-5)
    assert expected.shape == (len(TEXTS), 2)
    assert out["sentiment_label"].tolist() == [[b"neg", b"pos"][i] for i in expected.argmax(-1)]
    assert out["truncated"].tolist() == [False, False, False, True]
    # The tagging head, run as an ElectraTagger with the same weights: tag() windows in Python.
    tagger = ElectraTagger(model.backbone, TASKS["ner"]["labels"],
                           preprocessor=ElectraTaggerPreprocessor(tokenizer, LENGTH))
    tagger.tag_dense.set_weights(model.heads["ner"].get_weights())
    for i, entities in enumerate(tagger.tag(TEXTS)):
        got = [{"type": out["ner_entity_type"][i, j].decode(),
                "start": int(out["ner_entity_start"][i, j]),
                "end": int(out["ner_entity_end"][i, j]),
                "text": out["ner_entity_text"][i, j].decode()}
               for j in range(out["ner_num_entities"][i])]
        assert got == entities
    assert not out["tagging_truncated"].any() and out["num_words"][3] > 3 * (LENGTH - 2)


def test_odd_input_the_ids_signature_and_warmup(export):
    signature = export[1].signatures[DEFAULT_SIGNATURE]
    out = call(signature, text=as_strings(ODD))
    assert out["truncated"].tolist() == [True, False, False, False]
    assert out["tagging_truncated"].tolist() == [True, False, False, False]
    assert out["num_words"].tolist() == [8 * (LENGTH - 2), 2, 3, 0]
    assert all(np.isfinite(v).all() for v in out.values() if v.dtype.kind == "f")
    empty = call(signature, text=np.array([], object))
    assert {k: v.shape[0] for k, v in empty.items()} == {k: 0 for k in out}
    encoded = serving.TextEncoder(tokenization.make_tokenizer(VOCAB), LENGTH)(
        tf.constant(["江泽民在北京"]))
    by_ids = call(export[1].signatures[IDS_SIGNATURE],
                  **{n: encoded[n].numpy() for n in serving.ID_INPUTS})
    by_text = call(signature, text=as_strings(["江泽民在北京"]))
    np.testing.assert_allclose(by_ids["sentiment_probabilities"],
                               by_text["sentiment_probabilities"], atol=1e-6)
    assert by_ids["ner_token_tags"][0, 1:7].tolist() == by_text["ner_word_tags"][0, :6].tolist()
    from tensorflow_serving.apis import prediction_log_pb2

    (record,) = tf.data.TFRecordDataset(
        str(export[0] / "assets.extra" / serving.WARMUP_FILENAME)).as_numpy_iterator()
    request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
    call(signature, **{k: tf.make_ndarray(v) for k, v in request.inputs.items()})  # answered
    assert "multitask" in (export[0].parents[1] / "models.config").read_text()


def test_tensorflow_only_process_ops_and_saved_model_cli(export):
    path, loaded = export
    inputs = {"text": as_strings(TEXTS + ODD[1:])}
    result = fresh_process(
        {"text": (str(path), DEFAULT_SIGNATURE, inputs)},
        cli_runs=[*show_signatures(path, DEFAULT_SIGNATURE),
                  ["run", "--dir", str(path), "--tag_set", "serve", "--signature_def",
                   DEFAULT_SIGNATURE, "--input_exprs", "text=[b'hello world', b'\\xff']"]],
    )
    assert result["imported"] == []
    assert serving_ops.unservable_ops(result["op_kinds"]) == []
    assert_same_outputs(result["answers"]["text"],
                        call(loaded.signatures[DEFAULT_SIGNATURE], **inputs))
    (keys_code, keys), (show_code, shown), (run_code, ran) = result["cli"]
    assert keys_code == show_code == run_code == 0
    assert DEFAULT_SIGNATURE in keys and IDS_SIGNATURE in keys
    assert "ner_entity_text" in shown and "sentiment_probabilities" in shown
    assert "ner_word_tags" in ran
