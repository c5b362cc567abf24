"""Trainer settings that are not part of :class:`perception.config.TrainConfig`."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainerOptions:
    """Knobs of the training loop beyond the YAML ``train`` section.

    Attributes:
        schedule: ``"cosine"`` (linear warm-up over ``TrainConfig.warmup_steps``, then cosine decay
            to ``min_lr_ratio * lr`` at the last step) or ``"onecycle"`` (``torch`` OneCycleLR
            peaking at ``lr`` after ``warmup_steps``).
        min_lr_ratio: final learning rate of the cosine schedule as a fraction of the peak.
        max_bad_steps: stop after this many consecutive steps with a non-finite loss or gradient.
        amp_dtype: autocast dtype on GPU, ``"bfloat16"`` (no loss scaling needed) or ``"float16"``
            (with a dynamic ``GradScaler``). Ignored on CPU, where mixed precision is off.
        diagnostics_every: every this many steps, compute the per-task gradient cosine similarity
            on the shared parameters even when the strategy does not (0: never).
        progress: show a progress bar (rank 0 only).
        keep_checkpoints: also keep ``step_<N>.pt`` snapshots besides ``last.pt``.
        tasks: train only these tasks of the model (its forward is called with ``tasks=``, so the
            other heads and the trunk parts only they read are not run and get no gradient; the
            strategy must know exactly these tasks). None: every task of the model. Used for the
            single-task stages of staged training (``perception train --staged``).
    """

    schedule: str = "cosine"
    min_lr_ratio: float = 0.01
    max_bad_steps: int = 20
    amp_dtype: str = "bfloat16"
    diagnostics_every: int = 0
    progress: bool = True
    keep_checkpoints: bool = False
    tasks: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.schedule not in ("cosine", "onecycle"):
            raise ValueError(f"schedule must be 'cosine' or 'onecycle', got {self.schedule!r}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if self.max_bad_steps < 1:
            raise ValueError(f"max_bad_steps must be >= 1, got {self.max_bad_steps}")
        if self.amp_dtype not in ("bfloat16", "float16"):
            raise ValueError(f"amp_dtype must be 'bfloat16' or 'float16', got {self.amp_dtype!r}")
        if self.tasks is not None and not self.tasks:
            raise ValueError("tasks must name at least one task (None: all)")
        if self.diagnostics_every < 0:
            raise ValueError(f"diagnostics_every must be >= 0, got {self.diagnostics_every}")
