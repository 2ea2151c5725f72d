import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def count_traces():
    """`count_traces(model)` → a list that grows by one each time `model.train_step` is traced."""
    def wrap(model):
        traced = []
        train_step = model.train_step
        model.train_step = lambda data: traced.append(1) or train_step(data)
        return traced
    return wrap
