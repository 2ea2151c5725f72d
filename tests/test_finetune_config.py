import json

import pytest

from electra_tf.config import ConfigError, FinetuneConfig, preset_names


def test_presets_hold_the_paper_recipe_and_the_make_run_budget():
    assert {"paper_small", "paper_base", "zh_small"} <= set(preset_names(FinetuneConfig.PRESETS))
    small = FinetuneConfig.from_preset("paper_small")
    assert (small.learning_rate, small.layer_decay, small.warmup_fraction, small.epochs,
            small.batch_size) == (3e-4, 0.8, 0.1, 3, 32)
    assert FinetuneConfig.from_preset("paper_base").learning_rate == 1e-4
    assert small.replace(epochs=5).epochs == 5 and small.task_weight("anything") == 1.0


def test_fair_presets_pick_their_epochs_on_fixed_dev_subsets():
    for name, labels in (("zh_1k_fair", 1000), ("zh_8k_fair", 8000)):
        recipe = FinetuneConfig.from_preset(name)
        assert recipe.max_train_examples == labels and recipe.epochs == 30
        assert 3 <= recipe.early_stopping_patience <= 5
        assert recipe.max_dev_examples and recipe.max_test_examples


@pytest.mark.parametrize(
    "change, message",
    [
        ({"layer_decay": 0.0}, "layer_decay must be in"),
        ({"layer_decay": 1.5}, "layer_decay must be in"),
        ({"warmup_fraction": 1.0}, "warmup_fraction"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"dropout": 1.0}, "dropout"),
        ({"head": "tanh"}, "head must be one of"),
        ({"early_stopping_patience": 0}, "early_stopping_patience"),
        ({"early_stopping_start_epoch": -1}, "early_stopping_start_epoch"),
        ({"max_dev_examples": 0}, "max_dev_examples"),
        ({"max_test_examples": 1.5}, "max_test_examples"),
        ({"task_weights": {"ner": -1}}, "task_weights"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"sequence_length": 2}, "sequence_length"),
        ({"dtype_policy": "bfloat16"}, r"dtype_policy must be one of \('float32', "),
    ],
)
def test_invalid_recipes_raise_clear_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        FinetuneConfig().replace(**change)


def test_recipe_files_round_trip_and_unknown_keys_are_named(tmp_path):
    recipe = FinetuneConfig(learning_rate=1e-3, task_weights={"peoples_daily_ner": 0.5})
    recipe.save(tmp_path / "recipe.json")
    assert FinetuneConfig.from_preset(str(tmp_path / "recipe.json")) == recipe
    (tmp_path / "bad.json").write_text(json.dumps({"learning_rat": 1e-3}))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['learning_rat'\]"):
        FinetuneConfig.load(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="unknown fine-tuning recipe 'nope'.*paper_small"):
        FinetuneConfig.from_preset("nope")


def test_the_dtype_policy_defaults_to_float32_in_every_preset():
    """bfloat16 is chosen per machine, by measurement: no recipe turns it on by itself."""
    assert FinetuneConfig().dtype_policy == "float32"
    for name in preset_names(FinetuneConfig.PRESETS):
        assert FinetuneConfig.from_preset(name).dtype_policy == "float32", name
    assert FinetuneConfig().replace(dtype_policy="mixed_bfloat16").dtype_policy == "mixed_bfloat16"
