"""Task-specific residual adapters on the shared image features (``model.sharing.image_adapters``).

The BEV sharing kinds (:mod:`perception.model.sharing`) separate the tasks after the fuser; the
street-camera features are still read unchanged by two consumers whose losses compete in the
shared image encoder: the view transform (the BEV tasks' camera half) and the depth head. An
adapter gives each consumer its own non-linear transform of the same features,

    x_task = x + W_up relu(W_down * x)     (W_down a 3 x 3 convolution, W_up a 1 x 1 one, no biases)

the bottleneck adapter of Houlsby et al. 2019 ("Parameter-efficient transfer learning for NLP",
ICML) in the residual form of Rebuffi et al. 2017 ("Learning multiple visual domains with residual
adapters", NeurIPS), one per consumer. The non-linearity is what makes it an adapter: a linear
``x + W x`` in front of a consumer whose first layer is linear folds into that layer's weights and
adds no capacity. ``W_up`` starts at zero, so a model with fresh adapters computes exactly what the
hard-shared one does; without biases a missing camera's zero features stay zero.
"""
from __future__ import annotations

import torch
from torch import nn

#: The consumers of the street-camera features: the view transform (detection and segmentation
#: read its camera BEV, the depth loss supervises its depth bins) and the depth head's refinement.
CONSUMERS: tuple[str, ...] = ("view_transform", "depth")


class BottleneckAdapter(nn.Module):
    """``x + W_up relu(W_down * x)``: (M, C, h, w) -> (M, C, h, w); ``W_up`` initialised to zero.

    Args:
        channels: C.
        hidden: channels between the two convolutions.
    """

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(channels, hidden, 3, padding=1, bias=False)
        self.up = nn.Conv2d(hidden, channels, 1, bias=False)
        nn.init.zeros_(self.up.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(torch.relu(self.down(x)))


class ImageAdapters(nn.Module):
    """One :class:`BottleneckAdapter` per consumer of the image features.

    ``forward(features)`` with features (..., C, h, w) -> consumer name -> (..., C, h, w).

    Args:
        channels: C, the image encoder's output channels.
        consumers: which consumers get an adapter (a subset of :data:`CONSUMERS`).
        hidden: the adapters' hidden channels (default: C).

    Raises:
        ValueError: an unknown consumer.
    """

    def __init__(self, channels: int, consumers: tuple[str, ...] = CONSUMERS, hidden: int | None = None) -> None:
        super().__init__()
        unknown = sorted(set(consumers) - set(CONSUMERS))
        if unknown:
            raise ValueError(f"unknown image-feature consumers {unknown}; expected some of {CONSUMERS}")
        self.adapters = nn.ModuleDict({name: BottleneckAdapter(channels, hidden or channels) for name in consumers})

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        flat = features.flatten(0, features.dim() - 4)  # (M, C, h, w)
        return {name: adapter(flat).view_as(features) for name, adapter in self.adapters.items()}
