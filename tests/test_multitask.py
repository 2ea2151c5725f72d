import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import ElectraConfig, tokenization
from electra_tf.models import encoders
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor
from electra_tf.data.mixing import mix_tasks, sampling_probabilities
from electra_tf.models.multitask.multitask import ElectraMultiTask
from electra_tf.models.tagging.preprocessor import ElectraTaggerPreprocessor

CONFIG = ElectraConfig.from_preset("tiny")
PEOPLE, FILLER = ["张三", "李四"], list("的了在是和有去看说")
VOCAB = list(tokenization.SPECIAL_TOKENS) + sorted(set("".join(PEOPLE + FILLER) + "好差"))
TASKS = {
    "sentiment": {"kind": "classification", "labels": ["neg", "pos"], "weight": 1.0},
    "ner": {"kind": "tagging", "labels": ["O", "B-PER", "I-PER"], "weight": 1.0},
}


def make_model(**kwargs):
    keras.utils.set_random_seed(0)
    backbone, tokenizer = encoders.random_encoder(CONFIG, VOCAB)
    return ElectraMultiTask(backbone, TASKS, sequence_length=12, **kwargs), tokenizer


def pipelines(model, tokenizer, num=64, seed=0):
    rng = np.random.default_rng(seed)
    texts, labels, words, tags = [], [], [], []
    for _ in range(num):
        label = int(rng.integers(2))
        filler = list(rng.choice(FILLER, size=4))
        texts.append("".join(filler[:2]) + "差好"[label] + "".join(filler[2:]))
        labels.append(label)
        name = PEOPLE[rng.integers(2)]
        words.append(filler[:2] + list(name) + filler[2:])
        tags.append([0, 0, 1, 2, 0, 0])
    classify = ElectraTextClassifierPreprocessor(tokenizer, sequence_length=12)
    tag = ElectraTaggerPreprocessor(tokenizer, sequence_length=12)
    sentiment = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(8).map(classify)
    ner = tf.data.Dataset.from_tensor_slices(
        (tf.ragged.constant(words), tf.ragged.constant(tags))).ragged_batch(8).map(tag)
    return {"sentiment": model.task_batches("sentiment", sentiment),
            "ner": model.task_batches("ner", ner)}


def test_sampling_probabilities_and_mixing():
    assert sampling_probabilities({"a": 300, "b": 100}) == pytest.approx({"a": 0.75, "b": 0.25})
    flat = sampling_probabilities({"a": 300, "b": 100}, temperature=2.0)
    assert flat["a"] == pytest.approx(300 ** 0.5 / (300 ** 0.5 + 100 ** 0.5))
    datasets = {name: tf.data.Dataset.from_tensors(name) for name in ("a", "b")}
    draws = [d.numpy().decode() for d in mix_tasks(datasets, {"a": 300, "b": 100}, seed=0).take(800)]
    assert draws.count("a") / 800 == pytest.approx(0.75, abs=0.05)
    with pytest.raises(ValueError, match="temperature"):
        sampling_probabilities({"a": 1}, temperature=0)


def test_static_weights_set_the_gradient_mix():
    model, tokenizer = make_model()
    data = pipelines(model, tokenizer)
    batches = [next(iter(data[name])) for name in ("sentiment", "ner")]
    x = {k: tf.concat([b[0][k] for b in batches], 0) for k in batches[0][0]}
    y = {k: tf.concat([b[1][k] for b in batches], 0) for k in batches[0][1]}

    def gradients(sentiment_weight, ner_weight):
        model.tasks["sentiment"]["weight"], model.tasks["ner"]["weight"] = sentiment_weight, ner_weight
        with tf.GradientTape() as tape:
            loss = model.combine_losses(model.compute_task_losses(model(x), y))
        variables = [model.backbone.token_embedding.embeddings,
                     model.heads["sentiment"].kernel, model.heads["ner"].kernel]
        return [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, variables)]

    only_sentiment, only_ner, mixed = gradients(1.0, 0.0), gradients(0.0, 1.0), gradients(1.0, 3.0)
    np.testing.assert_allclose(mixed[0], only_sentiment[0] + 3 * only_ner[0], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(mixed[1], only_sentiment[1], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(mixed[2], 3 * only_ner[2], rtol=1e-5, atol=1e-8)
    assert not np.any(only_sentiment[2]) and not np.any(only_ner[1])


def test_uncertainty_weighting_learns_log_variances():
    model, tokenizer = make_model(uncertainty_weighting=True)
    x, y = next(iter(pipelines(model, tokenizer)["ner"]))
    with tf.GradientTape() as tape:
        losses = model.compute_task_losses(model(x), y)
        total = model.combine_losses(losses)
    gradient = tape.gradient(total, model.log_variances).numpy()
    ner, sentiment = model.task_ids["ner"], model.task_ids["sentiment"]
    # d/ds [exp(-s) L + s / 2] at s = 0 is 0.5 - L; the absent task's L is 0.
    assert gradient[ner] == pytest.approx(0.5 - float(losses["ner"]), rel=1e-5)
    assert gradient[sentiment] == pytest.approx(0.5)
    assert float(total) == pytest.approx(float(losses["ner"]))


def test_mixed_training_beats_chance_with_per_task_logs(count_traces):
    model, tokenizer = make_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    traced = count_traces(model)
    train = mix_tasks(pipelines(model, tokenizer), {"sentiment": 64, "ner": 64}, seed=0)
    history = model.fit(train, steps_per_epoch=40, epochs=2, verbose=0).history
    assert len(traced) == 1  # the heads and the optimizer were built before tracing
    assert {"sentiment_loss", "sentiment_accuracy", "ner_loss", "ner_entity_f1"} <= set(history)
    dev = pipelines(model, tokenizer, num=32, seed=1)
    sentiment = model.evaluate(dev["sentiment"], verbose=0, return_dict=True)
    ner = model.evaluate(dev["ner"], verbose=0, return_dict=True)
    assert sentiment["sentiment_accuracy"] > 0.8  # chance 0.5
    assert ner["ner_entity_f1"] > 0.8  # all-"O" scores 0
    with pytest.raises(ValueError, match="kind must be one of"):
        ElectraMultiTask(model.backbone, {"x": {"kind": "regression", "labels": ["a", "b"]}})
    with pytest.raises(ValueError, match="sequence_length=128 exceeds the encoder's 64 position"):
        ElectraMultiTask(model.backbone, TASKS)  # the default length, a tiny encoder


def test_save_load_same_predictions(tmp_path):
    keras.utils.set_random_seed(0)
    backbone, tokenizer = encoders.random_encoder(CONFIG, VOCAB)
    model = ElectraMultiTask(backbone, TASKS, tokenizer=tokenizer, sequence_length=12)
    x, _ = next(iter(pipelines(model, tokenizer)["ner"]))
    before = model(x)
    model.save_to_preset(tmp_path / "multi")
    loaded = ElectraMultiTask.from_preset(tmp_path / "multi")
    after = loaded(x)
    for name in TASKS:
        np.testing.assert_allclose(before[name], after[name], atol=1e-5)
    assert loaded.tasks == model.tasks and loaded.sequence_length == 12
    assert loaded.tokenizer.get_vocabulary() == VOCAB
    # The reloaded preprocessor turns raw text into the same ids.
    text = tf.constant(["张三的好"])
    np.testing.assert_array_equal(loaded.preprocessor("sentiment")(text)["token_ids"],
                                  model.preprocessor("sentiment")(text)["token_ids"])
    with pytest.raises(ValueError, match="holds no saved model"):
        ElectraMultiTask.from_preset(tmp_path)
