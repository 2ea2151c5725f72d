"""`benchmarks/decoding.py --smoke --output`: the script runs and writes every figure it prints."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

SPEED_FIELDS = [f"{sampler}_{figure}" for sampler in ("greedy", "beam")
                for figure in ("cached_tokens_per_s", "uncached_tokens_per_s", "speedup")]


def test_smoke_run_writes_every_field(tmp_path):
    output = tmp_path / "decoding.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    finished = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "decoding.py"), "--smoke", f"--output={output}"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr[-3000:]
    results = json.loads(output.read_text())
    assert set(results) == {*SPEED_FIELDS, "greedy_same_text", "beam_same_text", "model",
                            "batch_size", "max_length", "num_beams", "repeats", "machine"}
    for field in [*SPEED_FIELDS, "batch_size", "max_length", "num_beams", "repeats"]:
        assert results[field] > 0, field
    assert results["greedy_same_text"] is True and results["beam_same_text"] is True
    assert results["model"].startswith("random") and "CPU flags" in results["machine"]
    # What it printed is what it wrote.
    assert f"speed-up {results['beam_speedup']:5.2f}x" in finished.stdout
    assert results["machine"] in finished.stdout
