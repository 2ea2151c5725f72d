"""Budgets turned into steps once, recorded, and reused; runs under a budget are in
test_pretrain_run.py."""

import json

import keras
import pytest
import tensorflow as tf

from electra_tf import ElectraConfig
from electra_tf.training.budget import (
    BUDGET_FILENAME,
    budget_config,
    check_budget,
    measure_seconds_per_step,
    resolve_budget,
)

TINY = ElectraConfig.from_preset("tiny")  # 200 steps, warmup 20
FLOPS_PER_STEP = 1_000_000


def no_measurement():
    raise AssertionError("measured although the steps were known")


@pytest.mark.parametrize("flops, minutes, message", [
    (1e12, 5.0, "not both"),
    (0, None, "budget_flops must be a positive number, got 0"),
    (None, -1.0, "budget_minutes must be a positive number"),
    (float("nan"), None, "budget_flops must be a positive number"),
    (float("inf"), None, "budget_flops must be a positive number"),
])
def test_bad_budgets_are_refused(flops, minutes, message):
    with pytest.raises(ValueError, match=message):
        check_budget(flops, minutes)


def test_the_warmup_shrinks_only_when_it_would_not_end_before_the_last_step():
    assert budget_config(TINY, 21).warmup_steps == 20
    assert budget_config(TINY, 20).warmup_steps == 2
    assert budget_config(TINY, 7).warmup_steps == 0
    assert budget_config(TINY, 7).train_steps == 7


def test_a_flops_budget_gives_whole_steps_and_is_recorded(tmp_path):
    config, record = resolve_budget(tmp_path, TINY, FLOPS_PER_STEP, budget_flops=50.9e6,
                                    measure=no_measurement)
    assert (config.train_steps, config.warmup_steps) == (50, 20)
    assert json.loads((tmp_path / BUDGET_FILENAME).read_text()) == record
    assert record["budget_flops"] == 50.9e6 and record["budget_minutes"] is None
    assert record["flops_per_step"] == FLOPS_PER_STEP and record["seconds_per_step"] is None
    assert (record["train_steps"], record["warmup_steps"]) == (50, 20) and record["created"]


def test_a_minutes_budget_is_measured_once_then_read_back(tmp_path):
    calls = []
    config, record = resolve_budget(tmp_path, TINY, FLOPS_PER_STEP, budget_minutes=2,
                                    measure=lambda: calls.append(1) or 7.0)
    assert calls == [1] and config.train_steps == 17  # 120 s // 7 s
    assert record["seconds_per_step"] == 7.0 and "warm-up" in record["measurement"]
    # Resuming: the recorded steps, nothing measured (even if the machine got slower).
    again, same = resolve_budget(tmp_path, TINY, FLOPS_PER_STEP, budget_minutes=2.0,
                                 measure=no_measurement)
    assert again == config and same == record


def test_another_budget_or_none_in_a_budget_run_folder_is_refused(tmp_path):
    resolve_budget(tmp_path, TINY, FLOPS_PER_STEP, budget_flops=1e8)
    for other in ({"budget_flops": 2e8}, {"budget_minutes": 5}, {}):
        with pytest.raises(ValueError, match=r"budget of 1e\+08 FLOPs .*budget.json.*same budget"):
            resolve_budget(tmp_path, TINY, FLOPS_PER_STEP, **other)


def test_a_budget_for_a_folder_of_a_run_without_one_is_refused(tmp_path):
    TINY.save(tmp_path / "electra_config.json")  # what a run writes when it starts
    assert resolve_budget(tmp_path, TINY, FLOPS_PER_STEP) == (TINY, None)
    with pytest.raises(ValueError, match="started without a budget.*new --model_dir"):
        resolve_budget(tmp_path, TINY, FLOPS_PER_STEP, budget_flops=1e8)
    assert not (tmp_path / BUDGET_FILENAME).exists()


def test_a_budget_below_one_step_says_so(tmp_path):
    with pytest.raises(ValueError, match=r"less than one step \(1e\+06 FLOPs here\)"):
        resolve_budget(tmp_path, TINY, FLOPS_PER_STEP, budget_flops=999_999)


def test_the_measurement_times_steps_after_the_warm_up():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    batches = tf.data.Dataset.from_tensors((tf.ones((8, 4)), tf.ones((8, 1)))).repeat()
    seconds = measure_seconds_per_step(model, batches, warmup_steps=2, steps=3)
    assert 0 < seconds < 1
    assert int(model.optimizer.iterations.numpy()) == 5
    with pytest.raises(ValueError, match="the first step compiles"):
        measure_seconds_per_step(model, batches, warmup_steps=0)
