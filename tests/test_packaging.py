"""The wheel works outside the checkout: presets, console scripts, a quiet start.

The wheel is built from a copy of the source tree (so no `build/` folder is
left in the checkout, nor a stale one read from it), installed into a fresh
virtual environment that borrows this environment's site-packages for the
dependencies (TensorFlow is not installed twice) through a plain path line,
which leaves this checkout's editable install out, and used from a directory
outside the checkout.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile

import pytest

from electra_tf.config import FinetuneConfig, PRESET_DIR, preset_names

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMANDS = ("pretrain", "finetune", "export", "generate", "translate", "convert", "study")
# What the source copy leaves out: environments, caches, runs and build output.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".cache", ".hypothesis", ".pytest_cache", "__pycache__", "build", "dist",
    "runs", "*.egg-info")
# TensorFlow's start-up lines that electra_tf_launcher keeps from the user.
START_UP_NOISE = ("Could not find cuda drivers", "absl::InitializeLog", "cpu_feature_guard",
                  "oneDNN custom operations")


def run(command, cwd, timeout, env=None):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    return result


def checked(command, cwd, timeout, env=None):
    result = run(command, cwd, timeout, env)
    assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_SOURCE)
    checked([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
             "--no-build-isolation", "--no-index", "--quiet", "-w", str(tmp / "dist")],
            cwd=tmp, timeout=300)
    (path,) = (tmp / "dist").glob("electra_tf-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """`(environment dir, its python)`: a fresh venv with the wheel installed."""
    tmp = tmp_path_factory.mktemp("installed")
    venv = tmp / "venv"
    checked([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp, timeout=120)
    python = venv / "bin" / "python"
    site = checked([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   cwd=tmp, timeout=60).stdout.strip()
    # This environment's packages after the fresh ones; .pth files in them (the
    # editable install's finder among them) are not executed from a path line.
    ours = dict.fromkeys(sysconfig.get_path(name) for name in ("purelib", "platlib"))
    pathlib.Path(site, "borrowed_dependencies.pth").write_text("".join(f"{p}\n" for p in ours))
    # pip comes from the borrowed site-packages; --ignore-installed never touches
    # the electra_tf (editable) it sees there.
    checked([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
             "--quiet", str(wheel)], cwd=tmp, timeout=300)
    return venv, python


def test_wheel_holds_every_preset_and_the_commands(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names
                            if n.endswith(".dist-info/entry_points.txt"))
    presets = {f"electra_tf/{p.relative_to(PRESET_DIR.parent).as_posix()}"
               for p in PRESET_DIR.rglob("*.json")}
    assert len(presets) >= 10 and presets <= names
    assert "electra_tf_launcher.py" in names and "electra_tf/cli/pretrain.py" in names
    for command in COMMANDS:
        assert f"electra-{command} = electra_tf_launcher:{command}" in entry_points


def test_installed_wheel_reads_presets_and_runs_a_command_outside_the_checkout(installed, tmp_path):
    venv, python = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    probe = textwrap.dedent("""
        import json
        import electra_tf, electra_tf_launcher
        from electra_tf import ElectraConfig
        from electra_tf.config import FinetuneConfig, preset_names
        print(json.dumps({
            "files": [electra_tf.__file__, electra_tf_launcher.__file__,
                      str(ElectraConfig.PRESETS)],
            "small": ElectraConfig.from_preset("small").hidden_size,
            "paper_small": FinetuneConfig.from_preset("paper_small").layer_decay,
            "presets": preset_names(),
            "recipes": preset_names(FinetuneConfig.PRESETS),
        }))
    """)
    result = checked([str(python), "-c", probe], cwd=elsewhere, timeout=300, env=env)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    for file in found["files"]:
        assert pathlib.Path(file).resolve().is_relative_to(venv.resolve()), file
    assert found["small"] == 256 and found["paper_small"] == 0.8
    assert found["presets"] == preset_names()
    assert found["recipes"] == preset_names(FinetuneConfig.PRESETS)

    # absl's --help exits with 1; what matters is what it printed.
    command = shutil.which("electra-pretrain", path=env["PATH"])
    assert command and pathlib.Path(command).parent == venv / "bin"
    result = run([command, "--help"], cwd=elsewhere, timeout=300, env=env)
    assert "Pre-trains ELECTRA (generator + discriminator)" in result.stdout, result.stderr[-4000:]
    assert "electra-pretrain --config zh_small --default_corpus" in result.stdout  # the examples
    for name in preset_names():
        assert name in result.stdout
    assert "Traceback" not in result.stderr
    for noise in START_UP_NOISE:
        assert noise not in result.stderr


def test_launcher_drops_only_the_noise():
    import electra_tf_launcher

    # What TensorFlow 2.21 printed on CPU-only machines (with and without AVX-512), and
    # real messages.
    noise = (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
             b"I0000 00:00:1796591476.983075    4942 port.cc:153] oneDNN custom operations are on. "
             b"You may see slightly different numerical results due to floating-point round-off "
             b"errors from different computation orders. To turn them off, set the environment "
             b"variable `TF_ENABLE_ONEDNN_OPTS=0`.\n"
             b"I0000 00:00:1796289581.197845   11140 cudart_stub.cc:31] Could not find cuda drivers "
             b"on your machine, GPU will not be used.\n")
    cuinit = (b"E0000 00:00:1796289587.012183   11140 cuda_platform.cc:52] failed call to cuInit: "
              b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n")
    onednn = (b"E0000 00:00:1796591482.857527    4942 util.cc:131] oneDNN supports DT_INT64 only on "
              b"platforms with AVX-512. Falling back to the default Eigen-based implementation if "
              b"present.\n")
    real = (b"W0000 00:00:1796289587.1   11140 op_kernel.cc:1857] a real warning\n"
            b"/x/keras/src/saving/saving_lib.py:869: UserWarning: Skipping variable loading\n"
            b"  saveable.load_own_variables(store)\n")
    without_noise = electra_tf_launcher.without_noise
    assert without_noise(noise + real + noise + cuinit + onednn) == real
    # A cuInit failure where CUDA's libraries were found is a real error.
    assert without_noise(cuinit + real) == cuinit + real
    # The level is kept where TensorFlow ignores it: warnings go from 2 on.
    assert without_noise(noise + real, min_log_level=2) == real[real.index(b"/x/"):]


def test_launcher_reads_verbose_as_absl_does():
    from electra_tf_launcher import verbose_requested

    assert verbose_requested(["--model_dir", "x", "--verbose"])
    assert verbose_requested(["-verbose=true"]) and verbose_requested(["--verbose=1"])
    assert not verbose_requested(["--verbose", "--noverbose"])
    assert not verbose_requested(["--verbose=false"]) and not verbose_requested(["--verbosity=1"])
    assert not verbose_requested(["--", "--verbose"])  # an argument, not a flag
