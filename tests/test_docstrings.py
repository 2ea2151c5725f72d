"""Every example in a docstring of the package runs (keras-hub style: examples are tests).

Each ```python block of a public module, class, function or method is run, as
doctest runs examples, in a copy of its module's namespace, from an empty
working directory (which sees the repository's `tests/fixtures`), so an
example that rots fails here.
"""

import importlib
import inspect
import pathlib
import pkgutil
import re

import pytest

import electra_tf

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def documented_objects():
    for info in pkgutil.walk_packages(electra_tf.__path__, "electra_tf."):
        module = importlib.import_module(info.name)
        yield info.name, module, module
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_") or getattr(obj, "__module__", None) != info.name:
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{info.name}.{name}", obj, module
            if inspect.isclass(obj):
                for method_name, method in sorted(vars(obj).items()):
                    if not method_name.startswith("_") and inspect.isfunction(method):
                        yield f"{info.name}.{name}.{method_name}", method, module


EXAMPLES = [
    pytest.param(block, module, id=f"{name}[{i}]")
    for name, obj, module in documented_objects()
    for i, block in enumerate(BLOCK.findall(inspect.getdoc(obj) or ""))
]


def test_examples_were_found():
    assert len(EXAMPLES) > 40


@pytest.mark.parametrize("example, module", EXAMPLES)
def test_docstring_example_runs(example, module, tmp_path, monkeypatch):
    code = [line for line in example.splitlines() if line.strip()]
    assert not all(line.lstrip().startswith("#") for line in code), "the example is commented out"
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(tmp_path)
    namespace = {**vars(module), "__name__": "__docstring__"}
    exec(compile(example, "<docstring example>", "exec"), namespace)
