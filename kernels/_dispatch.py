"""Backend selection and zero-copy array exchange between torch and the JIT backends.

Backends:
- ``"reference"``: pure torch (tests and benchmarks only, any device),
- ``"numba"``: Numba CPU kernels (CPU tensors),
- ``"numba_cuda"``: Numba CUDA kernels (CUDA tensors; CPU tensors only under the CUDA
  simulator, ``NUMBA_ENABLE_CUDASIM=1``, which is how the test suite runs them),
- ``"cupy"``: CuPy ``RawKernel`` (CUDA tensors).

CUDA modules are imported lazily, inside the functions that need them, so that the CPU path
works where no CUDA is installed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

BACKENDS = ("reference", "numba", "numba_cuda", "cupy")


def cuda_simulator_enabled() -> bool:
    """True when Numba's CUDA simulator is switched on (``NUMBA_ENABLE_CUDASIM=1``)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def choose_backend(
    op: str, device: torch.device, backend: str | None, supported: Sequence[str]
) -> str:
    """Return the backend that runs ``op`` for tensors on ``device``.

    ``backend=None`` picks by device: ``"numba"`` on CPU and the first CUDA backend of
    ``supported`` on CUDA. An explicit ``backend`` must be in ``supported`` and fit the
    device; otherwise a ``ValueError`` names the op, the backend and the reason.
    """
    if backend is None:
        if device.type == "cuda":
            for name in ("numba_cuda", "cupy", "reference"):
                if name in supported:
                    return name
        if device.type == "cpu":
            return "numba" if "numba" in supported else "reference"
        return "reference"
    if backend not in BACKENDS:
        raise ValueError(f"{op}: unknown backend {backend!r}; expected one of {BACKENDS}")
    if backend not in supported:
        raise ValueError(f"{op}: backend {backend!r} is not available; this op has {tuple(supported)}")
    if backend == "numba" and device.type != "cpu":
        raise ValueError(f"{op}: backend 'numba' needs CPU tensors, got device {device}")
    if backend == "cupy" and device.type != "cuda":
        raise ValueError(f"{op}: backend 'cupy' needs CUDA tensors, got device {device}")
    if backend == "numba_cuda" and device.type != "cuda" and not cuda_simulator_enabled():
        raise ValueError(
            f"{op}: backend 'numba_cuda' needs CUDA tensors (or NUMBA_ENABLE_CUDASIM=1 with CPU "
            f"tensors), got device {device}"
        )
    return backend


def as_numpy(t: torch.Tensor) -> np.ndarray:
    """Zero-copy numpy view of a contiguous CPU tensor (writes go through to ``t``)."""
    return t.detach().numpy()


def as_numba_cuda(t: torch.Tensor) -> Any:
    """Zero-copy Numba device array for ``t`` (``__cuda_array_interface__``).

    Under the CUDA simulator the tensor lives on the CPU and its numpy view is returned: the
    simulated kernels read and write it in place.
    """
    if t.device.type == "cpu":
        return as_numpy(t)
    from numba import cuda

    return cuda.as_cuda_array(t.detach())


def numba_cuda_stream(device: torch.device) -> Any:
    """Numba stream wrapping torch's current CUDA stream (``0``, the default, under the simulator)."""
    if device.type == "cpu":
        return 0
    from numba import cuda

    return cuda.external_stream(torch.cuda.current_stream(device).cuda_stream)


def launch_config(n: int, threads: int = 256) -> tuple[int, int]:
    """(blocks, threads) covering ``n`` work items, at least one block."""
    return max(1, (n + threads - 1) // threads), threads


# Scalar operations per thread below which a Numba CPU parallel region runs on the calling
# thread only: waking threads costs ~0.1 ms on an idle machine and several ms (a scheduler
# tick) on a busy one, while 4M operations take a few ms on one core.
PARALLEL_GRAIN = 1 << 22


@contextlib.contextmanager
def numba_threads(work: int) -> Iterator[None]:
    """Run the enclosed Numba parallel kernels on at most ``work // PARALLEL_GRAIN`` threads.

    The thread count never changes results: every kernel writes each output element from
    one iteration with a fixed summation order.
    """
    import numba

    total = numba.get_num_threads()
    numba.set_num_threads(max(1, min(total, work // PARALLEL_GRAIN)))
    try:
        yield
    finally:
        numba.set_num_threads(total)
