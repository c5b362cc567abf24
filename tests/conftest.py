"""Suite-wide settings.

The suite runs as two pytest-xdist workers on a 2-core machine; torch's default of one
OpenMP thread per core per worker oversubscribes it, which measured 3-10 times slower for the
model tests. One torch thread per worker keeps the workers from fighting.
"""
import torch

torch.set_num_threads(1)
