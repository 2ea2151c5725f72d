"""Shared by the export tests: calling signatures, and one TensorFlow-only process.

Starting TensorFlow is the slow part of a fresh process, so each test module
asks everything of one `fresh_process` call.
"""

import pathlib
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import tensorflow as tf

from electra_tf.export import export_for_serving

ROOT = pathlib.Path(__file__).resolve().parents[1]
STANDALONE = ROOT / "electra_tf" / "export" / "standalone.py"


def call(signature, **inputs):
    """Calls a signature on array-likes; returns NumPy outputs."""
    outputs = signature(**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in outputs.items()}


def as_strings(texts):
    return np.array([t if isinstance(t, bytes) else t.encode() for t in texts], dtype=object)


def export_and_load(servable, base_dir, name):
    """`(export dir, loaded SavedModel)`; ops are checked in the fresh process instead."""
    path = export_for_serving(servable, base_dir, name, check_ops=False)
    return path, tf.saved_model.load(str(path))


def assert_same_outputs(actual, expected, atol=1e-6):
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        if value.dtype.kind == "f":
            np.testing.assert_allclose(actual[key], value, atol=atol, err_msg=key)
        else:
            np.testing.assert_array_equal(actual[key], value, err_msg=key)


_FRESH_PROCESS = textwrap.dedent("""
    import contextlib, importlib.util, io, pickle, sys
    spec = importlib.util.spec_from_file_location("standalone", {standalone!r})
    standalone = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(standalone)
    requests, cli_runs, predict_request = pickle.loads(bytes.fromhex(sys.stdin.readline()))
    # Before TF Text's ops are registered: the registry holds core TF alone.
    op_kinds = standalone.classify_ops(*sorted({{path for path, _, _ in requests.values()}}))
    standalone.load_tf_text_ops()
    import tensorflow as tf
    from tensorflow.python.tools import saved_model_cli
    answers, exports = {{}}, {{}}
    for key, (path, signature, inputs) in requests.items():
        # Loading is the slow part: each export once, however many requests it gets.
        if path not in exports:
            exports[path] = tf.saved_model.load(path)
        function = exports[path].signatures[signature]
        answers[key] = {{k: v.numpy() for k, v in function(
            **{{n: tf.constant(v) for n, v in inputs.items()}}).items()}}
    predicted = standalone.predict(*predict_request) if predict_request else None
    cli = []
    for argv in cli_runs:
        sys.argv, out, code = ["saved_model_cli", *argv], io.StringIO(), 0
        with contextlib.redirect_stdout(out):
            try:
                saved_model_cli.main()
            except SystemExit as exit:
                code = exit.code or 0
        cli.append((code, out.getvalue()))
    imported = [m for m in ("electra_tf", "keras_hub", "tensorflow_text") if m in sys.modules]
    sys.stdout.write(pickle.dumps((op_kinds, answers, predicted, cli, imported)).hex())
""")


def fresh_process(requests, cli_runs=(), predict_request=None):
    """Asks a process that imports TensorFlow only (and TF Text's op libraries).

    `requests` maps a key to `(export dir, signature name, inputs)`;
    `cli_runs` are `saved_model_cli` argument lists (run after TF Text's ops
    are loaded, as `standalone.py` does); `predict_request` is
    `(model dir, texts)` for `standalone.predict`. Returns a dict with the
    exports' `op_kinds`, the `answers` per request key, `predicted`, the
    `cli` `(exit code, output)` pairs and the non-TF modules `imported`.
    """
    result = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS.format(standalone=str(STANDALONE))],
        input=pickle.dumps((requests, list(cli_runs), predict_request)).hex() + "\n",
        capture_output=True, text=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    op_kinds, answers, predicted, cli, imported = pickle.loads(
        bytes.fromhex(result.stdout.strip()))
    return {"op_kinds": op_kinds, "answers": answers, "predicted": predicted, "cli": cli,
            "imported": imported}


def show_signatures(export_dir, *signatures):
    """`saved_model_cli show` runs: the signature keys, then each signature's inputs and outputs.

    Unlike `show --all`, these read `saved_model.pb` alone; `--all` also loads
    the whole model, so the classifier's test asks for it once and the other
    exports use these.
    """
    show = ["show", "--dir", str(export_dir), "--tag_set", "serve"]
    return [show] + [[*show, "--signature_def", name] for name in signatures]


def run_export_script(*args):
    """Runs the `electra-export` command (scripts/export.py) in this process (a fresh
    one would spend longer importing than exporting), then puts its flags back to
    their defaults, unparsed, so the next run or another test starts clean."""
    from absl import flags

    from electra_tf.cli import export

    export.define_flags()  # once per process
    was_parsed = flags.FLAGS.is_parsed()
    try:
        flags.FLAGS(["electra-export", *args])
        export.main([])
    finally:
        if was_parsed:
            for flag in flags.FLAGS.get_flags_for_module(export.__name__):
                flag.unparse()
        else:
            flags.FLAGS.unparse_flags()
