import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from electra_tf.config import FinetuneConfig
from electra_tf.training import budget_study
from electra_tf.training.budget_study import Budget, StudyPlan

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROW_FIELDS = {
    "key", "objective", "budget_flops", "budget_minutes", "task", "labels", "recipe", "seed",
    "method", "score", "metric", "dev_score", "pretrain_flops", "pretrain_steps",
    "pretrain_seconds", "finetune_seconds", "disc_auc", "mlm_accuracy", "epochs_trained",
    "best_epoch", "probe_c", "finished",
}
HEADER_FIELDS = {"package_version", "command", "commands", "config", "vocab_size", "budgets", "step_cost",
                 "recipes", "seeds", "cost_formula", "pretraining", "updated"}


def test_header_lists_the_grid_of_every_invocation():
    """A study resumed with another budget or seed keeps the earlier ones in its header."""
    def header(command, flops, seeds, recipe):
        return {"command": command, "budgets": [{"flops": f, "minutes": None} for f in flops],
                "seeds": seeds, "recipes": {recipe: {"name": recipe}}, "config": {}}

    first = budget_study.merge_headers(None, header("a", [1e14, 2e14], [0, 1, 2], "zh_1k"))
    assert first["commands"] == ["a"]
    second = budget_study.merge_headers(first, header("b", [4e14], [0], "zh_8k"))
    third = budget_study.merge_headers(second, header("a", [4e14], [1], "zh_8k"))
    assert third["command"] == "a" and third["commands"] == ["b", "a"]
    assert [b["flops"] for b in third["budgets"]] == [1e14, 2e14, 4e14]
    assert third["seeds"] == [0, 1, 2] and set(third["recipes"]) == {"zh_1k", "zh_8k"}
    # A header written before `commands` existed counts its one command.
    old = {k: v for k, v in second.items() if k != "commands"}
    assert budget_study.merge_headers(old, header("c", [], [], "x"))["commands"] == ["b", "c"]


def test_cells_come_most_informative_first():
    plan = StudyPlan(seeds=(0, 1, 2))
    budgets = [Budget(3e15), Budget(1e15), Budget(2e15)]
    cells = plan.cells(budgets)
    keys = [cell.key for cell in cells]
    assert len(keys) == len(set(keys))
    # Seed 0, 1,000 labels, smallest budget, every arm, both tasks, probe then fine-tuning.
    first = cells[:12]
    assert {(c.seed, c.recipe.name, c.budget and c.budget.flops) for c in first} <= {
        (0, "zh_1k_fair", None), (0, "zh_1k_fair", 1e15)}
    assert [c.method for c in first] == ["probe"] * 6 + ["finetune"] * 6
    assert {c.objective for c in first} == {"random", "electra", "mlm"}
    # Every seed-0 cell comes before any other seed's.
    seeds = [c.seed for c in cells]
    assert seeds.index(1) == len(seeds) - seeds[::-1].index(0)
    # 8,000 labels: fine-tuning at the largest budget (and random weights) only.
    many = [c for c in cells if c.recipe.name == "zh_8k_fair"]
    assert {c.budget.flops for c in many if c.budget} == {3e15}
    assert {c.method for c in many} == {"finetune"} and len(many) == 3 * 2 * 3
    # Random weights have no budget: one cell per task, recipe, seed and method.
    assert len([c for c in cells if c.objective == "random"]) == 2 * 3 * 2 + 2 * 3


def test_a_grid_of_recipes_is_read_through_dev_and_probed_once():
    lr3 = FinetuneConfig.from_preset("zh_1k_fair").replace(name="zh_1k_fair_lr3e-4",
                                                            learning_rate=3e-4)
    plan = StudyPlan(seeds=(0,), recipes=("zh_1k_fair", lr3), largest_budget_recipes=())
    cells = plan.cells([Budget(1e15)])
    assert {c.recipe.name for c in cells if c.method == "probe"} == {"zh_1k_fair"}
    assert {c.recipe.name for c in cells if c.method == "finetune"} == {
        "zh_1k_fair", "zh_1k_fair_lr3e-4"}

    def row(seed, recipe, dev, test, objective="random"):
        return {"task": "t", "labels": 1000, "method": "finetune", "metric": "accuracy",
                "objective": objective, "budget_flops": None, "seed": seed, "recipe": recipe,
                "dev_score": dev, "score": test}

    rows = [row(0, "a", 0.70, 0.60), row(0, "b", 0.80, 0.75),  # b wins on dev
            row(1, "a", 0.80, 0.90), row(1, "b", 0.70, 0.50),  # a wins on dev
            row(2, "a", 0.75, 0.70), row(2, "b", 0.75, 0.80)]  # a tie: the mean
    picked = {r["seed"]: r for r in budget_study.select_on_dev(rows)}
    assert [(picked[s]["recipe"], picked[s]["score"]) for s in (0, 1, 2)] == [
        ("b", 0.75), ("a", 0.90), ("a|b", pytest.approx(0.75))]
    assert {r["recipes_compared"] for r in picked.values()} == {2}
    table = budget_study.summary_table(rows)
    assert "finetune (dev: 1 of 2)" in table and "0.800 ± 0.071 (n=3)" in table


