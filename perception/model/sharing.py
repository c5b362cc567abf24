"""How the BEV tasks (detection, segmentation) share the BEV backbone: ``model.sharing.kind``.

The image encoder, view transform, LiDAR encoder and fuser are shared by every task in all
variants; what differs is the BEV backbone (:class:`perception.model.bev.BevBackbone`, conv
stages and an upsample-concat neck) between the fuser and the BEV heads:

* ``hard``: one backbone read by every BEV head (the shipped model; :func:`build_bev_backbone`
  returns a plain :class:`BevBackbone`, so its state-dict keys are those of every checkpoint).
* ``task_decoders``: :class:`TaskDecoders`, one backbone per BEV task.
* ``cross_stitch``: :class:`CrossStitchBackbone`, one branch per task with learned linear
  combinations between the branches after every stage (Misra et al. 2016).
* ``sluice``: :class:`SluiceBackbone`, cross-stitch over channel subspaces with learned stage
  weights and an orthogonality penalty (Ruder et al. 2019).
* ``soft``: :class:`SoftSharedBackbone`, one copy per task pulled together by an L2 penalty on
  the differences (Duong et al. 2015).
* ``routing``: :class:`RoutedBackbone`, a task-conditioned mixture of expert backbones
  (MMoE, Ma et al. 2018; MetaBEV's M²oE, Ge et al. 2023) with a load-balancing term
  (Shazeer et al. 2017).

Every module other than the hard backbone returns a :class:`TaskBev`: one (B, C, X, Y) feature
map per BEV task (``C = BevBackbone.out_channels``, same grid as the input) and, in training mode
only, a scalar regulariser (soft penalty, sluice orthogonality, routing balance; None otherwise)
that the trainer adds to the loss outside the multi-task strategy (``FusionModel.regularization``);
in eval mode the outputs are the task features alone.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from itertools import combinations

import torch
from torch import nn

from perception.config import BevConfig, SharingConfig
from perception.model.bev import BevBackbone


@dataclass
class TaskBev:
    """Per-task BEV features of a multi-branch backbone.

    Attributes:
        features: task name -> (B, C, X, Y) BEV features for that task's head.
        regularizer: scalar added to the training loss (soft-sharing penalty, routing balance),
            already multiplied by its config weight; None when the variant has none.
    """

    features: dict[str, torch.Tensor]
    regularizer: torch.Tensor | None = None


class TaskDecoders(nn.Module):
    """A separate BEV backbone per BEV task after the shared fuser (``task_decoders``).

    Each backbone is reached by its task's loss alone, so :meth:`task_parameters` hands it to
    the strategy as task-specific.
    """

    def __init__(self, in_channels: int, config: BevConfig, tasks: tuple[str, ...]) -> None:
        super().__init__()
        self.backbones = nn.ModuleDict({t: BevBackbone(in_channels, config) for t in tasks})
        self.out_channels = config.neck_channels * len(config.layers)

    def task_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Parameters reached by one task only, by task."""
        return {t: list(b.parameters()) for t, b in self.backbones.items()}

    def forward(self, x: torch.Tensor) -> TaskBev:
        """(B, C_in, X, Y) fused BEV -> one (B, C, X, Y) map per task."""
        return TaskBev({t: backbone(x) for t, backbone in self.backbones.items()})


class CrossStitchUnit(nn.Module):
    """Learned linear combination of T task activations, per channel (Misra et al. 2016).

    ``out_t[:, c] = sum_s alpha[t, s, c] * x_s[:, c]``. Initialised with ``self_weight`` on the
    diagonal and ``(1 - self_weight) / (T - 1)`` elsewhere (the paper's best start is 0.9/0.1;
    1.0 is the identity: separate networks).
    """

    def __init__(self, tasks: int, channels: int, self_weight: float) -> None:
        super().__init__()
        self.alpha = nn.Parameter(_stitch_init(tasks, self_weight)[:, :, None].repeat(1, 1, channels))

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """T tensors (B, C, X, Y) -> T tensors (B, C, X, Y)."""
        stacked = torch.stack(xs, dim=1)  # (B, T, C, X, Y)
        mixed = torch.einsum("tsc,bscxy->btcxy", self.alpha.to(stacked.dtype), stacked)
        return list(mixed.unbind(dim=1))


