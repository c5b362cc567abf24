"""The staged multi-task recipe: one single-task stage per task, each starting from the previous
stage's weights, then joint training of every task from the last stage (``perception train
--staged``, the staged row of ``benchmarks/mtl_experiment.py``): single-task pre-training of each
head's path, then joint fine-tuning.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from perception.config import Config

#: Default stage order: depth first (it trains the image encoder and the view transform's depth
#: distribution, which the BEV tasks read from the cameras), then the BEV tasks, the driver head
#: last (it reads the cabin camera only).
DEFAULT_STAGE_ORDER = ("depth", "segmentation", "detection", "driver")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One training run of the recipe.

    Attributes:
        name: ``stage<k>-<task>`` (k from 1) or ``joint``; ``perception train --staged`` uses it
            as the run's folder name.
        config: the run's config (``train.steps`` its own steps).
        tasks: the tasks it trains (``TrainerOptions.tasks``); None: every head (the joint run).
    """

    name: str
    config: Config
    tasks: tuple[str, ...] | None


def enabled_stage_order(config: Config) -> tuple[str, ...]:
    """:data:`DEFAULT_STAGE_ORDER` restricted to the heads enabled in ``config``."""
    return tuple(t for t in DEFAULT_STAGE_ORDER if getattr(config.model.heads, t).enabled)


def staged_recipe(config: Config, order: Sequence[str], stage_steps: int, joint_steps: int | None = None) -> list[Stage]:
    """The runs of the staged recipe, in training order: one stage of ``stage_steps`` steps per
    task of ``order`` with equal weights (one task: nothing to weigh), then ``joint`` with the
    config's strategy for ``joint_steps`` steps (default ``config.train.steps``). Every run keeps the
    config's architecture (``model.sharing`` included), so each starts from all of the previous one's
    weights.

    Raises:
        ValueError: no task, a repeated task or one whose head is off, or fewer than one step.
    """
    enabled = enabled_stage_order(config)
    if not order or len(set(order)) != len(order):
        raise ValueError(f"stage order: expected distinct tasks, got {list(order)}")
    off = [t for t in order if t not in enabled]
    if off:
        raise ValueError(f"stage order: {', '.join(off)} has no head in the config")
    joint_steps = config.train.steps if joint_steps is None else joint_steps
    if stage_steps < 1 or joint_steps < 1:
        raise ValueError(f"staged recipe: stage and joint steps must be >= 1, got {stage_steps} and {joint_steps}")
    stage_config = dataclasses.replace(config, train=dataclasses.replace(
        config.train, steps=stage_steps, strategy="equal", strategy_options={}))
    stages = [Stage(f"stage{k}-{task}", stage_config, (task,)) for k, task in enumerate(order, 1)]
    joint_config = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=joint_steps))
    return [*stages, Stage("joint", joint_config, None)]
