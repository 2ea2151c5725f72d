"""What the machine a benchmark ran on can do: the figures differ by CPU, so every
benchmark prints this line with its results.

    >>> describe()  # doctest: +SKIP
    'x86_64, 2 cores, CPU flags avx2 fma (lacks avx512f avx512_bf16 amx_bf16), TensorFlow 2.21.0'
"""

import os
import platform

import tensorflow as tf

from electra_tf.precision import BFLOAT16_FLAGS
from electra_tf.precision import cpu_flags as listed_flags

# The vector extensions that decide float32 / bfloat16 / float16 speed on CPUs.
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


def cpu_flags():
    """The `RELEVANT_FLAGS` /proc/cpuinfo lists (empty where there is no /proc)."""
    return listed_flags(RELEVANT_FLAGS)


def bfloat16_instructions():
    """The CPU's bfloat16 matrix instructions (AVX512_BF16, AMX), as /proc/cpuinfo names them;
    empty when it has none (or there is no /proc)."""
    return listed_flags(BFLOAT16_FLAGS)


def describe():
    flags = cpu_flags()
    missing = [flag for flag in ("avx512f", "avx512_bf16", "amx_bf16") if flag not in flags]
    return (f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, CPU flags "
            f"{' '.join(flags) or 'unknown'}"
            + (f" (lacks {' '.join(missing)})" if missing and flags else "")
            + f", TensorFlow {tf.__version__}")