class CrossStitchBackbone(nn.Module):
    """One backbone branch per BEV task, with a :class:`CrossStitchUnit` after every stage
    (Misra et al. 2016, "Cross-stitch networks for multi-task learning").

    Each branch has the layout of :class:`BevBackbone`; the stitched stage outputs feed both the
    next stage and the branch's neck. Every task's loss reaches every branch through the units, so
    all parameters count as shared.
    """

    def __init__(self, in_channels: int, config: BevConfig, tasks: tuple[str, ...], self_weight: float) -> None:
        super().__init__()
        self.tasks = tasks
        self.branches = nn.ModuleDict({t: BevBackbone(in_channels, config) for t in tasks})
        self.stitches = nn.ModuleList(CrossStitchUnit(len(tasks), c, self_weight) for c in config.channels)
        self.out_channels = config.neck_channels * len(config.layers)

    def task_parameters(self) -> dict[str, list[nn.Parameter]]:
        """None: every branch is reached by every task through the stitches."""
        return {}

    def forward(self, x: torch.Tensor) -> TaskBev:
        """(B, C_in, X, Y) fused BEV -> one (B, C, X, Y) map per task."""
        branches = [self.branches[t] for t in self.tasks]
        xs = [x] * len(branches)
        outs: list[list[torch.Tensor]] = [[] for _ in branches]
        for level, stitch in enumerate(self.stitches):
            xs = stitch([b.stages[level](xi) for b, xi in zip(branches, xs)])
            for i, b in enumerate(branches):
                outs[i].append(b.ups[level](xs[i]))
        return TaskBev({t: torch.cat(o, dim=1) for t, o in zip(self.tasks, outs)})


def _stitch_init(tasks: int, self_weight: float) -> torch.Tensor:
    """(T, T) mixing matrix: ``self_weight`` on the diagonal, the rest shared by the other tasks."""
    off = (1.0 - self_weight) / (tasks - 1) if tasks > 1 else 0.0
    alpha = torch.full((tasks, tasks), off)
    return alpha.fill_diagonal_(self_weight)


