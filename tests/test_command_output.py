"""What the command-line programs print: a complete `--help`."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

COMMANDS = ("pretrain", "finetune", "export", "generate", "translate", "convert")
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
