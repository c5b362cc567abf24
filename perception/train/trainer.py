"""The training loop: AdamW, schedule, mixed precision, clipping, checkpoints, logs, DDP, exact resume."""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from perception.checkpoint import (
    CheckpointError,
    load_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)
from perception.config import Config, config_to_dict
from perception.data.batch import move_to
from perception.distributed import (
    DistContext,
    all_reduce_sum,
    check_same_graphs,
    global_sum,
    install_gradient_averaging,
)
from perception.mtl.base import MultiTaskStrategy, StrategyStep
from perception.mtl.task import TaskLoss
from perception.train.loader import ResumableSampler
from perception.train.logs import TrainLogger
from perception.train.optim import build_optimizer
from perception.train.options import TrainerOptions
from perception.train.rng import capture_rng_state, restore_rng_state, seed_everything
from perception.train.schedule import build_scheduler


class MultiTaskModel(Protocol):
    """What the trainer needs from a model (``perception.model.FusionModel`` follows it)."""

    def __call__(self, batch: Any, **kwargs: Any) -> dict[str, Tensor]:
        """Outputs of the batch (``tasks=`` given only with ``TrainerOptions.tasks``)."""

    def losses(self, outputs: Mapping[str, Tensor], batch: Any) -> dict[str, TaskLoss]: ...

    def regularization(self, outputs: Mapping[str, Tensor]) -> Tensor | None: ...

    def shared_parameters(self) -> list[nn.Parameter]: ...

    def task_parameters(self) -> dict[str, list[nn.Parameter]]: ...


class TrainingDiverged(RuntimeError):
    """Too many consecutive steps had a non-finite loss or gradient; the message is one line."""


@dataclass
class TrainResult:
    """Summary of a finished :meth:`Trainer.fit`.

    Attributes:
        steps: optimisation steps done (including resumed ones and skipped ones).
        skipped_steps: steps skipped because of a non-finite loss or gradient.
        checkpoint: path of the last checkpoint written (None on ranks other than 0).
        last_losses: per-task losses of the last applied step.
    """

    steps: int
    skipped_steps: int
    checkpoint: Path | None
    last_losses: dict[str, float] = field(default_factory=dict)


