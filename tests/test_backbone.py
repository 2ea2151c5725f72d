"""electra_tf's ElectraBackbone: keras-hub's layers and variables, with a choice of GELU."""

import json

import keras
import keras_hub
import numpy as np
import pytest

from electra_tf.models.backbone import ElectraBackbone

SIZES = dict(vocab_size=40, num_layers=2, num_heads=2, hidden_dim=16, embedding_dim=8,
             intermediate_dim=32, max_sequence_length=12)


def inputs():
    ids = np.random.default_rng(0).integers(0, 40, (2, 12)).astype("int32")
    mask = np.ones_like(ids)
    mask[1, 9:] = 0
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask}


def sequence(backbone):
    return backbone(inputs())["sequence_output"].numpy()


@pytest.fixture(scope="module")
def keras_hub_backbone():
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.ElectraBackbone(**SIZES)
    # Large kernels put the feed-forward inputs where the two GELUs differ.
    backbone.set_weights([w * 30 if w.ndim == 2 else w for w in backbone.get_weights()])
    return backbone


def test_variable_layout_is_keras_hubs(keras_hub_backbone):
    ours = ElectraBackbone(**SIZES, activation="gelu")
    assert [(v.path, v.shape) for v in ours.weights] == [
        (v.path, v.shape) for v in keras_hub_backbone.weights]


def test_approximate_gelu_computes_what_keras_hub_computes(keras_hub_backbone):
    ours = ElectraBackbone.from_keras_hub(keras_hub_backbone)
    assert ours.activation == "gelu_approximate"
    np.testing.assert_array_equal(sequence(ours), sequence(keras_hub_backbone))


def test_exact_gelu_is_the_erf_form(keras_hub_backbone):
    exact = ElectraBackbone(**SIZES, activation="gelu")
    exact.set_weights(keras_hub_backbone.get_weights())
    gap = np.abs(sequence(exact) - sequence(keras_hub_backbone)).max()
    assert gap > 1e-4  # the activation really changed
    # The feed-forward Dense applies x * Phi(x).
    dense = exact.transformer_layers[0]._feedforward_intermediate_dense
    x = np.array([-1.0, 0.5, 2.0], "float32")
    phi = 0.5 * (1 + np.vectorize(__import__("math").erf)(x / np.sqrt(2)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dense.activation(x)), x * phi, rtol=1e-6)


def test_presets_both_ways(keras_hub_backbone, tmp_path):
    approximate = ElectraBackbone.from_keras_hub(keras_hub_backbone)
    approximate.save_to_preset(str(tmp_path / "approximate"))
    config = json.loads((tmp_path / "approximate" / "config.json").read_text())
    assert config["registered_name"] == "keras_hub>ElectraBackbone"  # loads without electra_tf
    loaded = keras_hub.models.ElectraBackbone.from_preset(str(tmp_path / "approximate"))
    np.testing.assert_array_equal(sequence(loaded), sequence(keras_hub_backbone))

    exact = ElectraBackbone(**SIZES, activation="gelu")
    exact.set_weights(keras_hub_backbone.get_weights())
    exact.save_to_preset(str(tmp_path / "exact"))
    config = json.loads((tmp_path / "exact" / "config.json").read_text())
    assert config["registered_name"] == "electra_tf>ElectraBackbone"
    assert config["config"]["activation"] == "gelu"
    for cls in (ElectraBackbone, keras_hub.models.ElectraBackbone):
        loaded = cls.from_preset(str(tmp_path / "exact"))
        assert isinstance(loaded, ElectraBackbone) and loaded.activation == "gelu"
        np.testing.assert_array_equal(sequence(loaded), sequence(exact))

    # A plain keras-hub preset loads into this class and keeps keras-hub's numbers.
    keras_hub_backbone.save_to_preset(str(tmp_path / "keras_hub"))
    loaded = ElectraBackbone.from_preset(str(tmp_path / "keras_hub"))
    assert loaded.activation == "gelu_approximate"
    np.testing.assert_array_equal(sequence(loaded), sequence(keras_hub_backbone))
    # And back: the exact model's weights in keras-hub's class.
    twin = exact.to_keras_hub()
    assert type(twin) is keras_hub.models.ElectraBackbone
    for a, b in zip(twin.get_weights(), exact.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="activation must be one of"):
        ElectraBackbone(**SIZES, activation="relu6")
