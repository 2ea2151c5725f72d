"""Starts electra_tf's commands without TensorFlow's C++ start-up lines.

The `electra-*` console scripts (setup.cfg) and `scripts/<name>.py` call the
functions named after the commands here; each imports `electra_tf.cli.<name>`
quietly and runs it. `python -m electra_tf_launcher FILE [ARGS]` runs any
TensorFlow program file the same way (`make run` asks a TensorFlow-only
process for predictions so).

On a machine without a GPU, `import tensorflow` (TensorFlow 2.21) and its
first device listing print, to every user of every command:

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    I0000 ... cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available ...
    To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow ...
    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ... (303)

(the first two lines twice: two libraries each carry absl's logging).
`TF_CPP_MIN_LOG_LEVEL`, read once when TensorFlow is imported, hides the
`cpu_feature_guard` lines from 1 on and the cuInit error only at 3, which
hides every C++ error; the absl lines it never hides. So, unless
`TF_CPP_MIN_LOG_LEVEL` is set already, this sets it to 1 (C++ INFO hidden,
warnings and errors shown), and imports the command with the process's
standard error (file descriptor 2, which C++ writes to) sent to a temporary
file; afterwards the captured output is written to standard error again,
except the absl notice, the "Could not find cuda drivers" lines and, when
those said TensorFlow found no CUDA, the cuInit failure that follows from it.
Everything else (Python warnings, tracebacks, other C++ messages) is kept.
`TF_CPP_MIN_LOG_LEVEL=0` shows everything.

Nothing here imports TensorFlow or electra_tf before the capture starts:
importing any `electra_tf.cli` module imports TensorFlow (through
`electra_tf/__init__.py`) before the command's own code runs, which is why
this is a top-level module and not part of the package.
"""

import importlib
import os
import re
import runpy
import sys
import tempfile

_ABSL_NOTICE = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR")
_NO_CUDA = re.compile(
    rb".*cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\.")
_CUINIT = re.compile(rb".*cuda_platform\.cc:\d+\] failed call to cuInit: .*")


def without_start_up_noise(output: bytes) -> bytes:
    """`output` (what TensorFlow's start-up wrote to standard error) without the noise lines."""
    lines = [(line, line.rstrip(b"\r\n")) for line in output.splitlines(keepends=True)]
    no_cuda = any(_NO_CUDA.fullmatch(text) for _, text in lines)
    kept = []
    for line, text in lines:
        if _ABSL_NOTICE.fullmatch(text) or _NO_CUDA.fullmatch(text):
            continue
        if no_cuda and _CUINIT.fullmatch(text):
            continue
        kept.append(line)
    return b"".join(kept)


def quiet_import(module_name: str):
    """Imports `module_name` (and lists TensorFlow's devices) without the start-up noise."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return _import(module_name)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to filter
        return _import(module_name)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            return _import(module_name)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = without_start_up_noise(captured.read())
            while kept:
                kept = kept[os.write(2, kept):]


def _import(module_name):
    module = importlib.import_module(module_name)
    if "tensorflow" in sys.modules:
        # The first device listing is where a machine without CUDA logs cuInit's failure.
        sys.modules["tensorflow"].config.list_physical_devices()
    return module


def launch(command: str):
    """Runs the `electra-<command>` command (`electra_tf.cli.<command>.run`)."""
    return quiet_import(f"electra_tf.cli.{command}").run()


def pretrain():
    return launch("pretrain")


def finetune():
    return launch("finetune")


def export():
    return launch("export")


def generate():
    return launch("generate")


def translate():
    return launch("translate")


def convert():
    return launch("convert")


def study():
    return launch("study")


def main():
    """`python -m electra_tf_launcher FILE [ARGS]`: runs the program FILE after a quiet
    `import tensorflow` (FILE's own import then finds it loaded)."""
    if len(sys.argv) < 2:
        sys.exit("usage: python -m electra_tf_launcher FILE [ARGS]")
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
    quiet_import("tensorflow")
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
