"""The equal-compute study: ELECTRA vs a masked LM vs random weights, by pre-training FLOPs.

For each budget (FLOPs; or minutes of the config's fp32 ELECTRA step, turned
into FLOPs once by a measured step cost), each objective (`"electra"`,
`"mlm"`) is pre-trained once on the default corpus with one shared
vocabulary; each encoder, and random weights of the same sizes and
vocabulary, is then fine-tuned (recipes that pick their epoch count on dev,
`zh_1k_fair`) and linearly probed (`training.probe`) on Chinese sentiment
and People's Daily NER, for every seed; the largest budget adds the
`largest_budget_recipes` (`zh_8k_fair`, fine-tuning only). Each finished
cell is a row of the output JSON; see `docs/budget_study.md` for the
columns.

The study runs in pieces: cells are ordered so the most informative come
first (seed 0 before the other seeds; the few-label recipes before the
many-label ones; budgets from the smallest; probes, then fine-tuning), the
JSON is rewritten (atomically) after every cell, a cell whose row exists is
skipped, and a pre-training run resumes from its run folder. Pre-training
runs are started when their first cell needs them.

```
study_dir/
  corpus/              the default pre-training corpus, written once
  vocab.txt            the WordPiece vocabulary of every encoder
  encoder_config.json  the encoders' sizes (random weights are built from it)
  step_cost.json       the measured fp32 step that turned minutes into FLOPs
  pretraining.json     one record per finished pre-training run
  pretrain/<objective>-<budget FLOPs>/   pre-training run folders
  cells/<key>/         fine-tuning model directories with their metrics.json
```

Example: the plan's cells, most informative first.
```python
from electra_tf.training.budget_study import Budget, StudyPlan

plan = StudyPlan(budgets_flops=(1e14, 2e14), seeds=(0, 1))
cells = plan.cells([Budget(1e14), Budget(2e14)])
len(cells)  # -> 52
cells[0].key  # -> 'random|none|chinese_sentiment|zh_1k_fair|0|probe'
```
"""

import collections
import dataclasses
import datetime
import importlib.metadata
import json
import logging
import os
import pathlib
import platform
import time

import keras
import numpy as np

from electra_tf import tokenization
from electra_tf.config import ElectraConfig, FinetuneConfig
from electra_tf.data import corpora
from electra_tf.data import pretraining as pretraining_data
from electra_tf.flops import pretraining_flops_per_step
from electra_tf.models.model_dir import SUMMARY_FILENAME, folder_error, read_json
from electra_tf.models.pretraining.electra_pretrainer import ElectraPretrainer
from electra_tf.training import finetune, probe
from electra_tf.training.budget import measure_seconds_per_step
from electra_tf.training.pretrain import prepare_vocabulary, run_pretraining

OBJECTIVES = ("electra", "mlm")
RANDOM = "random"
METHODS = ("probe", "finetune")
METRICS = {"classification": "accuracy", "ner": "entity_f1"}
COST_FORMULA = (
    "pretrain_flops = steps x flops_per_step, the analytic training FLOPs of one step "
    "(electra_tf.flops: forward + backward, backward counted as the forward, as the ELECTRA "
    "paper counts); steps = floor(budget_flops / flops_per_step); budget_flops = "
    "budget_minutes x 60 x flops_per_second, flops_per_second = flops_per_step / seconds_per_step "
    "of the config's fp32 ELECTRA step, measured once (step_cost in this header)."
)
STEP_COST_FILENAME = "step_cost.json"
PRETRAINING_FILENAME = "pretraining.json"
# The fix for a damaged step_cost.json.
STEP_COST_FIX = ("delete it to measure the step again (budgets in minutes then buy other FLOPs), "
                 "or give budgets in FLOPs")

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Budget:
    """A pre-training budget in FLOPs, and the minutes it was asked as (if it was)."""

    flops: float
    minutes: float | None = None

    @property
    def label(self):
        return f"{self.flops:.3g}"


@dataclasses.dataclass(frozen=True)
class Cell:
    """One row of the study: an encoder (objective at a budget, or random), a task, a
    recipe, a seed and a method."""

    objective: str
    budget: Budget | None  # None for random weights
    dataset: str
    recipe: FinetuneConfig
    seed: int
    method: str

    @property
    def key(self):
        """What identifies the cell's row in the output: a finished key is never run again."""
        return "|".join([self.objective, self.budget.label if self.budget else "none",
                         self.dataset, self.recipe.name, str(self.seed), self.method])

    @property
    def folder_name(self):
        """The cell's fine-tuning run folder under the study's `cells/`."""
        return self.key.replace("|", "_")


