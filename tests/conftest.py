import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The modules that take minutes, longest first (their tests' summed `--durations` in a full
# run). `make test` hands whole modules to its two workers in collection order
# (`--dist loadfile --no-loadscope-reorder`), each worker taking the next when it runs dry, so
# starting the long ones first lets both workers end together; xdist's own order (most tests
# first) left the four-test notebook module for last, with one worker idle while it ran.
LONGEST_MODULES = (
    "test_notebooks.py", "test_multi_worker.py", "test_export_bfloat16.py",
    "test_pretrain_run.py", "test_budget_study.py", "test_generation_scripts.py",
    "test_preemption.py", "test_pretrainer.py", "test_convert_uses.py",
    "test_generation_results.py", "test_distribution.py", "test_pretrain_step_benchmark.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: position for position, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest as collected


@pytest.fixture
def count_traces():
    """`count_traces(model)` → a list that grows by one each time `model.train_step` is traced."""
    def wrap(model):
        traced = []
        train_step = model.train_step
        model.train_step = lambda data: traced.append(1) or train_step(data)
        return traced
    return wrap
