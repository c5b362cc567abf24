"""The seam between pre/postprocessing and the network, so that the same inference code drives
:class:`perception.model.FusionModel` (PyTorch) and :class:`perception.export.OnnxRunner` (ONNX
Runtime)."""
from __future__ import annotations

from typing import Protocol

import torch

from perception.config import ModelConfig
from perception.model.prediction import Prediction


class Network(Protocol):
    """The seam between pre/postprocessing and the network: what ``FusionModel`` and ``OnnxRunner`` share.

    ``__call__(batch)`` -> the ``FusionModel.forward`` dict; ``driver(cabin (B, 3, Hc, Wc))`` -> that dict
    for cabin images alone (driver head only); ``decode(outputs)`` -> one ``Prediction`` per sample;
    ``config`` the model configuration; ``tasks`` the heads built; ``runtime`` what runs the network
    ("torch", "onnxruntime"); ``eval()`` -> self.
    """

    config: ModelConfig
    runtime: str

    @property
    def tasks(self) -> tuple[str, ...]: ...

    def __call__(self, batch) -> dict[str, object]: ...

    def driver(self, cabin: torch.Tensor) -> dict[str, object]: ...

    def decode(self, outputs: dict[str, object]) -> list[Prediction]: ...

    def eval(self) -> Network: ...