@dataclasses.dataclass(frozen=True)
class StudyPlan:
    """What the study runs. Recipes are preset names or `FinetuneConfig`s; the number of
    labels of a cell is its recipe's `max_train_examples`."""

    study_dir: str = "runs/budget_study"
    output: str = "docs/budget_study.json"
    plot: str | None = None  # default: the output's path with .png
    config: str = "zh_mini"
    budgets_minutes: tuple = (15.0, 30.0, 60.0)
    budgets_flops: tuple = ()  # when given, used instead of budgets_minutes
    objectives: tuple = OBJECTIVES
    datasets: tuple = tuple(finetune.BUILTIN_DATASETS)
    recipes: tuple = ("zh_1k_fair",)
    largest_budget_recipes: tuple = ("zh_8k_fair",)
    seeds: tuple = (0, 1, 2)
    probe: bool = True
    vocab_size: int = 8000
    # The pre-training corpus keeps this many of its shuffled documents (None: all of them).
    corpus_documents: int | None = None
    checkpoint_steps: int = 500
    # No new cell (pre-training or fine-tuning) starts after this many minutes.
    time_limit_minutes: float | None = None
    command: str = ""  # recorded in the output's header

    @classmethod
    def tiny(cls, study_dir, **changes):
        """The `tiny` config, one budget of about a second of steps, 24 labels, one seed, one
        epoch: every arm, task and method end to end in about two minutes (the test). No
        largest-budget recipe: those cells run the same code as the others. The corpus keeps
        200 documents (140,000 characters), ten times what a second of steps reads: the
        vocabulary, the input checks and the held-out metrics then read it in a moment."""
        recipe = FinetuneConfig(
            name="tiny_24", learning_rate=3e-3, epochs=1, batch_size=8, sequence_length=32,
            max_train_examples=24, max_dev_examples=16, max_test_examples=24)
        study_dir = pathlib.Path(study_dir)
        return cls(**{
            "study_dir": str(study_dir), "output": str(study_dir / "budget_study.json"),
            "config": "tiny", "budgets_minutes": (0.02,), "seeds": (0,), "vocab_size": 300,
            "corpus_documents": 200, "recipes": (recipe,), "largest_budget_recipes": (),
            "checkpoint_steps": 1000,
            **changes})

    @property
    def plot_path(self):
        return pathlib.Path(self.plot or pathlib.Path(self.output).with_suffix(".png"))

    def recipe_configs(self, names):
        return tuple(r if isinstance(r, FinetuneConfig) else FinetuneConfig.from_preset(r)
                     for r in names)

    def cells(self, budgets):
        """Every cell for `budgets` (`Budget`s), most informative first."""
        budgets = sorted(budgets, key=lambda b: b.flops)
        few = METHODS if self.probe else ("finetune",)
        groups, probed = [], set()
        for recipe in self.recipe_configs(self.recipes):
            # Recipes of one label count (a grid of learning rates, say) share one probe:
            # the probe reads only the labels.
            methods = few if recipe.max_train_examples not in probed else ("finetune",)
            probed.add(recipe.max_train_examples)
            groups.append((recipe, budgets, methods))
        groups += [(recipe, budgets[-1:], ("finetune",))
                   for recipe in self.recipe_configs(self.largest_budget_recipes)]
        unsized = [recipe.name for recipe, _, _ in groups if recipe.max_train_examples is None]
        if unsized:
            raise ValueError(f"recipes {unsized} train on every example: a study recipe sets "
                             "max_train_examples, the number of labels its cells are about.")
        seeds = sorted(self.seeds)
        cells = []
        for seed_group in (seeds[:1], seeds[1:]):
            for recipe, recipe_budgets, methods in groups:
                for index, budget in enumerate(recipe_budgets):
                    # Random weights have no budget: their cells come with the first.
                    arms = [(RANDOM, None)] * (index == 0) + [(o, budget) for o in self.objectives]
                    cells += [Cell(objective, arm_budget, dataset, recipe, seed, method)
                              for seed in seed_group for method in methods
                              for objective, arm_budget in arms for dataset in self.datasets]
        return cells


