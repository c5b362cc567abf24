"""What every task head has in common: the trunk :class:`Features` it reads and the
:class:`TaskHead` interface (forward, loss, decode) through which :class:`FusionModel` drives it."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from perception.config import ModelConfig
from perception.data.batch import Batch
from perception.model.prediction import Prediction
from perception.model.sharing import TaskBev
from perception.mtl.task import TaskLoss

#: The trunk features a head can read (:attr:`TaskHead.reads`).
BEV, STREET_CAMERAS, CABIN = "bev", "street_cameras", "cabin"


@dataclass
class Features:
    """The shared trunk's output for one batch of B samples (None: not computed).

    Attributes:
        camera_present, lidar_present: (B,) bool, the inputs the BEV features saw (after
            training-time modality dropout).
        images: (B, N, 3, H, W) normalised street images (None in an exported graph without cameras).
        image_features: (B, N, C, h, w) FPN features of the valid street cameras (zeros for
            the others) as the depth head reads them (through its adapter, where
            ``model.sharing.image_adapters``); None when no street camera is valid or the camera
            branch is off.
        depth_logits: (B, N, D, h, w) depth-bin logits of the view transform, with image_features.
        bev: (B, C, X, Y) fused BEV features after the BEV backbone (model BEV grid), when every
            BEV head reads the same backbone (``model.sharing.kind: hard``).
        task_bev: BEV task name -> (B, C, X, Y) features of that task's backbone branch (the other
            sharing kinds, :mod:`perception.model.sharing`); read through :meth:`bev_for`.
        sharing_loss: scalar regulariser of the sharing module (soft-sharing penalty, routing
            balance), or None.
        lidar_canvas: (B, C, Xc, Yc) fine LiDAR pillar canvas (LiDAR grid).
        cabin: (B, C) pooled cabin-image features (zeros where no cabin image).
    """

    camera_present: torch.Tensor
    lidar_present: torch.Tensor
    images: torch.Tensor | None
    image_features: torch.Tensor | None = None
    depth_logits: torch.Tensor | None = None
    bev: torch.Tensor | None = None
    task_bev: dict[str, torch.Tensor] | None = None
    sharing_loss: torch.Tensor | None = None
    lidar_canvas: torch.Tensor | None = None
    cabin: torch.Tensor | None = None

    def set_bev(self, bev: torch.Tensor | TaskBev) -> None:
        """Store the BEV backbone's output: one map for every head (``hard``), or per-task maps
        and the sharing regulariser (:class:`perception.model.sharing.TaskBev`)."""
        if isinstance(bev, TaskBev):
            self.task_bev, self.sharing_loss = bev.features, bev.regularizer
        else:
            self.bev = bev

    def bev_for(self, task: str) -> torch.Tensor:
        """The (B, C, X, Y) BEV features the head of ``task`` reads (its branch, or the shared map).

        Raises:
            ValueError: no BEV features were computed.
        """
        if self.task_bev is not None and task in self.task_bev:
            return self.task_bev[task]
        if self.bev is None:
            raise ValueError(f"no BEV features computed for the {task} head")
        return self.bev


class TaskHead(nn.Module):
    """One task, in one place: its layers (:meth:`forward`), its training loss with the samples it
    applies to (:meth:`loss`) and the decoding of its raw outputs (:meth:`decode`).

    :class:`perception.model.FusionModel` adds :meth:`outputs` (by default ``{name: head(features)}``)
    of each head it runs to its forward dict and loops over the heads for losses and decoding.
    """

    #: Task name: key of the head in ``FusionModel.heads`` and of its raw output.
    name: ClassVar[str]
    #: The trunk features the head reads (:data:`BEV`, :data:`STREET_CAMERAS` or :data:`CABIN`).
    reads: ClassVar[str]

    def forward(self, features: Features) -> Any:  # pragma: no cover - every head defines it
        raise NotImplementedError

    def outputs(self, features: Features) -> dict[str, Any]:
        """This head's entries of the forward dict: ``{name: head(features)}``, plus what its loss
        alone reads where a head has more (the depth head's own depth distribution). Always
        through ``__call__``, so that module hooks (the evaluation's latency timing) see every head."""
        return {self.name: self(features)}

    def loss(self, outputs: Mapping[str, Any], batch: Batch) -> TaskLoss:  # pragma: no cover
        """Per-sample loss (B,) and presence mask (B,) of this task for ``FusionModel`` outputs."""
        raise NotImplementedError

    @classmethod
    def decode(cls, outputs: Mapping[str, Any], predictions: list[Prediction],
               config: ModelConfig) -> None:  # pragma: no cover
        """Fill this task's fields of one :class:`Prediction` per sample from ``FusionModel`` outputs.

        A class method of the configuration alone (no weights), so that any runtime's outputs
        (PyTorch, ONNX Runtime) decode the same way."""
        raise NotImplementedError
