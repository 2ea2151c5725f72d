"""The package's layers import downwards only: every import in electra_tf/, read with `ast`.

Lower layers never reach up: compat (the borrowed keras-hub and Keras
internals, which every layer may use) imports nothing of electra_tf; data and
tokenization never import models; models never import training, cli, export or
convert; export never imports training; and nothing in electra_tf imports
scripts/ or tests/. Inside models, what every task shares (the modules at the
top of models/) imports no task package, and a task package imports no other
but those it builds on (`TASKS`). Imports inside
functions count as much as those at the top of a file, and so do names taken
from a package's `__init__` (`from electra_tf import ElectraClassifier` imports
electra_tf.models.classification.classifier). A new upward import fails here, naming the
file, the line and the rule.
"""

import ast
import dataclasses
import pathlib
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Rule:
    """Modules under any of `layers` (but not under any of `exempt`) import nothing under any
    of `forbidden`."""

    text: str
    layers: tuple
    forbidden: tuple
    exempt: tuple = ()


def scripts_and_tests(root):
    """What importing scripts/ or tests/ looks like: the packages, and every file's own name
    (they are imported by name once their folder is on sys.path)."""
    stems = {path.stem for folder in ("scripts", "tests")
             for path in (root / folder).rglob("*.py")}
    return ("scripts", "tests", *sorted(stems))


# Each task package of electra_tf/models, and the task packages it may import: the multi-task
# model composes the classification and tagging heads, captioning is seq2seq over images, and
# the replaced-token detector reads sentences as the classifier packs them.
TASKS = {
    "pretraining": ("classification",),
    "classification": (),
    "tagging": (),
    "multitask": ("classification", "tagging"),
    "seq2seq": (),
    "captioning": ("seq2seq",),
}


def task_rules():
    packages = tuple(f"electra_tf.models.{task}" for task in TASKS)
    yield Rule("the models every task shares import no task package",
               ("electra_tf.models",), packages, exempt=packages)
    for task, allowed in TASKS.items():
        others = [other for other in TASKS if other != task and other not in allowed]
        text = f"models.{task} imports no other task package" + (
            f" but {' and '.join(allowed)}" if allowed else "")
        yield Rule(text, (f"electra_tf.models.{task}",),
                   tuple(f"electra_tf.models.{other}" for other in others))


def rules(root):
    return (
        *task_rules(),
        Rule("compat imports nothing of electra_tf", ("electra_tf.compat",), ("electra_tf",)),
        Rule("data and tokenization never import models",
             ("electra_tf.data", "electra_tf.tokenization"), ("electra_tf.models",)),
        Rule("models never import training, cli, export or convert", ("electra_tf.models",),
             ("electra_tf.training", "electra_tf.cli", "electra_tf.export", "electra_tf.convert")),
        Rule("export never imports training", ("electra_tf.export",), ("electra_tf.training",)),
        Rule("nothing in electra_tf imports scripts/ or tests/", ("electra_tf",),
             scripts_and_tests(root)),
    )


def under(module, prefixes):
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


