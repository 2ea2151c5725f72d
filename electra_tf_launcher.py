"""Starts electra_tf's commands without TensorFlow's C++ log noise.

The `electra-*` console scripts (setup.cfg) and `scripts/<name>.py` call the
functions named after the commands here; each runs `electra_tf.cli.<name>`
with the noise kept from its standard error. `python -m electra_tf_launcher
FILE [ARGS]` runs any TensorFlow program file the same way (`make run` asks a
TensorFlow-only process for predictions so).

TensorFlow 2.21's C++ code writes, to every user of every command:

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. You may see slightly different ...
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ... (303)
    E0000 ... util.cc:131] oneDNN supports DT_INT64 only on platforms with AVX-512. Falling back ...

the first four when TensorFlow starts (the first three twice: two libraries
each carry absl's logging), the last when a graph with an int64 op first runs
where oneDNN is on. None of them is a fault: the INFO lines are start-up notes,
the cuInit failure follows from there being no CUDA driver, and the oneDNN
line is logged as an error though nothing fails (oneDNN has no int64 kernels
on any CPU, AVX-512 or not, so the op runs in TensorFlow's own kernel, as it
does with oneDNN off). Yet the lines before `absl::InitializeLog` ignore
`TF_CPP_MIN_LOG_LEVEL`, and the errors go only at level 3, which hides every
C++ error.

So, unless `--verbose` is among the command's arguments or
`TF_CPP_MIN_LOG_LEVEL` is 0, this sets `TF_CPP_MIN_LOG_LEVEL` to 1 when it
is unset (C++ INFO hidden, warnings and errors shown) and, before TensorFlow
is imported, sends the process's standard error (file descriptor 2, which
C++ writes to) through a child process that drops the lines below that level
(the ones TensorFlow prints before reading it), absl's notice, the cuInit
failure after "Could not find cuda drivers", and the oneDNN data-type notice.
Everything else (Python warnings, tracebacks, other C++ messages) passes, in
order. `--verbose` (or `TF_CPP_MIN_LOG_LEVEL=0`) shows everything.

Nothing here imports TensorFlow or electra_tf before the filter starts:
importing any `electra_tf.cli` module imports TensorFlow (through
`electra_tf/__init__.py`) before the command's own code runs, which is why
this is a top-level module and not part of the package.
"""

import atexit
import importlib
import os
import re
import runpy
import select
import signal
import sys

_ABSL_NOTICE = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR")
_NO_CUDA = re.compile(
    rb".*cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\.")
_CUINIT = re.compile(rb".*cuda_platform\.cc:\d+\] failed call to cuInit: .*")
_ONEDNN_DATA_TYPE = re.compile(
    rb".*\] oneDNN supports DT_\w+ only on platforms with AVX-512\. Falling back to the default "
    rb"Eigen-based implementation if present\.")
# absl's C++ log prefix: severity, date, time, thread, file:line.
_LOG_LINE = re.compile(rb"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] ")
_SEVERITIES = b"IWEF"


class NoiseLines:
    """Tells the noise lines in TensorFlow's standard error, one line at a time, in order.

    Example:
    ```python
    is_noise = NoiseLines(min_log_level=1)
    is_noise(b"I0000 00:00:1796591476.983075    4942 port.cc:153] oneDNN custom operations are on.")
    # True: an INFO line, though INFO is hidden
    is_noise(b"W0000 00:00:1796591476.983075    4942 op_kernel.cc:1857] a real warning")  # False
    ```
    """

    def __init__(self, min_log_level):
        self.min_log_level = min_log_level
        self.no_cuda = False

    def __call__(self, line: bytes) -> bool:
        text = line.rstrip(b"\r\n")
        if _NO_CUDA.fullmatch(text):
            self.no_cuda = True
            return True
        if _ABSL_NOTICE.fullmatch(text) or _ONEDNN_DATA_TYPE.fullmatch(text):
            return True
        if self.no_cuda and _CUINIT.fullmatch(text):
            return True
        logged = _LOG_LINE.match(text)
        return bool(logged) and _SEVERITIES.index(logged[1]) < self.min_log_level


