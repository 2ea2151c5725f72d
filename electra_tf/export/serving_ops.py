"""The ops an export may use: what the stock TF Serving build can run.

`tensorflow/serving` links core TF's ops and kernels plus TF Text's
`ops_lib` (model_servers/BUILD, `SUPPORTED_TENSORFLOW_OPS`), at the TF Text
version its `workspace.bzl` pins: TF Serving 2.21 builds TF Text 2.20. Which
TF Text ops a given server has therefore depends on its release:

| op                                   | in TF Serving since |
| ------------------------------------ | ------------------- |
| RegexSplitWithOffsets, CaseFoldUTF8, |                     |
| NormalizeUTF8, WordpieceTokenize...  | 2.2                 |
| FastWordpieceTokenizeWithOffsets     | 2.10                |
| TFText>RoundRobinTrim, TFText>Round- |                     |
| RobinGenerateMasks, TFText>Utf8Bin.. | 2.20                |

Exports allow the first two rows only, so they serve on TF Serving 2.10 and
later; that is why packing truncates "waterfall" (core ops) and not
round-robin (`TFText>RoundRobinTrim`). A server without an op still *loads*
the model and fails on the first request; the warm-up file moves that
failure to load time, and `check_serving_ops` to export time.

Core ops are those registered by a process that imported TensorFlow alone,
less the few that need a Python interpreter. The check runs
`standalone.py ops` in a fresh process, so TF Text's (and keras-hub's)
imports in this one cannot blur the line.
"""

import json
import os
import pathlib
import subprocess
import sys

# Op types from TF Text that an export may contain (see the table above).
ALLOWED_TF_TEXT_OPS = frozenset({
    "CaseFoldUTF8",
    "FastWordpieceTokenizeWithOffsets",
    "NormalizeUTF8",
    "RegexSplitWithOffsets",
    "WordpieceTokenizeWithOffsets",
})
MIN_TF_SERVING_VERSION = "2.10"
# Registered by core TF but backed by the Python interpreter, which TF
# Serving does not embed.
PYTHON_ONLY_CORE_OPS = frozenset({"EagerPyFunc", "PyFunc", "PyFuncStateless"})

_STANDALONE = pathlib.Path(__file__).with_name("standalone.py")


def classify_saved_model_ops(*export_dirs):
    """`{op type: "core" | "tf_text" | "unknown"}` over the exports, from a fresh process."""
    result = subprocess.run(
        [sys.executable, str(_STANDALONE), "ops", *map(str, export_dirs)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"listing the ops of {export_dirs} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def unservable_ops(op_kinds):
    """The ops, from `classify_saved_model_ops`, that stock TF Serving cannot run."""
    return sorted(
        name
        for name, kind in op_kinds.items()
        if (kind == "core" and name in PYTHON_ONLY_CORE_OPS)
        or (kind == "tf_text" and name not in ALLOWED_TF_TEXT_OPS)
        or kind == "unknown"
    )


def check_serving_ops(export_dir):
    """Raises `ValueError` naming every op of the export that TF Serving lacks."""
    bad = unservable_ops(classify_saved_model_ops(export_dir))
    if bad:
        raise ValueError(
            f"{export_dir} uses op(s) that TF Serving {MIN_TF_SERVING_VERSION}+ does not "
            f"have: {', '.join(bad)}. Allowed: core TF and TF Text's "
            f"{sorted(ALLOWED_TF_TEXT_OPS)} (see electra_tf/export/serving_ops.py); "
            'e.g. pack with MultiSegmentPacker(truncate="waterfall").'
        )
