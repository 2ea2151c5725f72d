"""Every private keras-hub and Keras API that electra_tf.compat borrows exists in the installed
versions.

An upgrade that removes or renames one fails here, naming it and the versions
compat was checked against. The borrowed functions are read from compat's
source, so their test runs even when the upgrade breaks `import electra_tf`;
the borrowed attributes and methods are listed below, and a test fails when
compat uses one the list lacks. Nothing outside compat imports keras-hub's or
Keras' private modules.
"""

import ast
import importlib
import pathlib

import keras
import keras_hub
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMPAT = ROOT / "electra_tf" / "compat"
PRIVATE_MODULES = ("keras_hub.src", "keras.src")


def trees(folder):
    return {path: ast.parse(path.read_text(encoding="utf-8"), str(path))
            for path in sorted(folder.rglob("*.py"))}


def checked_versions():
    """compat's `CHECKED_VERSIONS`, read without importing it."""
    for node in ast.parse((COMPAT / "__init__.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "CHECKED_VERSIONS":
            return ast.literal_eval(node.value)
    raise AssertionError("electra_tf/compat/__init__.py has no CHECKED_VERSIONS")


def gone(symbol):
    installed = f"Keras {keras.__version__}, keras-hub {keras_hub.__version__}"
    checked = ", ".join(f"{name} {version}" for name, version in checked_versions().items())
    return (f"{symbol} is gone in {installed}; electra_tf/compat borrows it (checked against "
            f"{checked}): see there why, then replace it or borrow its new form.")


def private(module):
    return any(module == name or module.startswith(name + ".") for name in PRIVATE_MODULES)


def borrowed_functions():
    """`(module, name)` for every import compat makes from a private module."""
    return sorted({(node.module, alias.name)
                   for tree in trees(COMPAT).values() for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and node.module and private(node.module)
                   for alias in node.names})


@pytest.mark.parametrize("module, name", borrowed_functions(),
                         ids=lambda value: value)
def test_borrowed_function_exists(module, name):
    try:
        found = hasattr(importlib.import_module(module), name)
    except ImportError:
        found = False
    assert found, gone(f"{module}.{name}")


def transformer_encoder():
    layer = keras_hub.layers.TransformerEncoder(intermediate_dim=8, num_heads=2)
    layer.build((1, 4, 4))
    return layer


def masked_lm_head():
    head = keras_hub.layers.MaskedLMHead(vocabulary_size=10, activation="gelu")
    head.build((1, 4, 4))
    return head


def preset_loader_class():
    return importlib.import_module("keras_hub.src.utils.preset_utils").PresetLoader


# The private attributes and methods compat reads or overrides, by what has them (a
# class, or an object made as keras-hub and Keras make it where the attribute is set
# at construction or build time).
BORROWED_ATTRIBUTES = {
    "keras.layers.Layer": (lambda: keras.layers.Layer, ("_flatten_layers",)),
    "keras.Model (an instance)": (keras.Model, ("_distribute_strategy", "_maybe_symbolic_build")),
    "keras.optimizers.AdamW": (lambda: keras.optimizers.AdamW, (
        "_apply_weight_decay", "_get_variable_index", "_use_weight_decay")),
    "keras.callbacks.BackupAndRestore (an instance)": (
        lambda: keras.callbacks.BackupAndRestore("backup"),
        ("_current_epoch", "_last_batch_seen", "_save_model")),
    "keras_hub.layers.TransformerEncoder (built)": (transformer_encoder, (
        "_feedforward_intermediate_dense", "_feedforward_layer_norm", "_feedforward_output_dense",
        "_self_attention_layer", "_self_attention_layer_norm")),
    "keras_hub.layers.MaskedLMHead (built)": (masked_lm_head, (
        "_bias", "_intermediate_dense", "_intermediate_layer_norm")),
    # A public method, but of the class `get_preset_loader` returns.
    "keras_hub.src.utils.preset_utils.PresetLoader": (preset_loader_class, ("load_task",)),
}


@pytest.mark.parametrize("owner", sorted(BORROWED_ATTRIBUTES))
def test_borrowed_attributes_exist(owner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make, names = BORROWED_ATTRIBUTES[owner]
    found = make()
    missing = [name for name in names if not hasattr(found, name)]
    assert not missing, gone(" and ".join(f"{owner.split()[0]}.{name}" for name in missing))


def private_names_used(tree):
    """Private (not dunder) names `tree` reads as attributes or defines as methods,
    less those it defines at module level."""
    own = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            used.update(item.name for item in node.body if isinstance(item, ast.FunctionDef))
    return {name for name in used - own if name.startswith("_") and not name.startswith("__")}


def test_every_private_name_compat_uses_is_checked():
    listed = {name for _, names in BORROWED_ATTRIBUTES.values() for name in names}
    unlisted = {f"{path.relative_to(ROOT)}: {name}" for path, tree in trees(COMPAT).items()
                for name in private_names_used(tree) - listed}
    assert not unlisted, ("private names compat uses that BORROWED_ATTRIBUTES does not check: "
                          + ", ".join(sorted(unlisted)))


def imported_modules(node):
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module]
    return []


def test_only_compat_imports_private_modules():
    found = [f"{path.relative_to(ROOT)}:{node.lineno}: {module}"
             for path, tree in trees(ROOT / "electra_tf").items() if COMPAT not in path.parents
             for node in ast.walk(tree) for module in imported_modules(node) if private(module)]
    assert not found, "private keras-hub / Keras imports outside electra_tf/compat:\n" + "\n".join(
        found)