def _rows_by(rows, field):
    return {row[field] for row in rows}


def test_tiny_study_runs_end_to_end_then_resumes_without_recomputing(tmp_path):
    study_dir = tmp_path / "study"
    plan = StudyPlan.tiny(study_dir, command="pytest")
    result = budget_study.run_study(plan)
    assert result.counts == {"pretraining": 2, "probe": 6, "finetune": 6, "skipped": 0}

    written = json.loads(result.output.read_text())
    header, rows = written["header"], written["rows"]
    assert set(header) >= HEADER_FIELDS and header["command"] == "pytest"
    assert header["config"]["name"] == "tiny" and header["package_version"]
    # The budget in minutes became FLOPs once, through the measured step cost.
    (budget,) = header["budgets"]
    cost = json.loads((study_dir / "step_cost.json").read_text())
    assert header["step_cost"] == cost and cost["seconds_per_step"] > 0
    assert budget["minutes"] == 0.02
    assert budget["flops"] == pytest.approx(0.02 * 60 * cost["flops_per_second"])

    assert len(rows) == 12 and all(set(row) == ROW_FIELDS for row in rows)
    assert _rows_by(rows, "objective") == {"electra", "mlm", "random"}
    assert _rows_by(rows, "method") == {"finetune", "probe"}
    assert _rows_by(rows, "task") == {"chinese_sentiment", "peoples_daily_ner"}
    assert _rows_by(rows, "labels") == {24}
    for row in rows:
        assert 0 <= row["score"] <= 1 and row["finetune_seconds"] > 0
        assert row["metric"] == {"chinese_sentiment": "accuracy",
                                 "peoples_daily_ner": "entity_f1"}[row["task"]]
        assert (row["disc_auc"] is not None) == (row["objective"] == "electra")
        if row["objective"] == "random":
            assert row["budget_flops"] is None and row["pretrain_flops"] == 0
            assert row["mlm_accuracy"] is None
        else:
            assert row["budget_flops"] == budget["flops"] and row["budget_minutes"] == 0.02
            assert 0 < row["pretrain_flops"] <= row["budget_flops"]
            assert row["pretrain_seconds"] > 0 and row["mlm_accuracy"] is not None
        if row["method"] == "finetune":
            assert 1 <= row["best_epoch"] <= row["epochs_trained"] and row["probe_c"] is None
        else:
            assert row["epochs_trained"] is None and row["probe_c"] > 0
    assert result.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "± " in budget_study.summary_table(rows)

    # Again, through the command: every cell is done, nothing is recomputed or rewritten.
    saved = result.output.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    finished = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "budget_study.py"), "--tiny",
         f"--study_dir={study_dir}"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert ("ran 0 pre-training runs, 0 fine-tuning cells and 0 probes; 12 cells were done "
            "already") in finished.stdout
    assert "chinese_sentiment" in finished.stdout and "± " in finished.stdout
    assert result.output.read_bytes() == saved


def test_make_run_exports_the_seed_0_sentiment_classifier_the_study_trains():
    """`make run` is a one-budget study; the folder it exports must be the study's own."""
    makefile = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^(RUN_\w+) [:?]= (.*)$", makefile, re.MULTILINE))
    command = re.search(r"scripts/budget_study.py (.*?)\n\t\$\(PY\) scripts/export.py",
                        makefile, re.DOTALL).group(1).replace("\\\n", " ")
    flags = dict(re.findall(r"--(\w+)[= ]?([^\s-][^\s]*)?", command))
    plan = StudyPlan(config=flags["config"], objectives=(flags["objectives"],),
                     seeds=(0, 1), probe=False, largest_budget_recipes=())
    (budget,) = [Budget(float(flags["budgets_flops"]))]
    exported = variables["RUN_SENTIMENT"].replace("$(RUN_DIR)/cells/", "")
    [cell] = [c for c in plan.cells([budget]) if c.folder_name == exported]
    assert (cell.objective, cell.dataset, cell.seed, cell.method) == (
        "mlm", "chinese_sentiment", 0, "finetune")