def without_noise(output: bytes, min_log_level=1) -> bytes:
    """`output` (what TensorFlow wrote to standard error) without the noise lines."""
    is_noise = NoiseLines(min_log_level)
    return b"".join(line for line in output.splitlines(keepends=True) if not is_noise(line))


def verbose_requested(argv) -> bool:
    """Whether absl's parsing of `argv` would set `--verbose` (the last mention wins).

    ```python
    verbose_requested(["--model_dir", "x", "--verbose"])  # True
    verbose_requested(["--verbose", "--verbose=false"])  # False
    ```
    """
    verbose = False
    for argument in argv:
        if argument == "--":  # absl's end of flags
            break
        name, _, value = argument.lstrip("-").partition("=")
        if argument.startswith("-") and name in ("verbose", "noverbose"):
            verbose = name == "verbose" and value.lower() in ("", "true", "t", "1")
    return verbose


def quiet_tensorflow(argv=()):
    """Keeps TensorFlow's C++ noise from standard error for the rest of this process,
    unless `argv` asks for `--verbose` or `TF_CPP_MIN_LOG_LEVEL` is 0."""
    if "tensorflow" in sys.modules:
        # Too late for its start-up lines, and forking a process whose TensorFlow
        # threads may hold locks is unsafe.
        return
    if verbose_requested(argv):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    if level != "0":
        _filter_stderr(NoiseLines(int(level) if level.isdigit() else 1))


def _filter_stderr(is_noise):
    """Sends file descriptor 2 through a child process that drops the lines `is_noise` picks.

    A child, not a thread, so that nothing written is lost when this process
    crashes or is killed: the child writes until the pipe's last writer is gone.
    """
    if not hasattr(os, "fork"):
        return
    sys.stderr.flush()
    try:
        original = os.dup(2)
    except OSError:  # no standard error to filter
        return
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(write)
            # Ctrl-C and SIGTERM are for the command; this ends when the pipe does.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            _forward(read, original, is_noise)
        finally:  # never return into the command's code, whatever happened
            os._exit(0)
    os.close(read)
    os.dup2(write, 2)
    os.close(write)
    atexit.register(_stop_filtering, original, child)


def _forward(source, target, is_noise):
    """Copies `source` to `target` line by line, leaving out the noise, until the end of `source`."""
    pending = b""
    while True:
        if pending and not select.select([source], [], [], 0.05)[0]:
            # A prompt or a progress bar: nothing more is coming for now.
            _write(target, pending)
            pending = b""
        chunk = os.read(source, 1 << 16)
        if not chunk:
            _write(target, pending)
            return
        *lines, pending = (pending + chunk).split(b"\n")
        _write(target, b"".join(line + b"\n" for line in lines if not is_noise(line)))


def _write(fd, data):
    while data:
        data = data[os.write(fd, data):]


def _stop_filtering(original, child):
    # What is written from here on (late C++ destructors) goes straight out; the
    # child's output comes first, so the next command's never cuts into it.
    sys.stderr.flush()
    os.dup2(original, 2)
    os.close(original)
    os.waitpid(child, 0)


def launch(command: str):
    """Runs the `electra-<command>` command (`electra_tf.cli.<command>.run`)."""
    quiet_tensorflow(sys.argv[1:])
    return importlib.import_module(f"electra_tf.cli.{command}").run()


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
    """`python -m electra_tf_launcher FILE [ARGS]`: runs the program FILE without
    TensorFlow's noise (FILE's ARGS are its own: `TF_CPP_MIN_LOG_LEVEL=0` shows it)."""
    if len(sys.argv) < 2:
        sys.exit("usage: python -m electra_tf_launcher FILE [ARGS]")
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
    quiet_tensorflow()
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
