"""The dtype policy a run computes in: "auto" picks mixed_bfloat16 exactly on CPUs with
bfloat16 matrix instructions, configs resolve it when made (so a saved config names what
ran), the commands accept it, and the start-up line names the path taken."""

import pytest
from absl import flags
from test_run_folders import _forget_command_flags, define_command_flags

from electra_tf import ElectraConfig, precision
from electra_tf.config import ConfigError, FinetuneConfig
from electra_tf.precision import AUTO

AMX = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n"
AVX512_BF16 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"
AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu avx2 fma\n"


@pytest.fixture
def cpu(tmp_path, monkeypatch):
    """Makes the process see a CPU with the flags line given."""
    def use(text):
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        monkeypatch.setattr(precision, "CPUINFO", str(path))
    return use


@pytest.mark.parametrize("cpuinfo, expected", [
    (AMX, "mixed_bfloat16"), (AVX512_BF16, "mixed_bfloat16"), (AVX2_ONLY, "float32"),
])
def test_auto_picks_bfloat16_exactly_where_the_cpu_has_bfloat16_instructions(
        cpu, cpuinfo, expected):
    cpu(cpuinfo)
    assert precision.resolve_dtype_policy(AUTO) == expected
    # Named policies, and None (the model's own), pass through whatever the CPU.
    for name in (*precision.DTYPE_POLICIES, None):
        assert precision.resolve_dtype_policy(name) == name


def test_no_cpuinfo_means_float32(cpu, tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "CPUINFO", str(tmp_path / "missing"))
    assert precision.resolve_dtype_policy(AUTO) == "float32"


@pytest.mark.parametrize("config_class, preset", [(ElectraConfig, "tiny"),
                                                   (FinetuneConfig, "zh_1k_fair")])
@pytest.mark.parametrize("cpuinfo, expected", [(AVX512_BF16, "mixed_bfloat16"),
                                               (AVX2_ONLY, "float32")])
def test_a_config_resolves_auto_when_made_and_saves_the_policy_it_ran_under(
        cpu, tmp_path, config_class, preset, cpuinfo, expected):
    cpu(cpuinfo)
    config = config_class.from_preset(preset).replace(dtype_policy=AUTO)
    assert config.dtype_policy == expected
    config.save(tmp_path / "config.json")
    # Read back on a machine of the other kind, the saved config keeps its policy.
    cpu(AVX2_ONLY if expected == "mixed_bfloat16" else AMX)
    assert config_class.from_preset(str(tmp_path / "config.json")).dtype_policy == expected


def test_an_unknown_policy_names_the_choices_auto_among_them():
    with pytest.raises(ConfigError, match="dtype_policy must be one of .*'auto'.*got 'bf16'"):
        ElectraConfig.from_preset("tiny").replace(dtype_policy="bf16")


@pytest.mark.parametrize("command", ["pretrain", "finetune", "translate", "export"])
def test_every_command_with_a_dtype_policy_flag_accepts_auto(command):
    define_command_flags(command)
    try:
        flag = flags.FLAGS["dtype_policy"]
        flag.parse(AUTO)
        assert flag.value == AUTO
        with pytest.raises(flags.IllegalFlagValueError):
            flag.parse("bf16")
    finally:
        _forget_command_flags()


def test_the_start_up_line_names_the_compute_dtype_and_the_cpus_bfloat16_instructions(
        cpu, tmp_path):
    assert precision.cpu_flags(precision.BFLOAT16_FLAGS, tmp_path / "missing") == []
    cpu(AMX)
    assert precision.cpu_flags(precision.BFLOAT16_FLAGS) == ["amx_bf16"]
    assert precision.compute_dtype_line("mixed_bfloat16") == (
        "compute dtype bfloat16 (dtype_policy mixed_bfloat16: float32 variables); CPU "
        "bfloat16 instructions: amx_bf16")
    cpu(AVX2_ONLY)
    assert precision.compute_dtype_line("float32") == (
        "compute dtype float32 (dtype_policy float32: float32 variables); CPU bfloat16 "
        "instructions: none")
