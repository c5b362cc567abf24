"""Task-specific residual adapters on the shared image features (``model.sharing.image_adapters``).

The BEV sharing kinds (:mod:`perception.model.sharing`) separate the tasks after the fuser; the
street-camera features are still read unchanged by two consumers whose losses compete in the
shared image encoder: the view transform (the BEV tasks' camera half) and the depth head. An
adapter gives each consumer its own view of the same features,

    x_task = x + W_task x        (W_task a 1 x 1 convolution, initialised to zero)

as the residual adapters of Rebuffi et al. 2017 ("Learning multiple visual domains with residual
adapters", NeurIPS), one per consumer rather than per domain. At initialisation both views equal
the shared features, so a model with adapters starts as the hard-shared one.
"""
from __future__ import annotations

import torch
from torch import nn

#: The consumers of the street-camera features: the view transform (detection and segmentation
#: read its camera BEV, the depth loss supervises its depth bins) and the depth head's refinement.
CONSUMERS: tuple[str, ...] = ("view_transform", "depth")


class ImageAdapters(nn.Module):
    """One zero-initialised residual 1 x 1 adapter per consumer of the image features.

    ``forward(features)`` with features (..., C, h, w) -> consumer name -> (..., C, h, w).

    Args:
        channels: C, the image encoder's output channels.
        consumers: which consumers get an adapter (a subset of :data:`CONSUMERS`).
    """

    def __init__(self, channels: int, consumers: tuple[str, ...] = CONSUMERS) -> None:
        super().__init__()
        unknown = sorted(set(consumers) - set(CONSUMERS))
        if unknown:
            raise ValueError(f"unknown image-feature consumers {unknown}; expected some of {CONSUMERS}")
        # no bias: the zero features of a missing camera stay zero
        self.adapters = nn.ModuleDict({name: nn.Conv2d(channels, channels, 1, bias=False) for name in consumers})
        for conv in self.adapters.values():
            nn.init.zeros_(conv.weight)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        flat = features.flatten(0, features.dim() - 4)  # (M, C, h, w)
        return {name: (flat + conv(flat)).view_as(features) for name, conv in self.adapters.items()}
