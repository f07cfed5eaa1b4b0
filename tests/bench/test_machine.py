"""Bench reports say what machine made them: CPU model, vector features, torch, threads, GPU."""

from __future__ import annotations

from pathlib import Path

import torch

from service.bench.machine import cpu_info, machine_info
from service.bench.report import machine_line

AVX2_ONLY = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c avx2 fma bmi2

processor\t: 1
model name\t: another one
flags\t\t: avx512f
"""

ARM = """processor\t: 0
Features\t: fp asimd evtstrm sve
"""


def test_the_cpu_model_and_its_vector_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(AVX2_ONLY)
    cpu = cpu_info(path)
    assert cpu["model"] == "AMD EPYC 7B12"  # the first processor's
    assert cpu["vector_flags"] == ["sse4_2", "avx", "avx2", "fma", "f16c"]
    assert cpu["torch_capability"] == torch.backends.cpu.get_cpu_capability()


def test_arm_features_count_and_a_missing_cpuinfo_is_no_error(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(ARM)
    assert cpu_info(path)["vector_flags"] == ["asimd", "sve"]
    missing = cpu_info(tmp_path / "nothing")
    assert missing["vector_flags"] == [] and isinstance(missing["model"], str)


def test_the_machine_records_torch_and_its_threads() -> None:
    machine = machine_info("cpu")
    assert machine["device"] == "cpu" and machine["gpu"] is None
    assert machine["torch"] == torch.__version__
    assert machine["torch_threads"] == torch.get_num_threads()
    assert machine["torch_interop_threads"] == torch.get_num_interop_threads()
    assert machine["cpu"]["model"] == machine["name"]


def test_the_table_heading_names_the_cpu_its_features_and_the_gpu() -> None:
    machine = {
        "cpu": {
            "model": "AMD EPYC 7B12",
            "cores": 2,
            "vector_flags": ["avx2", "avx512f"],
            "torch_capability": "AVX512",
        },
        "torch": "2.13.0",
        "torch_threads": 2,
        "torch_interop_threads": 1,
        "gpu": None,
    }
    line = machine_line(machine)
    assert line == (
        "machine: AMD EPYC 7B12, 2 cores, vector features avx2, avx512f (torch dispatch "
        "AVX512); torch 2.13.0, 2 threads, 1 interop"
    )
    gpu = machine_line({**machine, "gpu": "NVIDIA H200", "role": "load generator"})
    assert gpu.startswith("load generator: AMD EPYC") and gpu.endswith("; GPU NVIDIA H200")
