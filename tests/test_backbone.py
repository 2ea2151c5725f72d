"""electra_tf's ElectraBackbone: keras-hub's layers and variables, with a choice of GELU
and of block order (post- or pre-LayerNorm)."""

import json
import os
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest

from electra_tf import tokenization
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


def test_builds_keras_hubs_graph():
    """The same layers created in the same order draw the same initial weights."""
    keras.utils.set_random_seed(3)
    theirs = keras_hub.models.ElectraBackbone(**SIZES)
    keras.utils.set_random_seed(3)
    ours = ElectraBackbone(**SIZES)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sequence(ours), sequence(theirs))
    assert ours.final_layer_norm is None and not ours.normalize_first


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


# ------------------------------------------------------------------ pre-LayerNorm
def layer_norm(x, norm):
    gamma, beta = (norm.gamma.numpy(), norm.beta.numpy())
    mean, variance = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + norm.epsilon) * gamma + beta


def dense(x, layer):
    return x @ layer.kernel.numpy() + layer.bias.numpy()


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def reference_encoder(backbone, data, normalize_first):
    """The backbone's sequence output computed in float64 numpy from its variables."""
    ids, segments, mask = data["token_ids"], data["segment_ids"], data["padding_mask"]
    x = (backbone.token_embedding.embeddings.numpy()[ids]
         + backbone.position_embedding.position_embeddings.numpy()[None, :ids.shape[1]]
         + backbone.segment_embedding.embeddings.numpy()[segments]).astype("float64")
    x = dense(layer_norm(x, backbone.embeddings_layer_norm), backbone.embeddings_projection)
    for layer in backbone.transformer_layers:
        attention = layer._self_attention_layer

        def heads(y, projection):  # [batch, length, heads, head size]
            kernel, bias = projection.kernel.numpy(), projection.bias.numpy()
            return np.einsum("bld,dnh->blnh", y, kernel) + bias

        y = layer_norm(x, layer._self_attention_layer_norm) if normalize_first else x
        query, key, value = (heads(y, attention._query_dense), heads(y, attention._key_dense),
                             heads(y, attention._value_dense))
        scores = np.einsum("bqnh,bknh->bnqk", query, key) / np.sqrt(query.shape[-1])
        scores = np.where(mask[:, None, None, :] > 0, scores, -1e9)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        context = np.einsum("bnqk,bknh->bqnh", weights, value)
        output = np.einsum("bqnh,nhd->bqd", context, attention._output_dense.kernel.numpy())
        x = x + output + attention._output_dense.bias.numpy()
        if not normalize_first:
            x = layer_norm(x, layer._self_attention_layer_norm)
        y = layer_norm(x, layer._feedforward_layer_norm) if normalize_first else x
        y = dense(gelu_tanh(dense(y, layer._feedforward_intermediate_dense)),
                  layer._feedforward_output_dense)
        x = x + y
        if not normalize_first:
            x = layer_norm(x, layer._feedforward_layer_norm)
    return layer_norm(x, backbone.final_layer_norm) if normalize_first else x


@pytest.fixture(scope="module")
def pre_and_post_ln():
    """A pre-LN backbone with random LayerNorm scales and shifts, and a post-LN one sharing
    every variable it has."""
    keras.utils.set_random_seed(1)
    pre = ElectraBackbone(**SIZES, normalize_first=True)
    rng = np.random.default_rng(1)
    for variable in pre.weights:
        base = 1.0 if variable.path.endswith("gamma") else 0.0
        variable.assign(base + 0.3 * rng.standard_normal(variable.shape).astype("float32"))
    post = ElectraBackbone(**SIZES)
    by_path = {v.path: v for v in pre.weights}
    for variable in post.weights:
        variable.assign(by_path[variable.path])
    assert set(by_path) - {v.path for v in post.weights} == {
        "final_layer_norm/gamma", "final_layer_norm/beta"}
    return pre, post


def test_pre_ln_computes_pre_ln_blocks_and_a_final_layer_norm(pre_and_post_ln):
    pre, post = pre_and_post_ln
    assert all(layer.normalize_first for layer in pre.transformer_layers)
    assert pre.final_layer_norm.epsilon == 1e-12
    data = inputs()
    # The reference is right for post-LN (keras-hub's layout) and pre-LN alike.
    np.testing.assert_allclose(sequence(post), reference_encoder(post, data, False), atol=2e-5)
    np.testing.assert_allclose(sequence(pre), reference_encoder(pre, data, True), atol=2e-5)
    assert np.abs(sequence(pre) - sequence(post)).max() > 0.1
    # The pooled output reads the final LayerNorm's [CLS] row.
    pooled = pre(data)["pooled_output"].numpy()
    np.testing.assert_allclose(pooled, np.tanh(dense(sequence(pre)[:, 0], pre.pooled_dense)),
                               atol=2e-5)


def test_pre_ln_presets_record_this_class(pre_and_post_ln, tmp_path):
    pre, _ = pre_and_post_ln
    pre.save_to_preset(str(tmp_path / "pre_ln"))
    config = json.loads((tmp_path / "pre_ln" / "config.json").read_text())
    assert config["registered_name"] == "electra_tf>ElectraBackbone"
    assert config["config"]["normalize_first"] is True
    for cls in (ElectraBackbone, keras_hub.models.ElectraBackbone):
        loaded = cls.from_preset(str(tmp_path / "pre_ln"))
        assert isinstance(loaded, ElectraBackbone) and loaded.normalize_first
        np.testing.assert_array_equal(sequence(loaded), sequence(pre))
    copy = ElectraBackbone.from_keras_hub(pre)
    assert copy.normalize_first
    np.testing.assert_array_equal(sequence(copy), sequence(pre))
    with pytest.raises(ValueError, match=r"normalize_first=True.*post-LN only"):
        pre.to_keras_hub()


def test_normalize_first_must_be_a_bool():
    with pytest.raises(ValueError, match="normalize_first must be True"):
        ElectraBackbone(**SIZES, normalize_first="yes")


def test_importing_electra_tf_lets_keras_hub_read_its_backbones_tokenizer(tmp_path):
    """keras-hub picks a preset's tokenizer class by its backbone class, among the subclasses
    defined so far: `import electra_tf` alone must define electra_tf's (a fresh process)."""
    ElectraBackbone(**SIZES, activation="gelu").save_to_preset(str(tmp_path))
    tokenization.make_tokenizer(list(tokenization.SPECIAL_TOKENS) + ["a"]).save_to_preset(
        str(tmp_path))
    code = ("import sys, electra_tf, keras_hub; "
            "print(keras_hub.models.ElectraTokenizer.from_preset(sys.argv[1]).vocabulary_size())")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                            text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "6"
