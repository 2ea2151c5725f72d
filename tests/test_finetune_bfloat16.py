"""Fine-tuning under `mixed_bfloat16`: bfloat16 compute, float32 variables and outputs, a
saved model that reloads under the same policy and predicts the same, and a classifier
exported under a policy (every kind: test_export_bfloat16.py; the start-up line and
"auto": test_precision.py)."""

import json
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.config import FinetuneConfig
from electra_tf.data import corpora, tasks
from electra_tf.export import servables, serving
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.multitask.multitask import ElectraMultiTask
from electra_tf.models.tagging.tagger import ElectraTagger
from electra_tf.training import finetune

FILLER = list("的了在是和有去看说")
VOCAB = list(tokenization.SPECIAL_TOKENS) + FILLER + list("好差张三")


def keyword_sentiment(size, seed):
    """Filler characters around one keyword per review: 好 positive, 差 negative."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(2, size=size).tolist()
    texts = ["".join(rng.choice(FILLER, 3)) + "差好"[y] + "".join(rng.choice(FILLER, 2))
             for y in labels]
    return tasks.ClassificationData(texts, labels, ["neg", "pos"])


def assert_mixed_bfloat16(model):
    """bfloat16 compute in the encoder, every variable float32."""
    assert model.backbone.dtype_policy.name == "mixed_bfloat16"
    assert model.backbone.compute_dtype == "bfloat16"
    assert {variable.dtype for variable in model.weights} == {"float32"}


def test_a_bfloat16_run_trains_logs_its_dtype_and_reloads(tmp_path, monkeypatch, caplog):
    splits = {split: keyword_sentiment(48, seed)
              for seed, split in enumerate(("train", "dev", "test"))}
    monkeypatch.setattr(corpora, "chinese_sentiment", lambda: splits)
    recipe = FinetuneConfig(epochs=4, batch_size=8, sequence_length=12, learning_rate=3e-3,
                            layer_decay=1.0, dtype_policy="mixed_bfloat16")
    spec = finetune.FinetuneSpec(task="classification", dataset="chinese_sentiment",
                                 model_dir=str(tmp_path / "run"), config="tiny", vocab_size=40,
                                 recipe=recipe)
    with caplog.at_level(logging.INFO, logger="electra_tf"):
        metrics = finetune.run_finetuning(spec)
    assert any(record.getMessage().startswith("compute dtype bfloat16 (dtype_policy "
                                              "mixed_bfloat16: float32 variables)")
               for record in caplog.records)
    losses = metrics["history"]["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["spec"]["recipe"][
        "dtype_policy"] == "mixed_bfloat16"

    loaded = ElectraClassifier.from_preset(str(tmp_path / "run"))
    assert_mixed_bfloat16(loaded)
    assert loaded.predict(splits["test"].texts, verbose=0).dtype == np.float32


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A tiny pre-training model directory (random weights, float32), to load encoders from."""
    folder = tmp_path_factory.mktemp("pretrained")
    tokenizer = tokenization.make_tokenizer(VOCAB)
    ElectraPretrainer(ElectraConfig.from_preset("tiny"), vocabulary_size=len(VOCAB),
                      special_token_ids=tokenization.special_token_ids(tokenizer)
                      ).save_to_preset(folder, tokenizer)
    return folder


