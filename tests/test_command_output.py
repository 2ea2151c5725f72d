"""What the command-line programs print: their own results without TensorFlow's log noise
or avoidable warnings (unless asked for with --verbose), and a complete `--help`."""

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

from electra_tf import ElectraConfig, tokenization
from electra_tf.models.classification.classifier import ElectraClassifier

ROOT = pathlib.Path(__file__).resolve().parents[1]
# A line of TensorFlow's C++ log (absl's prefix: severity, date, time, thread, file:line).
CPP_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]", re.MULTILINE)
PYTHON_WARNING = re.compile(r"Warning:|^WARNING", re.MULTILINE)

COMMANDS = ("pretrain", "finetune", "export", "generate", "translate", "convert", "study")
TRAINING_COMMANDS = ("pretrain", "finetune", "generate", "translate")

# Runs `electra-<command> --help` as the console script does and, when absl
# exits, lists on stderr every flag electra_tf's modules defined for it.
HELP_PROBE = textwrap.dedent("""
    import atexit, json, sys
    from absl import flags
    import electra_tf_launcher

    def defined_flags():
        names = {flag.name for module, module_flags in flags.FLAGS.flags_by_module_dict().items()
                 if module.startswith("electra_tf") for flag in module_flags}
        print("DEFINED " + json.dumps(sorted(names)), file=sys.stderr)

    atexit.register(defined_flags)
    command = sys.argv[1]
    sys.argv = [f"electra-{command}", "--help"]
    electra_tf_launcher.launch(command)
""")


def command_env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}


def user_env():
    """The environment a user runs commands in: TF_CPP_MIN_LOG_LEVEL unset (conftest sets it)."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, "KERAS_BACKEND": "tensorflow"}


def run_as_user(*args):
    result = subprocess.run([sys.executable, *map(str, args)], env=user_env(), cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    return result, result.stdout + result.stderr


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory):
    """A fine-tuned classifier's model directory: its weights hold the optimizer's state."""
    vocabulary = list(tokenization.SPECIAL_TOKENS) + list("好差很书质量")
    classifier = ElectraClassifier.from_scratch(ElectraConfig.from_preset("tiny"), vocabulary,
                                                sequence_length=8, label_names=["neg", "pos"])
    classifier.fit(["书很好", "质量差"], [1, 0], batch_size=2, shuffle=False, verbose=0)
    model_dir = tmp_path_factory.mktemp("sentiment")
    classifier.save_to_preset(str(model_dir))
    return model_dir


def test_export_and_a_query_of_the_export_print_only_their_results(fine_tuned, tmp_path):
    """What `make run` does last; TensorFlow logs oneDNN and CUDA notes and Keras warned
    about the saved optimizer state here."""
    result, output = run_as_user(ROOT / "scripts" / "export.py", "--model_dir", fine_tuned,
                                 "--export_dir", tmp_path, "--model_name", "sentiment")
    assert result.returncode == 0, output[-3000:]
    start_up, exported = output.splitlines()[:2]
    assert start_up.startswith("compute dtype float32 (dtype_policy float32: float32 variables)")
    assert exported.startswith("exported classifier to ")
    assert not CPP_LOG_LINE.search(output) and not PYTHON_WARNING.search(output), output[-3000:]
    result, output = run_as_user("-m", "electra_tf_launcher", "electra_tf/export/standalone.py",
                                 "predict", tmp_path / "sentiment", "书很好")
    assert result.returncode == 0, output[-3000:]
    assert json.loads(output)["label"] in ("neg", "pos")  # its one line of output
    assert not CPP_LOG_LINE.search(output) and not PYTHON_WARNING.search(output), output[-3000:]


def test_verbose_shows_what_tensorflow_logs(tmp_path):
    result, output = run_as_user(ROOT / "scripts" / "export.py", "--model_dir", tmp_path / "missing",
                                 "--export_dir", tmp_path, "--verbose")
    assert result.returncode != 0  # the missing model directory
    assert CPP_LOG_LINE.search(output), output[-3000:]  # at least TensorFlow's start-up notes


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_every_flag_the_command_defines(command):
    result = subprocess.run([sys.executable, "-c", HELP_PROBE, command], env=command_env(),
                            capture_output=True, text=True, timeout=300)
    (defined,) = re.findall(r"^DEFINED (.*)$", result.stderr, re.MULTILINE)
    defined = json.loads(defined)
    assert len(defined) > 3, result.stderr[-3000:]
    listed = set(re.findall(r"^\s+--(?:\[no\])?(\w+):", result.stdout, re.MULTILINE))
    assert set(defined) <= listed, set(defined) - listed
    if command in TRAINING_COMMANDS:
        assert {"strategy", "tpu"} <= listed
