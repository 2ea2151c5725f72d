"""What a run computes in: its dtype policy, said in one start-up line with the CPU's
bfloat16 instructions beside it.

Whether `mixed_bfloat16` pays depends on the CPU: with AVX512_BF16 or AMX the
matrix products run in bfloat16, without them the policy only adds casts. The
line puts the two side by side so a log shows which path a run took; the
choice itself is the config's (`dtype_policy`), made by measurement
(`benchmarks/pretrain_step.py`).

Example:
```python
from electra_tf.training import precision

precision.compute_dtype_line("mixed_bfloat16")  # the instructions are this CPU's
# -> compute dtype bfloat16 (dtype_policy mixed_bfloat16: float32 variables); CPU bfloat16
#    instructions: ...
```
"""

import pathlib

import keras

# The CPU flags (as /proc/cpuinfo names them) that give bfloat16 matrix products.
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(names, cpuinfo="/proc/cpuinfo"):
    """Those of `names` the CPU lists in `cpuinfo`, in the order given; empty where the
    file is missing (not Linux)."""
    try:
        text = pathlib.Path(cpuinfo).read_text()
    except OSError:
        return []
    listed = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            listed.update(line.split(":", 1)[1].split())
    return [name for name in names if name in listed]


def compute_dtype_line(policy):
    """One line naming the compute dtype of `policy` (a Keras dtype policy or its name),
    its variables' dtype and the CPU's bfloat16 instructions."""
    policy = keras.dtype_policies.get(policy)
    instructions = cpu_flags(BFLOAT16_FLAGS)
    cpu = " ".join(instructions) or "none"
    if not pathlib.Path("/proc/cpuinfo").is_file():
        cpu = "unknown"
    return (f"compute dtype {policy.compute_dtype} (dtype_policy {policy.name}: "
            f"{policy.variable_dtype} variables); CPU bfloat16 instructions: {cpu}")
