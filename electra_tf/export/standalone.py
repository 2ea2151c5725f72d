"""TF Text's ops without keras, keras-hub or electra_tf: for loading an export.

`import tensorflow_text` registers its ops but also imports `tf.keras`; this
file loads the ops straight from TF Text's shared libraries instead, so a
serving-side process needs only `tensorflow` and the `tensorflow-text` wheel
installed. It imports nothing from electra_tf and runs as a script:

    python electra_tf/export/standalone.py show --dir EXPORT --all
    python electra_tf/export/standalone.py run --dir EXPORT \
        --tag_set serve --signature_def serving_default \
        --input_exprs 'text=np.array(["今天天气很好"])'

which is `saved_model_cli` (its TF1-session loader is closer to TF Serving's
than `tf.saved_model.load`) with TF Text's ops registered, and

    python electra_tf/export/standalone.py ops EXPORT...

which prints the exports' op types as JSON, each marked core, tf_text or
unknown (see `electra_tf.export.serving_ops`), and

    python electra_tf/export/standalone.py predict EXPORT "text" "text a<TAB>text b"

which prints the `serving_default` answer for each text as a JSON line
(EXPORT may be `<base>/<model_name>`: its latest version is used).

From Python:
```python
from electra_tf.export import standalone  # or load this file by path, without electra_tf

standalone.load_tf_text_ops()  # then tf.saved_model.load(export_dir) finds TF Text's ops
"FastWordpieceTokenizeWithOffsets" in standalone.tf_text_op_names()  # -> True
```
"""

import importlib.util
import pathlib
import sys

import tensorflow as tf


def tf_text_op_libraries():
    """Paths of TF Text's op libraries, found without importing tensorflow_text."""
    spec = importlib.util.find_spec("tensorflow_text")
    if spec is None:
        raise ImportError("tensorflow-text is not installed; pip install tensorflow-text.")
    ops_dir = pathlib.Path(next(iter(spec.submodule_search_locations))) / "python" / "ops"
    return sorted(ops_dir.glob("_*.so"))


def load_tf_text_ops():
    """Registers every TF Text op with this process's TensorFlow."""
    for library in tf_text_op_libraries():
        tf.load_op_library(str(library))


def tf_text_op_names():
    """Names of the ops TF Text's libraries register (and registers them)."""
    # `tf.load_op_library` returns Python wrappers only; the op list itself
    # comes from the C API it uses.
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    names = set()
    for library in tf_text_op_libraries():
        handle = pywrap_tf_session.TF_LoadLibrary(str(library))
        try:
            op_list = op_def_pb2.OpList.FromString(pywrap_tf_session.TF_GetOpList(handle))
        finally:
            pywrap_tf_session.TF_DeleteLibraryHandle(handle)
        names.update(op.name for op in op_list.op)
    return names


def saved_model_op_names(export_dir):
    """Every op type in the SavedModel's graph and function library."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel.FromString(
        (pathlib.Path(export_dir) / "saved_model.pb").read_bytes()
    )
    names = set()
    for meta_graph in saved_model.meta_graphs:
        library = meta_graph.graph_def.library
        functions = {f.signature.name for f in library.function}
        names.update(node.op for node in meta_graph.graph_def.node)
        for function in library.function:
            names.update(node.op for node in function.node_def)
        names -= functions  # calls of the library's own functions
    return names


def classify_ops(*export_dirs):
    """Maps each op of the exports to "core", "tf_text" or "unknown".

    Run in a process that has imported nothing but TensorFlow: then the op
    registry holds exactly core TF's ops before TF Text's are loaded.
    """
    from tensorflow.python.framework import op_def_registry

    names = set().union(*map(saved_model_op_names, export_dirs))
    kinds = {name: "core" for name in names if op_def_registry.get(name) is not None}
    tf_text = tf_text_op_names()
    for name in names - kinds.keys():
        kinds[name] = "tf_text" if name in tf_text else "unknown"
    return kinds


def latest_version(path):
    """`path` if it is a SavedModel, else its highest numbered version folder."""
    path = pathlib.Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = [p for p in path.iterdir() if p.name.isdigit()] if path.is_dir() else []
    if not versions:
        raise FileNotFoundError(f"{path} is neither a SavedModel nor a folder of versions.")
    return max(versions, key=lambda p: int(p.name))


def predict(export_dir, texts):
    """Calls `serving_default` on `texts`; a tab in a text separates a pair.

    `export_dir` is a SavedModel or a model folder of TF Serving's layout (its
    latest version is used). Returns one dict of plain Python values per text.
    """
    load_tf_text_ops()
    signature = tf.saved_model.load(str(latest_version(export_dir))).signatures[
        "serving_default"]
    names = sorted(signature.structured_input_signature[1])  # text[, text_pair]
    columns = list(zip(*(t.split("\t", len(names) - 1) for t in texts)))
    outputs = signature(**{n: tf.constant(c, tf.string) for n, c in zip(names, columns)})
    outputs = {k: v.numpy().tolist() for k, v in outputs.items()}
    return [
        {key: _decode(values[i]) for key, values in sorted(outputs.items())}
        for i in range(len(texts))
    ]


def _decode(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def main():
    import json

    command = sys.argv[1:2]
    if command == ["ops"]:  # ops EXPORT_DIR...: JSON {op: kind}
        print(json.dumps(classify_ops(*sys.argv[2:]), sort_keys=True))
        return
    if command == ["predict"]:  # predict EXPORT_DIR TEXT...: one JSON line per text
        for row in predict(sys.argv[2], sys.argv[3:]):
            print(json.dumps(row, ensure_ascii=False))
        return
    from tensorflow.python.tools import saved_model_cli

    load_tf_text_ops()
    sys.argv[0] = "saved_model_cli"
    saved_model_cli.main()


if __name__ == "__main__":
    main()