class Package:
    """The modules of the package in `root / "electra_tf"`, and what each imports."""

    def __init__(self, root):
        self.root = root
        self.files = {}
        for path in sorted((root / "electra_tf").rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            self.files[name] = path
        self.trees = {name: ast.parse(path.read_text(encoding="utf-8"), str(path))
                      for name, path in self.files.items()}

    def imports(self, module):
        """`(line, imported module)` for every import in `module`, at any depth."""
        is_package = self.files[module].name == "__init__.py"
        for node in ast.walk(self.trees[module]):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(module, is_package, node.level, node.module)
                for alias in node.names:
                    yield node.lineno, self._origin(base, alias.name)
            elif (isinstance(node, ast.Call) and _called_name(node.func) in (
                    "import_module", "__import__") and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                yield node.lineno, node.args[0].value

    @staticmethod
    def _absolute(module, is_package, level, name):
        """The absolute module of `from <level dots><name> import ...` written in `module`."""
        if not level:
            return name
        parts = module.split(".")
        package = parts if is_package else parts[:-1]
        base = package[:len(package) - level + 1]
        return ".".join(base + ([name] if name else []))

    def _origin(self, base, name, seen=()):
        """The module `from base import name` takes `name` from: a submodule, what a package's
        `__init__` imported it from, or `base` itself."""
        if f"{base}.{name}" in self.files:
            return f"{base}.{name}"
        if base in self.files and base not in seen:
            for node in ast.walk(self.trees[base]):
                if isinstance(node, ast.ImportFrom) and not node.level:
                    for alias in node.names:
                        if (alias.asname or alias.name) == name:
                            return self._origin(node.module, alias.name, (*seen, base))
        return base


def _called_name(func):
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def violations(root):
    """One line per upward import in `root / "electra_tf"`: file, line, what and the rule."""
    package = Package(root)
    found = []
    for module, path in package.files.items():
        imports = list(package.imports(module))
        for rule in rules(root):
            if not under(module, rule.layers) or under(module, rule.exempt):
                continue
            for line, imported in imports:
                if under(imported, rule.forbidden):
                    found.append(f"{path.relative_to(root)}:{line}: imports {imported}, but "
                                 f"{rule.text}")
    return found


def test_no_layer_imports_upwards():
    found = violations(ROOT)
    assert not found, "upward imports:\n" + "\n".join(found)


def write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_an_upward_import_is_named_with_its_file_line_and_rule(tmp_path):
    write(tmp_path, {
        "electra_tf/__init__.py": "from electra_tf.models.task import Task\n",
        "electra_tf/models/__init__.py": "",
        "electra_tf/models/task.py": """\
            import keras


            def train(task):
                from ..training import loop  # a lazy import is an import all the same
                return loop.fit(task)
            """,
        "electra_tf/models/metrics.py": "from electra_tf.models.tagging import tagger\n",
        "electra_tf/models/tagging/__init__.py": "",
        "electra_tf/models/tagging/tagger.py": "from electra_tf.models.seq2seq import decode\n",
        "electra_tf/models/seq2seq/__init__.py": "",
        "electra_tf/models/seq2seq/decode.py": "",
        "electra_tf/models/multitask/__init__.py": "from electra_tf.models.tagging import tagger\n",
        "electra_tf/data/__init__.py": "",
        "electra_tf/data/batches.py": "import electra_tf\nfrom electra_tf import Task\n",
        "electra_tf/export/__init__.py": "",
        "electra_tf/export/serve.py": """\
            import importlib

            SUMMARIES = importlib.import_module("electra_tf.training.summaries")
            """,
        "electra_tf/training/__init__.py": "",
        "electra_tf/training/loop.py": "from electra_tf.models import task\n",
        "electra_tf/cli/__init__.py": "",
        "electra_tf/cli/run.py": "import export_helpers\n",
        "electra_tf/compat/__init__.py": "import keras_hub\nfrom electra_tf import tokenization\n",
        "electra_tf/tokenization.py": "",
        "tests/export_helpers.py": "",
        "scripts/run.py": "from electra_tf.cli import run\n",
    })
    assert violations(tmp_path) == [
        "electra_tf/cli/run.py:1: imports export_helpers, but nothing in electra_tf imports "
        "scripts/ or tests/",
        "electra_tf/compat/__init__.py:2: imports electra_tf.tokenization, but compat imports "
        "nothing of electra_tf",
        "electra_tf/data/batches.py:2: imports electra_tf.models.task, but data and "
        "tokenization never import models",
        "electra_tf/export/serve.py:3: imports electra_tf.training.summaries, but export never "
        "imports training",
        "electra_tf/models/metrics.py:1: imports electra_tf.models.tagging.tagger, but the "
        "models every task shares import no task package",
        "electra_tf/models/tagging/tagger.py:1: imports electra_tf.models.seq2seq.decode, but "
        "models.tagging imports no other task package",
        "electra_tf/models/task.py:5: imports electra_tf.training.loop, but models never import "
        "training, cli, export or convert",
    ]
