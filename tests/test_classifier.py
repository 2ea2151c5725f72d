import warnings

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from electra_tf import ElectraConfig, ElectraPretrainer, tokenization
from electra_tf.models.classification.classifier import ElectraClassifier
from electra_tf.models.classification.preprocessor import ElectraTextClassifierPreprocessor
from electra_tf.optimizers import create_finetuning_optimizer

KEYS = ["bad", "good", "meh"]
VOCAB = list(tokenization.SPECIAL_TOKENS) + KEYS + [f"w{i}" for i in range(20)]
CONFIG = ElectraConfig.from_preset("tiny")
LABELS = ["neg", "pos", "neutral"]


def keyword_texts(num, seed=0):
    """The class is the one keyword hidden among filler words."""
    rng = np.random.default_rng(seed)
    texts, labels = [], rng.integers(len(KEYS), size=num)
    for label in labels:
        words = [f"w{j}" for j in rng.integers(20, size=5)]
        words.insert(rng.integers(6), KEYS[label])
        texts.append(" ".join(words))
    return texts, labels


def make_classifier(**kwargs):
    kwargs.setdefault("label_names", LABELS)
    return ElectraClassifier.from_scratch(CONFIG, VOCAB, sequence_length=16, **kwargs)


def test_three_classes_on_raw_strings_beat_chance(count_traces):
    keras.utils.set_random_seed(0)
    classifier = make_classifier()
    # The fine-tuning recipe (layer-wise decay, warmup) inside a compiled fit.
    classifier.compile(optimizer=create_finetuning_optimizer(
        CONFIG, train_steps=60, learning_rate=3e-3, layer_decay=0.8))
    # keras-hub tasks compile in their constructor: no optimizer slots before training.
    assert not classifier.optimizer.built
    traced = count_traces(classifier)
    texts, labels = keyword_texts(320)
    classifier.fit(texts, labels, batch_size=16, epochs=3, verbose=0)
    assert len(traced) == 1  # the optimizer is built before tracing, not inside it
    test_texts, test_labels = keyword_texts(90, seed=1)
    accuracy = classifier.evaluate(test_texts, test_labels, verbose=0, return_dict=True)
    assert accuracy["sparse_categorical_accuracy"] > 0.75  # chance is 1/3
    predicted = classifier.predict_labels(test_texts[:10])
    assert predicted == [LABELS[i] for i in np.argmax(classifier.predict(test_texts[:10], verbose=0), -1)]
    assert set(predicted) <= set(LABELS)


def test_heads_read_the_raw_first_token_vector():
    electra = make_classifier(dropout=0.1)
    dense = [l.name for l in electra.layers if isinstance(l, keras.layers.Dense)]
    assert dense == ["logits"]
    hf = make_classifier(head="hf")
    dense = [l.name for l in hf.layers if isinstance(l, keras.layers.Dense)]
    assert dense == ["classifier_dense", "logits"]
    assert hf.get_layer("classifier_dense").kernel.shape == (CONFIG.hidden_size, CONFIG.hidden_size)
    assert electra.dropout == 0.1 and hf.dropout == CONFIG.dropout
    # The untrained tanh pooler is out of the graph and frozen.
    assert not electra.backbone.pooled_dense.trainable
    batch = electra.preprocessor(["w1 good", "w2 bad"])
    sequence = electra.backbone(batch)["sequence_output"]
    head = electra.get_layer("logits")
    np.testing.assert_allclose(electra(batch), head(sequence[:, 0, :]), atol=1e-5)


