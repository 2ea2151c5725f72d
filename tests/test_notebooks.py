"""The notebooks run top to bottom in a fresh kernel and compute what they say."""

import json
import pathlib
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "notebooks"))
import execute  # noqa: E402  (notebooks/execute.py, what `make notebooks` runs)


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["quickstart.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


# Appended at test time: what the quickstart computed, as JSON on the last line.
QUICKSTART_CHECKS = """
import json
print(json.dumps({
    "mlm_loss": [float(v) for v in history.history["mlm_loss"]],
    "rtd_loss": [float(v) for v in history.history["rtd_loss"]],
    "masked_shown": sum(sum(v.masked) for v in view),
    "accuracy": float(accuracy),
    "majority": float(max(np.mean(test.labels[:500]), 1 - np.mean(test.labels[:500]))),
    "predicted": classifier.predict_labels(["这本书很好看，推荐"]),
    "entities": tagger.tag(["江泽民主席在北京会见了克林顿。"]),
    "generated": generation.generate(lm, prompts, max_length=24),
    "export_labels": [x.decode() for x in answer["label"].numpy()],
    "keras_labels": classifier.predict_labels(["这本书很好看，推荐", "质量太差了，再也不买"]),
}, ensure_ascii=False))
"""


def test_quickstart_runs_and_learns(tmp_path):
    path = ROOT / "notebooks" / "quickstart.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(QUICKSTART_CHECKS))
    checked = tmp_path / "quickstart.ipynb"
    nbformat.write(notebook, checked)
    executed = execute.execute(checked, timeout=900, working_dir=tmp_path)
    text = "".join(o.get("text", "") for o in executed.cells[-1].outputs)
    facts = json.loads(text.strip().splitlines()[-1])
    # Pre-training learned: both losses fell from the first to the last epoch.
    assert facts["mlm_loss"][-1] < facts["mlm_loss"][0] - 0.5
    assert facts["rtd_loss"][-1] < facts["rtd_loss"][0]
    assert facts["masked_shown"] >= 3  # the ELECTRA view shows masked tokens
    # The classifier beats always answering the majority class on held-out reviews.
    assert facts["accuracy"] > facts["majority"] + 0.05
    assert facts["predicted"][0] in ("neg", "pos")
    assert isinstance(facts["entities"][0], list)
    assert facts["generated"][0].strip()
    # The export answers as the Keras model does.
    assert facts["export_labels"] == facts["keras_labels"]
    # Every figure the notebook draws was rendered.
    images = [o for cell in executed.cells for o in cell.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) == 2