class _ScaleBackward(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``factor`` (fp16 loss scaling that leaves the
    loss values, which weighting strategies read, unchanged)."""

    @staticmethod
    def forward(ctx, value: Tensor, factor: float) -> Tensor:  # type: ignore[override]
        ctx.factor = factor
        return value.view_as(value)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return grad * ctx.factor, None


class Trainer:
    """Trains a multi-task model with a gradient/weighting strategy.

    Single process: ``Trainer(...).fit()``. Distributed: launch with
    ``torchrun --nproc_per_node N``, build the context with
    :func:`perception.train.init_distributed` and the loader with
    :func:`perception.train.make_train_loader` (each rank gets its part of every global batch);
    see :mod:`perception.distributed` for how gradients are synchronised.

    Checkpoints go to ``<out_dir>/checkpoints/last.pt`` every ``config.train.checkpoint_every``
    steps and at the end; logs to ``<out_dir>/train_log.csv`` and ``<out_dir>/tensorboard``.
    """

    def __init__(
        self,
        model: nn.Module,
        strategy: MultiTaskStrategy,
        train_loader: DataLoader[Any],
        config: Config,
        out_dir: str | Path,
        options: TrainerOptions | None = None,
        ctx: DistContext | None = None,
    ) -> None:
        """
        Args:
            model: a :class:`MultiTaskModel`; moved to ``ctx.device``.
            strategy: combines the task losses into gradients (``perception.mtl.make_strategy``).
            train_loader: built by :func:`perception.train.make_train_loader`.
            config: the whole configuration; ``config.train`` drives the loop and the checkpoint
                stores all of it.
            out_dir: run folder for checkpoints and logs.
            options: loop settings beyond ``config.train``.
            ctx: rank, world size and device (default: one process on the CPU).
        """
        if not isinstance(train_loader.sampler, ResumableSampler):
            raise TypeError("train_loader must come from perception.train.make_train_loader (ResumableSampler)")
        if train_loader.generator is None:
            raise TypeError("train_loader needs a torch.Generator (use perception.train.make_train_loader)")
        self.ctx = ctx or DistContext()
        self.options = options or TrainerOptions()
        self.config = config
        self.cfg = config.train
        self.config_dict = config_to_dict(config)
        self.out_dir = Path(out_dir)
        self.loader = train_loader
        self.sampler: ResumableSampler = train_loader.sampler
        self.batch_size = int(train_loader.batch_size or 1)
        self.model = model.to(self.ctx.device)
        self.strategy = strategy
        self.task_names = list(strategy.task_names)

        self.shared_params = list(model.shared_parameters())  # type: ignore[operator]
        task_params = model.task_parameters()  # type: ignore[operator]
        if self.options.tasks is not None:
            if set(self.options.tasks) != set(self.task_names) or not set(self.options.tasks) <= set(task_params):
                raise ValueError(f"options.tasks {list(self.options.tasks)} must be tasks of the model "
                                 f"{sorted(task_params)} and exactly those of the strategy {self.task_names}")
            task_params = {t: task_params[t] for t in self.options.tasks}
        unknown = set(task_params) - set(self.task_names)
        if unknown:
            raise ValueError(f"model tasks {sorted(unknown)} are not known to the strategy {self.task_names}")
        self.head_params = [p for name in self.task_names for p in task_params.get(name, [])]

        self.optimizer = build_optimizer(model, strategy.extra_param_groups(), self.cfg.lr, self.cfg.weight_decay)
        self.scheduler = build_scheduler(
            self.optimizer, self.options.schedule, self.cfg.steps, self.cfg.warmup_steps, self.options.min_lr_ratio
        )
        device_type = self.ctx.device.type
        self.amp = bool(self.cfg.amp) and device_type == "cuda"
        self.amp_dtype = torch.bfloat16 if self.options.amp_dtype == "bfloat16" else torch.float16
        self.scaler = torch.amp.GradScaler(device_type, enabled=self.amp and self.amp_dtype == torch.float16)

        self.forward_module: nn.Module = model
        if self.ctx.is_distributed:
            device_ids = [self.ctx.local_rank] if device_type == "cuda" else None
            self.forward_module = DistributedDataParallel(model, device_ids=device_ids)
            install_gradient_averaging(list(model.parameters()), self.ctx)

        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.bad_total = 0
        self.bad_consecutive = 0
        self._resumed = False
        self._grad_norm = math.nan
        self._lr = math.nan
        self.checkpoint_path = self.out_dir / "checkpoints" / "last.pt"
        if self.ctx.is_main:
            remove_stale_temporaries(self.checkpoint_path.parent)

    # -- checkpoints ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`resume` needs, as plain tensors and Python values."""
        return {
            "config": self.config_dict,
            "model": self.model.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "global_batch": self.batch_size * self.ctx.world_size,
            "world_size": self.ctx.world_size,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "strategy": self.strategy.state_dict(),
            "strategy_name": type(self.strategy).__name__,
            "rng": capture_rng_state(),
            "bad_steps": {"total": self.bad_total, "consecutive": self.bad_consecutive},
        }

    def save(self) -> Path:
        """Write ``checkpoints/last.pt`` atomically (and ``step_<N>.pt`` if kept); rank 0 only."""
        state = self.state_dict()
        path = save_checkpoint(state, self.checkpoint_path)
        if self.options.keep_checkpoints:
            save_checkpoint(state, self.checkpoint_path.with_name(f"step_{self.step:07d}.pt"))
        return path

    def resume(self, path: str | Path | None = None) -> None:
        """Continue exactly from a checkpoint (default ``<out_dir>/checkpoints/last.pt``).

        Raises:
            CheckpointError: unreadable file, a different model config, a different strategy or a
                different global batch size.
        """
        path = Path(path) if path is not None else self.checkpoint_path
        state = load_checkpoint(path, self.model, self.config_dict, map_location=self.ctx.device)
        if state["strategy_name"] != type(self.strategy).__name__:
            raise CheckpointError(
                f"{path}: checkpoint was trained with strategy {state['strategy_name']}, "
                f"not {type(self.strategy).__name__}"
            )
        global_batch = self.batch_size * self.ctx.world_size
        if state["global_batch"] != global_batch:
            raise CheckpointError(
                f"{path}: checkpoint has global batch {state['global_batch']}, this run {global_batch} "
                "(exact resume needs the same batch_size x processes)"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.strategy.load_state_dict(state["strategy"])
        restore_rng_state(state["rng"])
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.bad_total = int(state["bad_steps"]["total"])
        self.bad_consecutive = int(state["bad_steps"]["consecutive"])
        self._resumed = True

    # -- one step ------------------------------------------------------------------------------------
    def _global_losses(self, task_losses: Mapping[str, TaskLoss]) -> dict[str, Tensor]:
        """Mean loss over the present samples of the global batch, per task present anywhere."""
        unknown = set(task_losses) - set(self.task_names)
        if unknown:
            raise ValueError(f"model returned losses of tasks {sorted(unknown)} unknown to the strategy")
        names = [n for n in self.task_names if n in task_losses]
        if not names:
            return {}
        counts = torch.stack([task_losses[n].present.sum() for n in names]).to(torch.float32)
        counts = all_reduce_sum(counts, self.ctx)
        losses: dict[str, Tensor] = {}
        for name, count in zip(names, counts.tolist()):
            item = task_losses[name]
            local = torch.where(item.present, item.per_sample.float(), 0.0).sum()
            total = global_sum(local, self.ctx)  # the same collective on every rank, present or not
            if count > 0:
                losses[name] = total / count
        return losses

    def _train_step(self, batch: Any) -> StrategyStep | None:
        """Forward, strategy backward, clip and optimiser step; None when the step was skipped."""
        self.model.train()
        self._lr = float(self.optimizer.param_groups[0]["lr"])
        batch = move_to(batch, self.ctx.device)
        with torch.autocast(self.ctx.device.type, dtype=self.amp_dtype, enabled=self.amp):
            only = {} if self.options.tasks is None else {"tasks": self.options.tasks}
            if isinstance(self.forward_module, DistributedDataParallel):
                with self.forward_module.no_sync():
                    outputs = self.forward_module(batch, **only)
            else:
                outputs = self.forward_module(batch, **only)
            task_losses = self.model.losses(outputs, batch)  # type: ignore[operator]
            regularizer = self.model.regularization(outputs)  # type: ignore[operator]
        losses = self._global_losses(task_losses)
        self.optimizer.zero_grad(set_to_none=True)
        if not losses:
            return None
        if not all(bool(torch.isfinite(v.detach())) for v in losses.values()):
            return self._bad_step("loss")
        check_same_graphs(losses, self.ctx)

        scale = 1.0
        if self.scaler.is_enabled():
            # scaler.scale(1) is the current loss scale (and starts the scaler's bookkeeping).
            scale = float(self.scaler.scale(torch.ones((), device=self.ctx.device)))
            losses = {n: _ScaleBackward.apply(v, scale) for n, v in losses.items()}
        if regularizer is not None:
            # the architecture's own term (soft-sharing penalty, routing balance) is not a task: its
            # gradient is added as it is, outside the strategy's weighting (docs/mtl.md)
            if not bool(torch.isfinite(regularizer.detach())):
                return self._bad_step("loss")
            (regularizer.float() * scale).backward(retain_graph=True)
        diagnose = self.options.diagnostics_every > 0 and (self.step + 1) % self.options.diagnostics_every == 0
        result = self.strategy.backward(losses, self.shared_params, self.head_params, track_conflict=diagnose,
                                        grad_scale=scale)
        if self.scaler.is_enabled():
            self.scaler.unscale_(self.optimizer)
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        max_norm = self.cfg.grad_clip if self.cfg.grad_clip > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        if not self.scaler.is_enabled() and not bool(torch.isfinite(grad_norm)):
            return self._bad_step("gradient")
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.bad_consecutive = 0
        self._grad_norm = float(grad_norm)
        return result

    def _bad_step(self, what: str) -> None:
        """Count a skipped non-finite step; raise :class:`TrainingDiverged` after too many in a row."""
        self.optimizer.zero_grad(set_to_none=True)
        self.bad_total += 1
        self.bad_consecutive += 1
        if self.bad_consecutive >= self.options.max_bad_steps:
            raise TrainingDiverged(
                f"training stopped at step {self.step + 1}: {self.bad_consecutive} consecutive steps had a "
                f"non-finite {what} ({self.bad_total} skipped in all); lower the learning rate or check the data"
            )

    # -- the loop ------------------------------------------------------------------------------------
    def _log_row(self, result: StrategyStep | None) -> dict[str, float | int | None]:
        row: dict[str, float | int | None] = {
            "step": self.step,
            "epoch": self.epoch,
            "lr": self._lr,
            "skipped": self.bad_total,
        }
        if result is None:
            return row
        row["grad_norm"] = self._grad_norm
        row["loss"] = sum(result.losses.values())
        for name, value in result.losses.items():
            row[f"loss/{name}"] = value
        for name, value in result.weights.items():
            row[f"weight/{name}"] = value
        if result.cosine is not None:
            present = list(result.weights)
            for (i, a), (j, b) in combinations(enumerate(present), 2):
                first, second = sorted((a, b), key=self.task_names.index)
                row[f"cos/{first}/{second}"] = float(result.cosine[i, j])
        for name, value in (result.shared_grad_norms or {}).items():
            row[f"shared_grad_norm/{name}"] = value
        return row

    def fit(self, stop_after: int | None = None) -> TrainResult:
        """Train until ``config.train.steps`` steps are done; returns a summary.

        Args:
            stop_after: return after this many steps of this call (as if interrupted), having
                written a checkpoint; the schedule still spans ``config.train.steps``.

        Raises:
            TrainingDiverged: ``options.max_bad_steps`` consecutive non-finite steps.
        """
        continuing = self._resumed or self.step > 0
        if not continuing:
            seed_everything(self.cfg.seed)
        total = self.cfg.steps
        end = total if stop_after is None else min(total, self.step + stop_after)
        logger = TrainLogger(self.out_dir, self.task_names, self.step if continuing else None) if self.ctx.is_main else None
        bar = tqdm(
            total=total, initial=self.step, desc="train", dynamic_ncols=True,
            disable=not (self.options.progress and self.ctx.is_main),
        )
        last: StrategyStep | None = None
        checkpoint: Path | None = None
        try:
            while self.step < end:
                batches_per_epoch = math.ceil(self.sampler.samples_per_epoch() / self.batch_size)
                if self.batch_in_epoch >= batches_per_epoch:
                    self.strategy.end_epoch()
                    self.epoch += 1
                    self.batch_in_epoch = 0
                self.sampler.set_position(self.epoch, self.batch_in_epoch * self.batch_size)
                self.loader.generator.manual_seed(self.cfg.seed * 1_000_003 + self.epoch)  # type: ignore[union-attr]
                for batch in self.loader:
                    result = self._train_step(batch)
                    with warnings.catch_warnings():  # a skipped first step still advances the schedule
                        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
                        self.scheduler.step()
                    self.step += 1
                    self.batch_in_epoch += 1
                    if result is not None:
                        last = result
                        bar.set_postfix({n: f"{v:.3f}" for n, v in result.losses.items()}, refresh=False)
                    bar.update(1)
                    if logger is not None and (self.step % max(self.cfg.log_every, 1) == 0 or self.step == total):
                        logger.log(self._log_row(result))
                    if self.ctx.is_main and self.cfg.checkpoint_every > 0 and self.step % self.cfg.checkpoint_every == 0:
                        checkpoint = self.save()
                    if self.step >= end:
                        break
            if self.ctx.is_main:
                checkpoint = self.save()
        finally:
            bar.close()
            if logger is not None:
                logger.close()
        return TrainResult(
            steps=self.step,
            skipped_steps=self.bad_total,
            checkpoint=checkpoint,
            last_losses=dict(last.losses) if last is not None else {},
        )
