"""Cyclone DDS on loopback only, for the tests that run processes over DDS."""
from __future__ import annotations

import os

#: Cyclone configuration: interface lo, no multicast, the one peer 127.0.0.1 (several participants
#: on one host find each other by unicast on their participant-index ports).
LOOPBACK_XML = (
    "<CycloneDDS><Domain id='any'><General><Interfaces><NetworkInterface name='lo'/></Interfaces>"
    "<AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex>"
    "<MaxAutoParticipantIndex>20</MaxAutoParticipantIndex><Peers><Peer address='127.0.0.1'/></Peers>"
    "</Discovery></Domain></CycloneDDS>"
)


def loopback_env(domain_id: int) -> dict[str, str]:
    """Environment of a process on the loopback DDS (``domain_id`` also in ROS_DOMAIN_ID)."""
    return {**os.environ, "CYCLONEDDS_URI": LOOPBACK_XML, "ROS_DOMAIN_ID": str(domain_id), "OMP_NUM_THREADS": "1"}
