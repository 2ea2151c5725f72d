"""What a run computes in: the dtype policy `"auto"` picks for this CPU, and the start-up
line that says which path a run took.

Whether `mixed_bfloat16` pays depends on the CPU: with AVX512_BF16 or AMX the
matrix products run in bfloat16, without them the policy only adds casts
(`benchmarks/pretrain_step.py` measures both). A config's `dtype_policy: "auto"`
therefore means `mixed_bfloat16` on a CPU that lists one of `BFLOAT16_FLAGS` and
`float32` elsewhere; a config resolves it when it is made, so the config a run
saves names the policy it ran under. The start-up line puts the policy beside
the CPU's bfloat16 instructions so a log shows which path a run took.

Example:
```python
from electra_tf import precision

precision.resolve_dtype_policy("float32")  # -> 'float32'
precision.resolve_dtype_policy("auto") in ("float32", "mixed_bfloat16")  # -> True
precision.compute_dtype_line("mixed_bfloat16")  # the instructions are this CPU's
# -> compute dtype bfloat16 (dtype_policy mixed_bfloat16: float32 variables); CPU bfloat16
#    instructions: ...
```
"""

import pathlib

import keras

# The Keras dtype policies a config or a command takes, and the one that picks among them.
DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
AUTO = "auto"
# The CPU flags (as /proc/cpuinfo names them) that give bfloat16 matrix products.
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = "/proc/cpuinfo"


def cpu_flags(names, cpuinfo=None):
    """Those of `names` the CPU lists in `cpuinfo` (default `CPUINFO`), in the order given;
    empty where the file is missing (not Linux)."""
    try:
        text = pathlib.Path(cpuinfo or CPUINFO).read_text()
    except OSError:
        return []
    listed = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            listed.update(line.split(":", 1)[1].split())
    return [name for name in names if name in listed]


def resolve_dtype_policy(name, cpuinfo=None):
    """`name` itself (a policy, or None for "the model's own"), or for `"auto"` the policy
    that is fastest on this CPU by the benchmarks: `mixed_bfloat16` where it has bfloat16
    matrix instructions, else `float32`."""
    if name != AUTO:
        return name
    return "mixed_bfloat16" if cpu_flags(BFLOAT16_FLAGS, cpuinfo) else "float32"


def compute_dtype_line(policy):
    """One line naming the compute dtype of `policy` (a Keras dtype policy or its name),
    its variables' dtype and the CPU's bfloat16 instructions."""
    policy = keras.dtype_policies.get(policy)
    instructions = cpu_flags(BFLOAT16_FLAGS)
    cpu = " ".join(instructions) or "none"
    if not pathlib.Path(CPUINFO).is_file():
        cpu = "unknown"
    return (f"compute dtype {policy.compute_dtype} (dtype_policy {policy.name}: "
            f"{policy.variable_dtype} variables); CPU bfloat16 instructions: {cpu}")