def test_a_loaded_classifier_trains_in_bfloat16_and_reloads_with_the_same_predictions(
        pretrained, tmp_path):
    data = keyword_sentiment(32, seed=0)
    classifier = ElectraClassifier.from_model_dir(
        str(pretrained), sequence_length=12, label_names=data.label_names,
        dtype_policy="mixed_bfloat16")
    recipe = FinetuneConfig(learning_rate=3e-3, layer_decay=1.0)
    finetune.compile_for_finetuning(classifier, recipe, None, train_steps=12)
    history = classifier.fit(data.dataset(8, shuffle_seed=0), epochs=3, shuffle=False,
                             verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert_mixed_bfloat16(classifier)
    predictions = classifier.predict(data.texts, verbose=0)
    assert predictions.dtype == np.float32

    classifier.save_to_preset(str(tmp_path / "saved"))
    reloaded = ElectraClassifier.from_preset(str(tmp_path / "saved"))
    assert_mixed_bfloat16(reloaded)
    np.testing.assert_array_equal(reloaded.predict(data.texts, verbose=0), predictions)
    # dtype= still chooses: the same weights computed in float32 are close, not equal.
    as_float32 = ElectraClassifier.from_preset(str(tmp_path / "saved"), dtype="float32")
    assert as_float32.backbone.compute_dtype == "float32"
    np.testing.assert_allclose(as_float32.predict(data.texts, verbose=0), predictions, atol=0.1)


def test_a_bfloat16_tagger_outputs_float32_and_reloads_with_the_same_predictions(
        pretrained, tmp_path):
    tagger = ElectraTagger.from_model_dir(
        str(pretrained), sequence_length=12, tag_names=["O", "B-PER", "I-PER"],
        dtype_policy="mixed_bfloat16")
    assert_mixed_bfloat16(tagger)
    # Word lists in, as `predict_tags` feeds them.
    words = tf.data.Dataset.from_tensor_slices(
        tf.ragged.constant([list("的张三了"), list("张三在看")])).ragged_batch(2)
    outputs = tagger.predict(words, verbose=0)
    assert outputs.dtype == np.float32
    tagger.save_to_preset(str(tmp_path / "tagger"))
    reloaded = ElectraTagger.from_preset(str(tmp_path / "tagger"))
    assert_mixed_bfloat16(reloaded)
    np.testing.assert_array_equal(reloaded.predict(words, verbose=0), outputs)


def test_a_classifier_exports_under_a_dtype_policy_and_serves_float32(pretrained, tmp_path):
    classifier = ElectraClassifier.from_model_dir(str(pretrained), sequence_length=12,
                                                  label_names=["neg", "pos"])
    classifier.save_to_preset(str(tmp_path / "float32"))
    texts = ["的好了", "说差看"]
    expected = keras.activations.softmax(classifier.predict(texts, verbose=0)).numpy()

    servable = servables.load_servable("classifier", tmp_path / "float32",
                                       dtype_policy="mixed_bfloat16")
    assert servable.classifier.backbone.compute_dtype == "bfloat16"
    path = serving.export_for_serving(servable, tmp_path / "exports", "sentiment")  # ops checked
    outputs = tf.saved_model.load(str(path)).signatures["serving_default"](text=tf.constant(texts))
    assert outputs["probabilities"].dtype == tf.float32
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=0.05)


def test_a_bfloat16_multitask_run_trains_and_reloads_with_float32_heads(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    sentiment = keyword_sentiment(32, seed=0)
    words = [list(rng.choice(FILLER, 2)) + list("张三") + list(rng.choice(FILLER, 2))
             for _ in range(32)]
    ner = tasks.TaggingData(words, [["O", "O", "B-PER", "I-PER", "O", "O"]] * 32,
                            ["O", "B-PER", "I-PER"])
    monkeypatch.setattr(corpora, "chinese_sentiment", lambda: {s: sentiment for s in (
        "train", "dev")})
    monkeypatch.setattr(corpora, "peoples_daily_ner", lambda: {s: ner for s in ("train", "dev")})
    recipe = FinetuneConfig(epochs=3, batch_size=8, sequence_length=12, learning_rate=3e-3,
                            layer_decay=1.0, dtype_policy="mixed_bfloat16")
    metrics = finetune.run_finetuning(finetune.FinetuneSpec(
        task="multitask", model_dir=str(tmp_path / "multi"), config="tiny", vocab_size=40,
        recipe=recipe))
    losses = metrics["history"]["loss"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]

    loaded = ElectraMultiTask.from_preset(tmp_path / "multi")
    assert_mixed_bfloat16(loaded)
    outputs = loaded(loaded.preprocessor("chinese_sentiment")(sentiment.texts[:2]))
    assert {name: output.dtype for name, output in outputs.items()} == {
        "chinese_sentiment": "float32", "peoples_daily_ner": "float32"}
