"""Numba CUDA kernels equal the reference, run under NUMBA_ENABLE_CUDASIM=1 in a subprocess.

The simulator must be switched on before numba is first imported, so the cases run in a child
interpreter (sim_cases.py) and each test here checks one case's result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("sim_cases.py")
CASES = ["case_hard_voxelize", "case_dynamic_voxelize", "case_pillar_scatter", "case_points_to_depth"]


@pytest.fixture(scope="module")
def sim_results() -> dict[str, str]:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_all_cases_ran(sim_results):
    assert sorted(sim_results) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_case_equals_reference(sim_results, case):
    assert sim_results[case] == "ok", sim_results[case]