class SluiceBackbone(nn.Module):
    """Sluice network (Ruder et al. 2019) on the BEV backbone: cross-stitch branches whose stage
    outputs are split into ``SUBSPACES`` channel subspaces, mixed by one learned
    ``(T * S, T * S)`` matrix per stage (alpha, initialised as the cross-stitch matrix times the
    identity over subspaces: 1.0 on the diagonal starts as separate networks), with learned
    per-task weights of each stage in the neck (beta, initialised to 1: the plain neck), and the
    paper's orthogonality penalty between the two subspaces of every task at every stage:
    ``weight * mean_{t, stage} ||X_{t,1}^T X_{t,2} / N||_F^2`` (X: (N, C/2) activations over the
    N = B x X x Y positions; divided by N so that the term does not grow with the grid).
    """

    SUBSPACES = 2

    def __init__(self, in_channels: int, config: BevConfig, tasks: tuple[str, ...], self_weight: float,
                 orthogonality_weight: float) -> None:
        super().__init__()
        if any(c % self.SUBSPACES for c in config.channels):
            raise ValueError(f"sluice: every model.bev.channels must be divisible by {self.SUBSPACES}, got {config.channels}")
        self.tasks = tasks
        self.branches = nn.ModuleDict({t: BevBackbone(in_channels, config) for t in tasks})
        base = torch.kron(_stitch_init(len(tasks), self_weight), torch.eye(self.SUBSPACES))
        self.alphas = nn.ParameterList(nn.Parameter(base.clone()) for _ in config.channels)
        self.betas = nn.Parameter(torch.ones(len(tasks), len(config.channels)))
        self.orthogonality_weight = orthogonality_weight
        self.out_channels = config.neck_channels * len(config.layers)

    def task_parameters(self) -> dict[str, list[nn.Parameter]]:
        """None: every branch is reached by every task through the alphas (beta is one tensor)."""
        return {}

    def _mix(self, alpha: torch.Tensor, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        parts = torch.stack([c for x in xs for c in x.chunk(self.SUBSPACES, dim=1)], dim=1)  # (B, T*S, C/S, X, Y)
        mixed = torch.einsum("uv,bvcxy->bucxy", alpha.to(parts.dtype), parts)
        groups = mixed.split(self.SUBSPACES, dim=1)
        return [g.flatten(1, 2) for g in groups]

    def _orthogonality(self, x: torch.Tensor) -> torch.Tensor:
        a, b = (c.permute(1, 0, 2, 3).flatten(1) for c in x.chunk(self.SUBSPACES, dim=1))  # (C/2, N)
        return ((a @ b.T) / a.shape[1]).pow(2).sum()

    def forward(self, x: torch.Tensor) -> TaskBev:
        """(B, C_in, X, Y) fused BEV -> one (B, C, X, Y) map per task, and the orthogonality term."""
        branches = [self.branches[t] for t in self.tasks]
        xs = [x] * len(branches)
        outs: list[list[torch.Tensor]] = [[] for _ in branches]
        penalty = x.new_zeros(())
        for level, alpha in enumerate(self.alphas):
            xs = self._mix(alpha, [b.stages[level](xi) for b, xi in zip(branches, xs)])
            for i, b in enumerate(branches):
                outs[i].append(self.betas[i, level] * b.ups[level](xs[i]))
                if self.training and self.orthogonality_weight > 0:
                    penalty = penalty + self._orthogonality(xs[i])
        reg = None
        if self.training and self.orthogonality_weight > 0:
            reg = self.orthogonality_weight * penalty / (len(branches) * len(self.alphas))
        return TaskBev({t: torch.cat(o, dim=1) for t, o in zip(self.tasks, outs)}, reg)


class SoftSharedBackbone(nn.Module):
    """Soft parameter sharing (Duong et al. 2015): a copy of the backbone per BEV task, with the
    regulariser ``weight * sum_{a<b} ||theta_a - theta_b||^2`` over every pair of copies (squared
    L2 distance of all their parameters; BatchNorm statistics are not parameters).

    The copies start equal (one backbone deep-copied), i.e. from the hard-shared model; at weight 0
    they are separate networks, at a large weight they are pulled to one.
    """

    def __init__(self, in_channels: int, config: BevConfig, tasks: tuple[str, ...], weight: float) -> None:
        super().__init__()
        first = BevBackbone(in_channels, config)
        self.copies = nn.ModuleDict({t: first if i == 0 else copy.deepcopy(first) for i, t in enumerate(tasks)})
        self.weight = weight
        self.out_channels = first.out_channels

    def task_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Each copy is reached by its task's loss only (the penalty is added outside the strategy)."""
        return {t: list(c.parameters()) for t, c in self.copies.items()}

    def penalty(self) -> torch.Tensor:
        """Unweighted ``sum_{a<b} ||theta_a - theta_b||^2`` (scalar)."""
        params = [list(c.parameters()) for c in self.copies.values()]
        total = params[0][0].new_zeros(())
        for pa, pb in combinations(params, 2):
            total = total + sum(((a - b) ** 2).sum() for a, b in zip(pa, pb))
        return total

    def forward(self, x: torch.Tensor) -> TaskBev:
        """(B, C_in, X, Y) fused BEV -> one (B, C, X, Y) map per task, and the weighted penalty."""
        reg = self.weight * self.penalty() if self.training and self.weight > 0 else None
        return TaskBev({t: c(x) for t, c in self.copies.items()}, reg)


def coefficient_of_variation_squared(values: torch.Tensor) -> torch.Tensor:
    """``var / mean^2`` over the last axis (population variance), averaged over the others."""
    mean = values.mean(dim=-1)
    var = values.var(dim=-1, unbiased=False)
    return (var / mean.pow(2).clamp_min(1e-10)).mean()


class RoutedBackbone(nn.Module):
    """Task-conditioned mixture of expert backbones (MMoE, Ma et al. 2018; the task-specific
    gating of MetaBEV's M²oE, Ge et al. 2023).

    E expert :class:`BevBackbone` s read the fused BEV; per BEV task t a gate (linear layer on the
    globally average-pooled input, softmax over experts) gives weights ``g_t`` (B, E) that sum to
    1 per sample, and the task's features are ``sum_e g_t[:, e] * expert_e(x)``. The regulariser
    is Shazeer et al. 2017's importance loss: ``balance_weight`` times the squared coefficient of
    variation of each task's per-expert gate mass over the batch (averaged over tasks), which keeps
    every expert in use.
    """

    def __init__(self, in_channels: int, config: BevConfig, tasks: tuple[str, ...], experts: int,
                 balance_weight: float) -> None:
        super().__init__()
        self.tasks = tasks
        self.experts = nn.ModuleList(BevBackbone(in_channels, config) for _ in range(experts))
        self.gates = nn.ModuleDict({t: nn.Linear(in_channels, experts) for t in tasks})
        for gate in self.gates.values():  # start uniform: every expert used equally
            nn.init.zeros_(gate.weight)
            nn.init.zeros_(gate.bias)
        self.balance_weight = balance_weight
        self.out_channels = self.experts[0].out_channels

    def task_parameters(self) -> dict[str, list[nn.Parameter]]:
        """The gates (one per task); the experts are shared."""
        return {t: list(g.parameters()) for t, g in self.gates.items()}

    def gate_weights(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per task, (B, E) expert weights of each sample (softmax: non-negative, sum 1)."""
        pooled = x.mean(dim=(2, 3))
        return {t: torch.softmax(self.gates[t](pooled), dim=1) for t in self.tasks}

    def forward(self, x: torch.Tensor) -> TaskBev:
        """(B, C_in, X, Y) fused BEV -> one (B, C, X, Y) map per task, and the balance term."""
        gates = self.gate_weights(x)
        expert_out = torch.stack([e(x) for e in self.experts], dim=1)  # (B, E, C, X, Y)
        features = {t: torch.einsum("be,becxy->bcxy", g.to(expert_out.dtype), expert_out) for t, g in gates.items()}
        reg = None
        if self.training and self.balance_weight > 0:
            importance = torch.stack([g.sum(dim=0) for g in gates.values()])  # (T, E)
            reg = self.balance_weight * coefficient_of_variation_squared(importance)
        return TaskBev(features, reg)


def build_bev_backbone(in_channels: int, config: BevConfig, sharing: SharingConfig,
                       tasks: tuple[str, ...]) -> nn.Module:
    """The BEV backbone for ``sharing.kind`` and the BEV tasks ``tasks`` (in head order).

    ``hard`` (and any kind with fewer than two BEV tasks: nothing to share) gives a plain
    :class:`BevBackbone` returning one tensor; the other kinds a module returning :class:`TaskBev`.
    """
    kind = sharing.kind
    if kind == "hard" or len(tasks) < 2:
        return BevBackbone(in_channels, config)
    if kind == "task_decoders":
        return TaskDecoders(in_channels, config, tasks)
    if kind == "cross_stitch":
        return CrossStitchBackbone(in_channels, config, tasks, sharing.stitch_self_weight)
    if kind == "sluice":
        return SluiceBackbone(in_channels, config, tasks, sharing.stitch_self_weight, sharing.orthogonality_weight)
    if kind == "soft":
        return SoftSharedBackbone(in_channels, config, tasks, sharing.soft_weight)
    if kind == "routing":
        return RoutedBackbone(in_channels, config, tasks, sharing.experts, sharing.balance_weight)
    raise ValueError(f"model.sharing.kind: unknown {kind!r}")  # the config's Literal refuses it first