def test_sentence_pairs_are_packed_with_waterfall_truncation():
    tokenizer = tokenization.make_tokenizer(VOCAB)
    preprocessor = ElectraTextClassifierPreprocessor(tokenizer, sequence_length=8)
    first, second = tf.constant(["w1 w2", "w1 w2 w3 w4"]), tf.constant(["w5 w6", "w5 w6 w7"])
    packed = preprocessor(x=(first, second))
    ids = {t: tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "w1", "w4", "w5", "w6")}
    np.testing.assert_array_equal(
        packed["token_ids"][0][:7].numpy(),
        [ids["[CLS]"], ids["w1"], tokenizer.token_to_id("w2"), ids["[SEP]"], ids["w5"], ids["w6"], ids["[SEP]"]],
    )
    np.testing.assert_array_equal(packed["segment_ids"][0].numpy(), [0, 0, 0, 0, 1, 1, 1, 0])
    # Waterfall keeps the first segment whole and trims the second.
    assert packed["token_ids"][1][4].numpy() == ids["w4"]
    np.testing.assert_array_equal(packed["segment_ids"][1].numpy(), [0, 0, 0, 0, 0, 0, 1, 1])
    classifier = make_classifier()
    assert classifier(classifier.preprocessor(x=(first, second))).shape == (2, 3)


def test_save_load_same_predictions_and_label_names(tmp_path):
    # Freshly initialised heads differ run to run, so equal outputs mean loaded weights.
    classifier = make_classifier(head="hf")
    classifier.save_to_preset(str(tmp_path))
    texts, _ = keyword_texts(8)
    for loaded in (
        ElectraClassifier.from_preset(str(tmp_path)),
        keras_hub.models.TextClassifier.from_preset(str(tmp_path)),
    ):
        assert isinstance(loaded, ElectraClassifier)
        assert loaded.label_names == LABELS and loaded.head == "hf"
        assert loaded.preprocessor.sequence_length == 16
        assert loaded.preprocessor.tokenizer.get_vocabulary() == VOCAB
        np.testing.assert_allclose(
            loaded(loaded.preprocessor(texts)), classifier(classifier.preprocessor(texts)), atol=1e-5
        )


def test_a_trained_classifier_loads_for_prediction_without_warnings(tmp_path):
    """Its saved optimizer state has no place in the loaded task's optimizer, which
    makes its slots when training starts; Keras warned that it skipped them."""
    classifier = make_classifier()
    texts, labels = keyword_texts(8)
    classifier.fit(texts, labels, batch_size=4, epochs=1, shuffle=False, verbose=0)
    classifier.save_to_preset(str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = ElectraClassifier.from_preset(str(tmp_path))
    assert loaded.predict_labels(texts) == classifier.predict_labels(texts)


def test_starts_from_a_pretraining_model_dir(tmp_path):
    pretrainer = ElectraPretrainer(
        CONFIG, vocabulary_size=len(VOCAB),
        special_token_ids=tokenization.special_token_ids(tokenization.make_tokenizer(VOCAB)),
    )
    pretrainer.save_to_preset(tmp_path / "run", tokenization.make_tokenizer(VOCAB))
    classifier = ElectraClassifier.from_model_dir(tmp_path / "run", num_classes=2)
    assert classifier.preprocessor.sequence_length == CONFIG.sequence_length
    for ours, theirs in zip(classifier.backbone.weights, pretrainer.discriminator.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    # A plain keras-hub backbone preset works the same way.
    pretrainer.discriminator.save_to_preset(str(tmp_path / "backbone"))
    tokenization.make_tokenizer(VOCAB).save_to_preset(str(tmp_path / "backbone"))
    preset = ElectraClassifier.from_model_dir(tmp_path / "backbone", num_classes=2)
    assert preset.preprocessor.sequence_length == 64  # 128, capped at the tiny encoder's positions


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="num_classes=2 but 3 label_names"):
        make_classifier(num_classes=2)
    with pytest.raises(ValueError, match="repeats"):
        make_classifier(label_names=["a", "a"])
    with pytest.raises(ValueError, match="head must be one of"):
        make_classifier(head="pooler")
    with pytest.raises(ValueError, match="num_classes >= 2"):
        make_classifier(label_names=None)
    # The tiny config has 64 positions.
    with pytest.raises(ValueError, match="sequence_length=128 exceeds the encoder's 64 position"):
        ElectraClassifier.from_scratch(CONFIG, VOCAB, label_names=LABELS, sequence_length=128)
