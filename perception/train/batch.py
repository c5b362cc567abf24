"""Moving a collated batch (tensors nested in dicts, lists, tuples or dataclasses) to a device."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch


def move_to(batch: Any, device: torch.device) -> Any:
    """A copy of ``batch`` with every tensor on ``device`` (non-blocking); other leaves unchanged.

    Objects with their own ``to(device)`` method (a data ``Batch``) use it.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if callable(getattr(batch, "to", None)) and not isinstance(batch, torch.nn.Module):
        return batch.to(device)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        changes = {f.name: move_to(getattr(batch, f.name), device) for f in dataclasses.fields(batch) if f.init}
        return dataclasses.replace(batch, **changes)
    if isinstance(batch, Mapping):
        return type(batch)({k: move_to(v, device) for k, v in batch.items()})  # type: ignore[call-arg]
    if isinstance(batch, (list, tuple)):
        moved = [move_to(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch
