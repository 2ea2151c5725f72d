import json

import pytest

from electra_tf import precision
from electra_tf.config import ConfigError, ElectraConfig, preset_names


def test_presets_load_with_paper_sizes():
    assert {"tiny", "small", "base", "large", "zh_small"} <= set(preset_names())
    small = ElectraConfig.from_preset("small")
    assert (small.embedding_size, small.hidden_size, small.num_layers, small.num_heads) == (128, 256, 12, 4)
    assert small.generator_hidden_size == 64 and small.generator_num_heads == 1
    assert small.num_masked_predictions == 19  # int((0.15 + 0.005) * 128), as the original
    base = ElectraConfig.from_preset("base")
    assert base.generator_hidden_size == 256 and base.generator_num_heads == 4
    large = ElectraConfig.from_preset("large")
    assert large.mask_probability == 0.25 and large.num_layers == 24


@pytest.mark.parametrize(
    "change, message",
    [
        ({"hidden_size": 250}, "divisible by num_heads"),
        ({"mask_probability": -0.1}, "mask_probability"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"num_layers": 0}, "num_layers"),
        ({"mask_token_rate": 0.9, "random_token_rate": 0.2}, "<= 1"),
        ({"sequence_length": 1024}, "max_position_embeddings"),
        ({"dtype_policy": "float8"}, "dtype_policy"),
        ({"generator_hidden_fraction": 0.0}, "generator_hidden_fraction"),
        ({"vocab_size": 3}, "vocab_size"),
        ({"normalize_first": "yes"}, "normalize_first must be true"),
        ({"objective": "bert"}, "objective must be one of"),
        ({"mask_token_rate": 0.0}, "only learns to copy"),
    ],
)
def test_invalid_values_raise_clear_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        ElectraConfig.from_preset("small").replace(**change)


def test_unknown_keys_are_named(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"hiden_size": 256}))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['hiden_size'\]"):
        ElectraConfig.from_preset(str(path))


def test_corrupt_and_missing_files(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ElectraConfig.load(path)
    with pytest.raises(ConfigError, match="unknown config"):
        ElectraConfig.from_preset("no_such_preset")


def test_save_load_round_trip(tmp_path):
    config = ElectraConfig.from_preset("tiny").replace(train_steps=7, whole_word_masking=True)
    config.save(tmp_path / "c.json")
    assert ElectraConfig.load(tmp_path / "c.json") == config


def test_switching_to_the_mlm_objective_brings_berts_masking():
    electra = ElectraConfig.from_preset("small")
    assert (electra.objective, electra.mask_token_rate, electra.random_token_rate) == (
        "electra", 0.85, 0.0)
    mlm = electra.for_objective("mlm")
    assert (mlm.objective, mlm.mask_token_rate, mlm.random_token_rate) == ("mlm", 0.8, 0.1)
    assert mlm.replace(objective="electra", mask_token_rate=0.85, random_token_rate=0.0) == electra
    assert mlm.for_objective("electra") == electra
    # A recipe of that objective keeps the rates it chose (the original code's 85/15 baseline).
    own = electra.replace(objective="mlm")
    assert own.for_objective("mlm") is own
    with pytest.raises(ConfigError, match="objective must be one of"):
        electra.for_objective("bert")


def test_zh_hour_mlm_is_the_study_masked_lm_and_its_steps_are_1e14_flops():
    """`make run` pre-trains `zh_hour_mlm` as the budget study's masked-LM arm of `zh_hour`;
    its `train_steps` are the steps 1e14 FLOPs buy on the default corpus' vocabulary."""
    from electra_tf.flops import pretraining_flops_per_step

    preset = ElectraConfig.from_preset("zh_hour_mlm")
    arm = ElectraConfig.from_preset("zh_hour").for_objective("mlm")
    # It computes in bfloat16 where the CPU has bfloat16 instructions (the study: float32).
    assert preset.dtype_policy == precision.resolve_dtype_policy("auto")
    assert preset.replace(name=arm.name, train_steps=arm.train_steps,
                          dtype_policy=arm.dtype_policy) == arm
    step = pretraining_flops_per_step(preset, vocabulary_size=5587)["total"]
    assert abs(preset.train_steps - 1e14 / step) < 10
