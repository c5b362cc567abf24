"""A small two-task model, dataset and run builder that follow the trainer's model protocol."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from perception.config import Config, TrainConfig
from perception.distributed import DistContext
from perception.mtl.factory import make_strategy
from perception.mtl.task import TaskLoss
from perception.train import Trainer, TrainerOptions, make_train_loader

TASKS = ("a", "b")


class ToyMultiTask(nn.Module):
    """Shared trunk (linear, layer norm, dropout) and two linear heads: regression ``a``, logistic ``b``."""

    def __init__(self, hidden: int = 16, dropout: float = 0.0) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(4, hidden), nn.LayerNorm(hidden), nn.Tanh(), nn.Dropout(dropout))
        self.head_a = nn.Linear(hidden, 1)
        self.head_b = nn.Linear(hidden, 1)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        h = self.trunk(batch["x"])
        return {"a": self.head_a(h).squeeze(-1), "b": self.head_b(h).squeeze(-1)}

    def losses(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, TaskLoss]:
        return {
            "a": TaskLoss((outputs["a"] - batch["ya"]) ** 2, batch["pa"]),
            "b": TaskLoss(F.softplus(-outputs["b"] * batch["yb"]), batch["pb"]),
        }

    def regularization(self, outputs: dict[str, Tensor]) -> Tensor | None:
        return None

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.trunk.parameters())

    def task_parameters(self) -> dict[str, list[nn.Parameter]]:
        return {"a": list(self.head_a.parameters()), "b": list(self.head_b.parameters())}


class ToyDataset(Dataset[dict[str, Tensor]]):
    """``size`` random samples; sample i lacks task ``a`` labels when i % 3 == 2 and ``b`` when i % 4 == 3."""

    def __init__(self, size: int = 12, seed: int = 0, nan_at: tuple[int, ...] = ()) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(size, 4, generator=g)
        self.ya = self.x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1 * torch.randn(size, generator=g)
        self.yb = torch.sign(self.x[:, 3] + 0.3 * self.x[:, 0])
        self.ya[list(nan_at)] = float("nan")
        idx = torch.arange(size)
        self.pa = idx % 3 != 2
        self.pb = idx % 4 != 3

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"x": self.x[i], "ya": self.ya[i], "yb": self.yb[i], "pa": self.pa[i], "pb": self.pb[i]}


def toy_config(**train: Any) -> Config:
    """The default config with a small, CPU, no-AMP ``train`` section (overridable)."""
    values = {"steps": 10, "batch_size": 4, "lr": 0.02, "warmup_steps": 2, "checkpoint_every": 5,
              "log_every": 1, "seed": 0, "amp": False, "strategy": "equal"}
    values.update(train)
    return Config(train=TrainConfig(**values))


def make_trainer(
    out_dir: str | Path,
    config: Config,
    dataset: Dataset[Any] | None = None,
    dropout: float = 0.3,
    ctx: DistContext | None = None,
    shuffle: bool = True,
    **options: Any,
) -> Trainer:
    """A fresh model (seeded by the config), strategy, loader and trainer."""
    ctx = ctx or DistContext()
    torch.manual_seed(config.train.seed)
    model = ToyMultiTask(dropout=dropout)
    strategy = make_strategy(config.train.strategy, TASKS, **config.train.strategy_options)
    loader = make_train_loader(
        dataset if dataset is not None else ToyDataset(), config.train.batch_size, ctx, config.train.seed,
        shuffle=shuffle,
    )
    opts = dataclasses.replace(TrainerOptions(progress=False), **options)
    return Trainer(model, strategy, loader, config, out_dir, options=opts, ctx=ctx)
