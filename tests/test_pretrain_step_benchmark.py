"""benchmarks/pretrain_step.py --smoke: its float32 and bfloat16 graph modes run and train."""

import json
import math
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_bfloat16_mode_computes_in_bfloat16_and_trains_like_float32(tmp_path):
    output = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pretrain_step.py"), "--smoke",
         "--output", str(output)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    modes = json.loads(output.read_text())["modes"]
    assert {mode: r["compute_dtype"] for mode, r in modes.items()} == {
        "graph": "float32", "graph:mixed_bfloat16": "bfloat16"}
    # A few steps from random weights: both losses are near ln(100) + 50 ln 2 = 39.3 (measured
    # 39.21 and 39.25); bfloat16's rounding moves it little, a broken cast far.
    float32, bfloat16 = modes["graph"]["last_loss"], modes["graph:mixed_bfloat16"]["last_loss"]
    assert math.isfinite(bfloat16) and abs(bfloat16 - float32) < 0.05 * float32