@dataclasses.dataclass
class StudyResult:
    rows: list
    counts: dict  # what this call ran: pre-training runs, fine-tuning cells, probes, skipped
    output: pathlib.Path
    plot: pathlib.Path | None


def run_study(plan: StudyPlan) -> StudyResult:
    """Runs every cell of `plan` that has no row in `plan.output` yet; see the module docstring.

    The output's header describes the grid its rows come from, so a run that adds no row
    (every cell done, or a time limit of 0) leaves the JSON byte for byte as it was and
    only redraws the plot.
    """
    study_dir = pathlib.Path(plan.study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    deadline = None if plan.time_limit_minutes is None else (
        time.monotonic() + 60 * plan.time_limit_minutes)
    config = ElectraConfig.from_preset(plan.config)
    train_files, heldout_files = _corpus(study_dir / "corpus", plan.corpus_documents)
    # Each file of the study folder is read once, here; what changes is kept in memory and
    # written after every change.
    vocab_file, vocabulary = _vocabulary(study_dir, train_files, plan.vocab_size,
                                         config.lowercase)
    encoder_config = study_dir / "encoder_config.json"
    config.save(encoder_config)
    cost = (_recorded_step_cost(study_dir) if plan.budgets_flops else
            step_cost(study_dir, config, train_files, vocabulary))
    budgets = _budgets(plan, cost)
    cells = plan.cells(budgets)
    records = _read_records(study_dir)
    header = _header(plan, config, len(vocabulary), budgets, cost, records)
    saved_header, rows = _read_study(plan.output, header)
    header = merge_headers(saved_header, header)
    done = {row["key"] for row in rows}
    todo = [cell for cell in cells if cell.key not in done]
    counts = {"pretraining": 0, "probe": 0, "finetune": 0, "skipped": len(cells) - len(todo)}
    log.info("%s: %d cells, %d done already, %d to run", plan.output, len(cells),
             counts["skipped"], len(todo))
    paths = {"train_files": train_files, "heldout_files": heldout_files, "vocab_file": vocab_file,
             "encoder_config": encoder_config}
    for number, cell in enumerate(todo, start=1):
        if deadline is not None and time.monotonic() > deadline:
            log.info("time limit of %g minutes reached: stopping before %s (%d cells left)",
                     plan.time_limit_minutes, cell.key, len(todo) - number + 1)
            break
        pretrained = None
        if cell.objective != RANDOM:
            pretrained = _pretrained(plan, config, cell.objective, cell.budget, paths, counts,
                                     records)
        log.info("[%d/%d] %s", number, len(todo), cell.key)
        row = _run_cell(plan, cell, pretrained, paths)
        log.info("[%d/%d] %s: %s %.4f (%.0f s)", number, len(todo), cell.key, row["metric"],
                 row["score"], row["finetune_seconds"])
        rows.append(row)
        counts[cell.method] += 1
        header = merge_headers(
            saved_header, _header(plan, config, len(vocabulary), budgets, cost, records))
        _write_json(plan.output, {"header": header, "rows": rows})
    plot = plot_study(rows, plan.plot_path) if rows else None
    return StudyResult(rows, counts, pathlib.Path(plan.output), plot)


# ---------------------------------------------------------------------- set-up
def _corpus(directory, documents):
    """`(train files, held-out files)` of the default corpus (its first `documents`
    shuffled documents; all when None), written on first use."""
    if not (directory / "heldout.txt").is_file():
        return corpora.write_default_pretraining_corpus(directory, max_documents=documents)
    return sorted(str(p) for p in directory.glob("train-*.txt")), [str(directory / "heldout.txt")]


def _vocabulary(study_dir, train_files, vocab_size, lowercase):
    """`(file, tokens)` of the shared vocabulary, built from the corpus once."""
    vocabulary = prepare_vocabulary(study_dir, train_files, vocab_size=vocab_size,
                                    lowercase=lowercase)
    return study_dir / tokenization.VOCAB_FILENAME, vocabulary


def _budgets(plan, cost):
    """The plan's budgets in FLOPs; minutes go through the step cost `cost` (`step_cost`)."""
    if plan.budgets_flops:
        return [Budget(float(flops)) for flops in plan.budgets_flops]
    return [Budget(minutes * 60 * cost["flops_per_second"], float(minutes))
            for minutes in plan.budgets_minutes]


def _recorded_step_cost(study_dir):
    """The study's measured step cost, if it has one (the header shows it)."""
    path = pathlib.Path(study_dir) / STEP_COST_FILENAME
    return read_json(path, STEP_COST_FIX) if path.is_file() else None


def step_cost(study_dir, config, train_files, vocabulary):
    """The fp32 ELECTRA step of `config`: measured once, then read from `step_cost.json`.

    The study's budgets in minutes become FLOPs through this one measurement,
    so they stay the same across sessions (and machines) however fast a later
    session's steps run.
    """
    path = pathlib.Path(study_dir) / STEP_COST_FILENAME
    config = config.for_objective("electra").replace(dtype_policy="float32")
    if path.is_file():
        cost = read_json(path, STEP_COST_FIX)
        if not isinstance(cost.get("flops_per_second"), (int, float)):
            raise folder_error(path, "holds no flops_per_second", STEP_COST_FIX)
        if cost.get("config") != config.to_dict():
            raise ValueError(f"{path} was measured for another config; use a new study folder, "
                             "or give budgets in FLOPs.")
        return cost
    tokenizer = tokenization.make_tokenizer(vocabulary, lowercase=config.lowercase)
    pretrainer = ElectraPretrainer(config, tokenizer.vocabulary_size(),
                                   tokenization.special_token_ids(tokenizer), seed=0)
    pretrainer.compile()
    dataset = pretraining_data.pretraining_dataset(
        train_files, tokenizer, sequence_length=config.sequence_length,
        batch_size=config.batch_size, seed=0)
    seconds = measure_seconds_per_step(pretrainer, dataset)
    flops = pretraining_flops_per_step(config, tokenizer.vocabulary_size())["total"]
    cost = {"config": config.to_dict(), "seconds_per_step": seconds, "flops_per_step": flops,
            "flops_per_second": flops / seconds, "machine": _machine(), "measured": _now()}
    _write_json(path, cost)
    log.info("step cost of %s (fp32 ELECTRA step): %.3f s, %.3g FLOPs: %.3g FLOP/s",
             config.name, seconds, flops, flops / seconds)
    return cost


def _machine():
    model = next((line.split(":", 1)[1].strip()
                  for line in _read_text("/proc/cpuinfo").splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{model}, {len(os.sched_getaffinity(0))} cores"


def _read_text(path):
    try:
        return pathlib.Path(path).read_text()
    except OSError:
        return ""


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------- pre-training
def _read_records(study_dir):
    """The records of the finished pre-training runs (`pretraining.json`), by run name."""
    path = pathlib.Path(study_dir) / PRETRAINING_FILENAME
    if not path.is_file():
        return {}
    return read_json(path, f"restore it from a copy, or delete it: each pre-training run then "
                     f"resumes from its folder in {pathlib.Path(study_dir) / 'pretrain'} and is "
                     "recorded again")


def _pretrained(plan, config, objective, budget, paths, counts, records):
    """The record of the `objective` run at `budget` from `records` (the study's, updated and
    written when a run is added), pre-training it first if it has none."""
    records_path = pathlib.Path(plan.study_dir) / PRETRAINING_FILENAME
    name = f"{objective}-{budget.label}"
    if name in records:
        return records[name]
    run_dir = pathlib.Path(plan.study_dir) / "pretrain" / name
    log.info("pre-training %s: %s FLOPs%s", run_dir, budget.label,
             f" ({budget.minutes:g} minutes of the fp32 step)" if budget.minutes else "")
    clock = WallClock(run_dir / "train_seconds.json")
    result = run_pretraining(
        config.for_objective(objective), paths["train_files"], run_dir,
        heldout_files=paths["heldout_files"], vocab_file=str(paths["vocab_file"]),
        checkpoint_steps=plan.checkpoint_steps, budget_flops=budget.flops, callbacks=[clock],
        verbose=2)
    summary = read_json(run_dir / SUMMARY_FILENAME)
    heldout = result.eval_metrics
    records[name] = {
        "run_dir": str(run_dir), "objective": objective, "budget_flops": budget.flops,
        "budget_minutes": budget.minutes, "steps": summary["steps_done"],
        "flops": summary["total_flops"], "seconds": clock.total(),
        "disc_auc": heldout.get("rtd_auc") if objective == "electra" else None,
        "mlm_accuracy": heldout.get("mlm_accuracy"), "heldout_metrics": heldout,
    }
    _write_json(records_path, records)
    counts["pretraining"] += 1
    log.info("pre-trained %s: %d steps, %.3g FLOPs, %.0f s, held-out %s", name,
             records[name]["steps"], records[name]["flops"], records[name]["seconds"],
             json.dumps(heldout))
    return records[name]


class WallClock(keras.callbacks.Callback):
    """Adds training time to a JSON file at every checkpoint interval and at the end.

    A run resumed in a later session adds its time to the earlier sessions'
    (the steps a killed session did after its last checkpoint are redone, and
    counted, by the next).
    """

    def __init__(self, path):
        super().__init__()
        self.path = pathlib.Path(path)
        self.mark = None
        self.seconds = None  # read from `path` once

    def total(self):
        if self.seconds is None:
            fix = f"delete it (the run's training time is then counted from {self.path.parent})"
            saved = read_json(self.path, fix) if self.path.is_file() else {"seconds": 0.0}
            if not isinstance(saved.get("seconds"), (int, float)):
                raise folder_error(self.path, "holds no seconds", fix)
            self.seconds = float(saved["seconds"])
        return self.seconds

    def on_train_begin(self, logs=None):
        self.mark = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self._add()

    def on_train_end(self, logs=None):
        self._add()

    def _add(self):
        now = time.monotonic()
        self.seconds = self.total() + now - self.mark
        _write_json(self.path, {"seconds": self.seconds})
        self.mark = now


# -------------------------------------------------------------------- cells
def _run_cell(plan, cell, pretrained, paths):
    """The cell's row: fine-tune or probe its encoder on its task."""
    task = finetune.BUILTIN_DATASETS[cell.dataset]
    spec = finetune.FinetuneSpec(
        task=task, dataset=cell.dataset,
        model_dir=str(pathlib.Path(plan.study_dir) / "cells" / cell.folder_name),
        init_from=pretrained["run_dir"] if pretrained else None,
        config=str(paths["encoder_config"]), vocab_file=str(paths["vocab_file"]),
        seed=cell.seed, recipe=cell.recipe)
    metric = METRICS[task]
    start = time.perf_counter()
    if cell.method == "probe":
        result = probe.run_probe(spec)
        extra = {"epochs_trained": None, "best_epoch": None, "probe_c": result["C"]}
    else:
        result = finetune.run_finetuning(spec)
        extra = {"epochs_trained": result["epochs_trained"], "best_epoch": result["best_epoch"],
                 "probe_c": None}
    seconds = time.perf_counter() - start
    pretrained = pretrained or {}
    return {
        "key": cell.key, "objective": cell.objective,
        "budget_flops": cell.budget.flops if cell.budget else None,
        "budget_minutes": cell.budget.minutes if cell.budget else None,
        "task": cell.dataset, "labels": cell.recipe.max_train_examples,
        "recipe": cell.recipe.name, "seed": cell.seed, "method": cell.method,
        "score": result["test"][metric], "metric": metric, "dev_score": result["dev"][metric],
        "pretrain_flops": pretrained.get("flops", 0), "pretrain_steps": pretrained.get("steps", 0),
        "pretrain_seconds": pretrained.get("seconds", 0.0), "finetune_seconds": seconds,
        "disc_auc": pretrained.get("disc_auc"), "mlm_accuracy": pretrained.get("mlm_accuracy"),
        **extra, "finished": _now(),
    }


# ----------------------------------------------------------------------- output
def _header(plan, config, vocab_size, budgets, cost, records):
    recipes = plan.recipe_configs(plan.recipes + plan.largest_budget_recipes)
    return {
        "package_version": _version(), "command": plan.command, "config": config.to_dict(),
        "vocab_size": vocab_size,
        "study_dir": str(plan.study_dir),
        "budgets": [{"flops": b.flops, "minutes": b.minutes} for b in budgets],
        "step_cost": cost,
        "recipes": {recipe.name: recipe.to_dict() for recipe in recipes},
        "seeds": list(plan.seeds), "cost_formula": COST_FORMULA,
        "pretraining": records,
        "updated": _now(),
    }


def _version():
    try:
        return importlib.metadata.version("electra_tf")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def merge_headers(saved, header):
    """`header` of this invocation, widened to the grid of every invocation before it.

    A study grows over several commands (a budget, then a seed, then more
    labels), each naming only what it adds; its rows come from all of them, so
    the header lists every command, budget, seed and recipe that wrote a row.
    `command` stays the last one. `saved` is the file's header, or None.

    ```python
    saved = {"commands": ["study --seeds 0"], "budgets": [{"flops": 4e14, "minutes": None}],
             "seeds": [0], "recipes": {"zh_1k_fair": {}}}
    new = {"command": "study --seeds 1", "budgets": [{"flops": 1e14, "minutes": None}],
           "seeds": [1], "recipes": {"zh_8k_fair": {}}}
    merged = merge_headers(saved, new)
    [b["flops"] for b in merged["budgets"]], merged["seeds"]  # -> ([1e14, 4e14], [0, 1])
    merged["commands"]  # -> ['study --seeds 0', 'study --seeds 1']
    ```
    """
    if saved is None:
        return {**header, "commands": [header["command"]]}
    commands = saved.get("commands") or [saved.get("command")]
    commands = [c for c in commands if c and c != header["command"]] + [header["command"]]
    budgets = {(b["flops"], b["minutes"]): b for b in saved.get("budgets", []) + header["budgets"]}
    return {
        **header, "commands": commands,
        "budgets": sorted(budgets.values(), key=lambda b: (b["flops"] or 0, b["minutes"] or 0)),
        "seeds": sorted(set(saved.get("seeds", [])) | set(header["seeds"])),
        "recipes": {**saved.get("recipes", {}), **header["recipes"]},
    }


def _read_study(path, header):
    """`(saved header or None, rows)` already in `path`, after checking they come from the
    same encoders."""
    path = pathlib.Path(path)
    if not path.is_file():
        return None, []
    fix = "restore it from a copy, or give another output path (its cells then run again)"
    saved = read_json(path, fix)
    if not (isinstance(saved.get("header"), dict) and isinstance(saved.get("rows"), list)):
        raise folder_error(path, "holds no study (a header and rows)", fix)
    for field in ("config", "vocab_size"):
        if saved["header"].get(field) != header[field]:
            raise ValueError(
                f"{path} holds a study with another {field} ({saved['header'][field]!r}, not "
                f"{header[field]!r}); give another output path, or the same config and "
                "vocabulary size.")
    return saved["header"], saved["rows"]


def _write_json(path, value):
    """Writes `value` to `path` through a temporary file and a rename: a kill leaves the
    old file or the new one, never half of one."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(temporary, path)


def select_on_dev(rows):
    """One row per task × labels × method × objective × budget × seed: where several recipes
    ran it (a grid of learning rates), the one whose dev score is best, as a user tuning on
    dev would pick. A tie on dev is a coin flip between the tied recipes: the row's score
    is then their mean test score, its `recipe` their names joined by `|`. Every row gets
    `recipes_compared`.

    Example:
    ```python
    rows = [{"task": "t", "labels": 1000, "method": "finetune", "objective": "random",
             "budget_flops": None, "seed": 0, "recipe": recipe, "dev_score": dev,
             "score": test} for recipe, dev, test in [("lr1e-3", 0.70, 0.71),
                                                      ("lr1e-4", 0.74, 0.73)]]
    [(row["recipe"], row["score"], row["recipes_compared"]) for row in select_on_dev(rows)]
    # -> [('lr1e-4', 0.73, 2)]
    ```
    """
    cells = collections.defaultdict(list)
    for row in rows:
        cells[tuple(row[k] for k in ("task", "labels", "method", "objective", "budget_flops",
                                     "seed"))].append(row)
    selected = []
    for candidates in cells.values():
        if len(candidates) == 1:
            selected.append({**candidates[0], "recipes_compared": 1})
            continue
        best = max(row["dev_score"] for row in candidates)
        tied = [row for row in candidates if row["dev_score"] == best]
        selected.append({**tied[0], "score": float(np.mean([row["score"] for row in tied])),
                         "recipe": "|".join(row["recipe"] for row in tied),
                         "recipes_compared": len(candidates)})
    return selected


def _groups(rows):
    """`{(task, labels, method): {objective: {budget_flops: [scores]}}}` of rows with one
    recipe per cell (`select_on_dev`'s)."""
    groups = collections.defaultdict(lambda: collections.defaultdict(
        lambda: collections.defaultdict(list)))
    for row in rows:
        groups[row["task"], row["labels"], row["method"]][row["objective"]][
            row["budget_flops"]].append(row["score"])
    return groups


def summary_table(rows) -> str:
    """Mean ± std (and seeds) of the score per task × labels × method × objective × budget.
    Where several recipes ran a cell, each seed counts with the one dev picks
    (`select_on_dev`) and the method says among how many, e.g. `finetune (dev: 1 of 3)`.

    Example:
    ```python
    rows = [{"task": "chinese_sentiment", "labels": 1000, "method": "finetune",
             "metric": "accuracy", "objective": objective, "budget_flops": budget,
             "seed": seed, "score": score}
            for objective, budget, seed, score in [("random", None, 0, 0.74),
                                                   ("random", None, 1, 0.76),
                                                   ("electra", 1e15, 0, 0.80)]]
    summary_table(rows)
    # -> task               labels  method    metric    objective  no pre-training      1e+15 FLOPs
    #    chinese_sentiment  1000    finetune  accuracy  random     0.750 ± 0.010 (n=2)  -
    #    chinese_sentiment  1000    finetune  accuracy  electra    -                    0.800 ± 0.000 (n=1)
    ```
    """
    budgets = sorted({row["budget_flops"] for row in rows if row["budget_flops"] is not None})
    metrics = {(row["task"], row["method"]): row["metric"] for row in rows}
    selected = select_on_dev(rows)
    compared = collections.defaultdict(int)
    for row in selected:
        key = row["task"], row["labels"], row["method"], row["objective"]
        compared[key] = max(compared[key], row["recipes_compared"])
    head = ["task", "labels", "method", "metric", "objective", "no pre-training"]
    lines = [head + [f"{b:.3g} FLOPs" for b in budgets]]
    for (task, labels, method), objectives in sorted(_groups(selected).items()):
        for objective in [RANDOM, *OBJECTIVES]:
            if objective in objectives:
                cells = [_mean_std(objectives[objective].get(b)) for b in [None, *budgets]]
                count = compared[task, labels, method, objective]
                shown = f"{method} (dev: 1 of {count})" if count > 1 else method
                lines.append([task, str(labels), shown, metrics[task, method], objective, *cells])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) + len(budgets))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip()
                     for line in lines)


def _mean_std(scores):
    if not scores:
        return "-"
    return f"{np.mean(scores):.3f} ± {np.std(scores):.3f} (n={len(scores)})"


def plot_study(rows, path):
    """Score vs pre-training FLOPs, one panel per task × labels × method: a line with
    error bars (std over seeds) per objective, random weights as a band (mean ± std)."""
    import matplotlib

    matplotlib.use("Agg")  # Scripts run without a display.
    import matplotlib.pyplot as plt

    groups = _groups(select_on_dev(rows))
    columns = min(2, len(groups))
    figure_rows = -(-len(groups) // columns)
    figure, axes = plt.subplots(figure_rows, columns, figsize=(5.5 * columns, 3.8 * figure_rows),
                                squeeze=False)
    metrics = {(row["task"], row["method"]): row["metric"] for row in rows}
    for axis, ((task, labels, method), objectives) in zip(axes.flat, sorted(groups.items())):
        budgets = sorted(b for scores in objectives.values() for b in scores if b is not None)
        for objective in OBJECTIVES:
            points = sorted((b, s) for b, s in objectives.get(objective, {}).items())
            if points:
                axis.errorbar([b for b, _ in points], [np.mean(s) for _, s in points],
                              yerr=[np.std(s) for _, s in points], marker="o", capsize=3,
                              label=objective)
        random_scores = objectives.get(RANDOM, {}).get(None)
        if random_scores:
            mean, std = np.mean(random_scores), np.std(random_scores)
            axis.axhspan(mean - std, mean + std, color="grey", alpha=0.25,
                         label=f"random weights (n={len(random_scores)})")
            axis.axhline(mean, color="grey", linestyle="--", linewidth=1)
        if budgets:
            axis.set_xscale("log")
        axis.set_title(f"{task}, {labels} labels, {method}", fontsize=10)
        axis.set_xlabel("pre-training FLOPs", fontsize=8)
        axis.set_ylabel(f"test {metrics[task, method]}", fontsize=8)
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[len(groups):]:
        axis.set_visible(False)
    figure.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
