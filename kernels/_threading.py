"""Numba threading layer choice for the CPU kernels.

Numba's OpenMP layer keeps its worker threads spin-waiting after a parallel region; next to
torch's own thread pool (a training step alternates between the two) that measured 6-7 times
slower per step on a 2-core machine than the ``workqueue`` layer. The choice is made once,
before the first parallel kernel runs, and only when the user has not chosen a layer with the
``NUMBA_THREADING_LAYER`` environment variable.
"""
from __future__ import annotations

import os

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"
