"""Cyclone DDS on loopback only, for the tests that run processes over DDS."""
from __future__ import annotations

import os

from perception.node.dds import LOOPBACK_CONFIG


def loopback_env(domain_id: int) -> dict[str, str]:
    """Environment of a process on the loopback DDS (interface lo, no multicast, peer 127.0.0.1)
    in domain ``domain_id`` (also ROS_DOMAIN_ID)."""
    return {**os.environ, "CYCLONEDDS_URI": LOOPBACK_CONFIG, "ROS_DOMAIN_ID": str(domain_id), "OMP_NUM_THREADS": "1"}
