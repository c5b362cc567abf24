"""Start-up shared by the transports: check the parameters, load the model, build the node.

A parameter that makes the node useless (a checkpoint or config file that does not exist, an
unknown topic profile, a value out of range) raises: the transport ends with one line and a
non-zero exit. A checkpoint that exists but cannot be used with the config (they do not match,
or it does not load) does not: the node runs without inference and says why in one log line and
in ``/diagnostics`` (ERROR), so that the rest of the stack sees what is wrong.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import torch

from perception.node.logic import PerceptionNode, Transport
from perception.node.params import NodeParams


def create_node(params: NodeParams, transport: Transport, clock: Callable[[], float] = time.monotonic) -> PerceptionNode:
    """The node for ``params`` publishing through ``transport`` (not started).

    Raises:
        sensors.errors.SensorDataError: a bad parameter (see :meth:`NodeParams.check`).
        ValueError: an unknown device.
    """
    from perception.model import load_model

    profile = params.check()
    try:
        device = torch.device(params.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError as error:
        raise ValueError(f"parameter device: {error}") from None
    try:
        model, config = load_model(params.checkpoint, params.config or None, device)
    except ValueError as error:
        return PerceptionNode(params, profile, transport, None, None, device, model_error=str(error), clock=clock)
    return PerceptionNode(params, profile, transport, model, config, device, clock=clock)
