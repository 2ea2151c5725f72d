"""benchmarks/inference.py --smoke: the classifier's forward pass as the Keras model's predict
step and as the exported SavedModel, in float32 and bfloat16, computes what the others do, its
JSON holds every figure (per mode the issue's keys and the step benchmarks' others), and the
ceiling is timed for the pass's forward products."""

import math

import pytest

from electra_tf import ElectraConfig
from electra_tf.flops import inference_flops_per_step
from test_finetune_step_benchmark import assert_ceiling_timed_for
from test_pretrain_step_benchmark import (
    TORCH_MODES, assert_mode_figures, assert_torch_notes, ceiling, run_smoke)

# The smoke run's sizes (inference.SMOKE, on the tiny preset) and the script's 2 labels.
BATCH, LENGTH, VOCAB, LABELS = 2, 16, 100, 2
SMOKE_CONFIG = ElectraConfig.from_preset("tiny").replace(batch_size=BATCH, sequence_length=LENGTH)
KERAS_MODES = ("graph", "graph:mixed_bfloat16", "savedmodel", "savedmodel:mixed_bfloat16")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """`(results JSON, printed output)` of `inference.py --smoke`."""
    return run_smoke(tmp_path_factory, "inference.py")


def test_every_mode_has_every_figure_and_they_agree(smoke):
    results, printed = smoke
    flops = inference_flops_per_step(SMOKE_CONFIG, LABELS, VOCAB)["total"]
    assert results["model_flops_per_step"] == flops
    assert "forward only" in results["flops_count"]
    assert results["num_labels"] == LABELS
    assert_mode_figures(results, flops, KERAS_MODES)
    assert_torch_notes(results, printed)
    assert "2048^3" in printed and "of ceil." in printed


def test_each_mode_computes_in_its_policy_and_what_the_others_compute(smoke):
    """The Keras and SavedModel modes load the same weights: in float32 the export's loss is
    the model's; bfloat16's rounding moves it little (measured 1e-3), a broken cast far.
    PyTorch's eager and compiled modes share weights of their own."""
    modes = {r["mode"]: r for r in smoke[0]["modes"]}
    assert {mode: r["compute_dtype"] for mode, r in modes.items() if mode not in TORCH_MODES
            } == {"graph": "float32", "graph:mixed_bfloat16": "bfloat16",
                  "savedmodel": "float32", "savedmodel:mixed_bfloat16": "bfloat16"}
    loss = {mode: r["last_loss"] for mode, r in modes.items()}
    assert all(math.isfinite(value) for value in loss.values()), loss
    assert math.isclose(loss["savedmodel"], loss["graph"], rel_tol=1e-5)
    for mode in ("graph:mixed_bfloat16", "savedmodel:mixed_bfloat16"):
        assert abs(loss[mode] - loss["graph"]) < 0.05, loss
    if set(TORCH_MODES) <= set(loss):
        assert math.isclose(loss["torch_compile"], loss["torch"], abs_tol=1e-4), loss


def test_the_ceiling_is_timed_for_the_forward_products_of_the_pass(smoke):
    results, printed = smoke
    products = ceiling.finetuning_products(SMOKE_CONFIG, LABELS)
    assert_ceiling_timed_for(results, products)
    assert results["matmul_flops_per_step"] == sum(p.forward_flops for p in products)
    assert "matrix-product ceiling (GFLOP/s; forward only" in printed
