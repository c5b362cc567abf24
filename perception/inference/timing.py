"""Per-stage wall-clock timing of inference: explicit stages plus forward hooks on the model's parts.

Stages timed around the call: ``preprocessing`` (frames -> tensors on the device), ``model``
(the whole forward), ``postprocessing`` (decoding), ``total``. Stages timed by forward hooks
on :class:`perception.model.FusionModel` submodules: ``image_encoder`` (street cameras),
``view_transform``, ``lidar_encoder``, ``fuser``, ``bev_backbone`` and ``head_<task>``. On a
GPU every boundary synchronises the device, so that a stage's time is its own work.
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

#: Model parts timed by hooks, by attribute name of :class:`FusionModel`.
HOOKED_PARTS: tuple[str, ...] = (
    "image_encoder", "image_adapters", "view_transform", "lidar_encoder", "fuser", "bev_backbone",
)


class StageTimer:
    """Collects seconds per stage for the current batch; :meth:`take` returns and clears them.

    Args:
        device: the inference device (CUDA work is synchronised at stage boundaries).
    """

    def __init__(self, device: torch.device) -> None:
        self.sync = device.type == "cuda"
        self._current: dict[str, float] = defaultdict(float)
        self._starts: dict[str, float] = {}
        self._handles: list[RemovableHandle] = []

    def _now(self) -> float:
        if self.sync:
            torch.cuda.synchronize()
        return time.perf_counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body of the ``with`` block as ``name`` (summed if entered again)."""
        start = self._now()
        try:
            yield
        finally:
            self._current[name] += self._now() - start

    def attach(self, model: nn.Module) -> None:
        """Hook the parts of ``model`` listed in :data:`HOOKED_PARTS` and each of its ``heads``."""
        parts = [(name, getattr(model, name, None)) for name in HOOKED_PARTS]
        heads = getattr(model, "heads", {})
        parts += [(f"head_{name}", module) for name, module in heads.items()]
        for name, module in parts:
            if module is None:
                continue
            self._handles.append(module.register_forward_pre_hook(self._pre(name)))
            self._handles.append(module.register_forward_hook(self._post(name)))

    def _pre(self, name: str):
        def hook(module: nn.Module, inputs: object) -> None:
            self._starts[name] = self._now()
        return hook

    def _post(self, name: str):
        def hook(module: nn.Module, inputs: object, output: object) -> None:
            self._current[name] += self._now() - self._starts.pop(name)
        return hook

    def detach(self) -> None:
        """Remove every hook."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def take(self) -> dict[str, float]:
        """Seconds per stage since the last call, then reset."""
        out = dict(self._current)
        self._current.clear()
        return out
