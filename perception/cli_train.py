"""``perception train``: train the fusion model from a YAML config, on one process or under torchrun."""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

EXIT_USER_ERROR = 2
EXIT_DIVERGED = 3
#: What a run folder holds (``--out``): a folder with anything else is refused.
RUN_FOLDER_ENTRIES = frozenset({"config.yaml", "checkpoints", "train_log.csv", "tensorboard", "data_cache"})


def is_run_folder(path: Path) -> bool:
    """Whether the folder ``path`` holds only what ``perception train`` writes into a run folder."""
    return all(entry.name in RUN_FOLDER_ENTRIES or entry.name.startswith(".") for entry in path.iterdir())


def is_staged_folder(path: Path) -> bool:
    """Whether the folder ``path`` holds only what ``perception train --staged`` writes: stage run
    folders ``stage<k>-<task>``, ``joint`` and the sample cache."""
    return all(re.fullmatch(r"stage\d+-[a-z]+|joint|data_cache|\..*", entry.name) for entry in path.iterdir())


def remove_unfinished_run(out: Path) -> None:
    """Remove what a new run that ended before its first checkpoint wrote into ``out``.

    Without a checkpoint nothing can be resumed, so ``config.yaml``, the log and the TensorBoard
    events would only pass for a run that happened. The simulated-sample cache (``data_cache/``,
    complete samples written atomically, minutes to rebuild) is kept; an emptied folder is removed.
    """
    import shutil

    for name in ("config.yaml", "train_log.csv", "tensorboard", "checkpoints"):
        path = out / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand on an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "train",
        help="train the fusion model",
        description=(
            "Train the multi-task fusion model. Distributed: "
            "torchrun --nproc_per_node N -m perception.cli train ... (gloo on CPU, NCCL on GPU)."
        ),
    )
    parser.add_argument("--config", required=True, type=Path, help="YAML config (e.g. configs/tiny.yaml)")
    parser.add_argument("--out", required=True, type=Path, help="run folder: checkpoints/, train_log.csv, tensorboard/")
    parser.add_argument("--resume", action="store_true", help="continue exactly from <out>/checkpoints/last.pt")
    parser.add_argument("--init", type=Path, metavar="CHECKPOINT",
                        help="start from the weights of this checkpoint where names and shapes match (fine-tuning a "
                        "grown model); optimizer, schedule and step start anew")
    parser.add_argument("--steps", type=int, help="total optimisation steps (overrides train.steps)")
    parser.add_argument("--tasks", help="comma-separated tasks to train (default: every head of the config); the "
                        "other heads are built but neither run nor trained")
    parser.add_argument("--staged", action="store_true",
                        help="staged recipe in one command: one single-task stage per task (--stage-order), each "
                        "starting from the previous stage's weights, then joint training of every task from the last "
                        "stage, in <out>/stage<k>-<task>/ and <out>/joint/; rerun the same command to continue it")
    parser.add_argument("--stage-steps", type=int, help="steps of each single-task stage (default: train.steps)")
    parser.add_argument("--stage-order", help="comma-separated task order of the stages (default: depth, "
                        "segmentation, detection, driver, the heads of the config among them)")
    parser.add_argument("--strategy", help="multi-task strategy (overrides train.strategy): equal, static (weights in "
                        "train.strategy_options), uncertainty, dwa, gradnorm, famo, pcgrad, cagrad, imtlg, aligned_mtl, "
                        "upgrad")
    parser.add_argument("--data", help="'sim' or a nuScenes / KITTI root (overrides data.dataset)")
    parser.add_argument("--split", help="split of a dataset root (nuScenes: train, mini_train; KITTI: ImageSets name)")
    parser.add_argument("--seed", type=int, help="training seed (overrides train.seed)")
    parser.add_argument("--lr", type=float, help="peak learning rate (overrides train.lr)")
    parser.add_argument("--batch-size", type=int, help="samples per step and process (overrides train.batch_size)")
    parser.add_argument("--cache-dir", type=Path, help="cache of simulated samples (default <out>/data_cache)")
    parser.add_argument("--schedule", choices=("cosine", "onecycle"), default="cosine", help="learning-rate schedule")
    parser.add_argument("--max-bad-steps", type=int, default=20,
                        help="stop after this many consecutive non-finite steps (default 20)")
    parser.add_argument("--diagnostics-every", type=int, default=50,
                        help="log task-gradient cosine similarities every N steps (0: only when the strategy computes them)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _override(config: Any, args: argparse.Namespace) -> Any:
    train: dict[str, Any] = {}
    for flag, key in (("steps", "steps"), ("strategy", "strategy"), ("seed", "seed"), ("batch_size", "batch_size"),
                      ("lr", "lr")):
        if getattr(args, flag) is not None:
            train[key] = getattr(args, flag)
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.lr is not None and not args.lr > 0:
        raise ValueError(f"--lr must be > 0, got {args.lr}")
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, **train))
    if args.data is not None:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, dataset=args.data))
    return config


def run_train(args: argparse.Namespace) -> int:
    """Run ``perception train``; returns the exit status (user errors: one line on stderr, 2)."""
    from perception.cli import USER_ERRORS, error_line
    from perception.train.trainer import TrainingDiverged

    try:
        return _train(args)
    except USER_ERRORS as error:
        if getattr(args, "debug", False):
            raise
        print(f"perception train: error: {error_line(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except TrainingDiverged as error:
        print(f"perception train: {error}", file=sys.stderr)
        return EXIT_DIVERGED


def _train(args: argparse.Namespace) -> int:
    from perception.config import load_config
    from sensors.atomic import check_output_dir

    config = _override(load_config(args.config), args)
    if args.staged:
        check_output_dir(args.out, is_staged_folder, "staged run folder")
        return _train_staged(args, config)
    check_output_dir(args.out, is_run_folder, "run folder")
    if args.stage_steps is not None or args.stage_order is not None:
        raise ValueError("--stage-steps and --stage-order need --staged")
    tasks = _task_list(args.tasks, "--tasks") if args.tasks is not None else None
    checkpoint = args.out / "checkpoints" / "last.pt"
    if args.resume and args.init is not None:
        raise ValueError("--init and --resume exclude each other (--resume already restores the weights)")
    if args.resume and not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: nothing to resume (no checkpoint in --out)")
    if not args.resume and checkpoint.exists():
        raise FileExistsError(f"{args.out}: already holds a run; pass --resume to continue it or choose another --out")
    result = _fit(args, config, args.out, args.init, tasks, args.resume)
    if result is not None:
        losses = ", ".join(f"{name} {value:.4f}" for name, value in result.last_losses.items())
        print(
            f"trained {result.steps} steps ({result.skipped_steps} skipped); last losses: {losses}; "
            f"checkpoint: {result.checkpoint}"
        )
    return 0


def _task_list(text: str, flag: str) -> tuple[str, ...]:
    from perception.model.fusion_model import TASKS

    tasks = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = sorted(set(tasks) - set(TASKS))
    if not tasks or unknown or len(set(tasks)) != len(tasks):
        raise ValueError(f"{flag}: expected distinct names among {', '.join(TASKS)}, got {text!r}")
    return tasks


def stage_order(config: Any, order: str | None) -> tuple[str, ...]:
    """Tasks of the single-task stages: ``order`` (comma-separated) or, by default, depth,
    segmentation, detection, driver (:data:`perception.train.staged.DEFAULT_STAGE_ORDER`),
    restricted to the heads enabled in ``config``.

    Raises:
        ValueError: an unknown task, a task whose head is off, or none.
    """
    from perception.train.staged import enabled_stage_order

    enabled = enabled_stage_order(config)
    if order is None:
        return enabled
    tasks = _task_list(order, "--stage-order")
    off = sorted(set(tasks) - set(enabled))
    if off:
        raise ValueError(f"--stage-order: {', '.join(off)} has no head in the config")
    return tasks


def _train_staged(args: argparse.Namespace, config: Any) -> int:
    """Single-task stages, then the joint run, each resumed where it stopped or skipped when done."""
    from perception.checkpoint import trained_steps
    from perception.train.staged import staged_recipe

    if args.resume or args.tasks is not None:
        raise ValueError("--staged continues by itself (rerun the same command) and trains its own tasks: "
                         "drop --resume and --tasks")
    if args.stage_steps is not None and args.stage_steps < 1:
        raise ValueError(f"--stage-steps must be >= 1, got {args.stage_steps}")
    order = stage_order(config, args.stage_order)
    init = args.init
    for stage in staged_recipe(config, order, args.stage_steps or config.train.steps):
        out, cfg, tasks = args.out / stage.name, stage.config, stage.tasks
        checkpoint = out / "checkpoints" / "last.pt"
        done = trained_steps(checkpoint, cfg.train.steps)
        if done is None or done < cfg.train.steps:
            print(f"perception train: {out.name}: {cfg.train.steps} steps of {', '.join(tasks or ('every task',))}",
                  file=sys.stderr)
            resume = checkpoint.is_file()
            _fit(args, cfg, out, None if resume else init, tasks, resume)
        init = checkpoint
    print(f"trained {len(order)} single-task stages and the joint run; checkpoint: {args.out / 'joint' / 'checkpoints' / 'last.pt'}")
    return 0


def _fit(args: argparse.Namespace, config: Any, out: Path, init: Path | None, tasks: tuple[str, ...] | None,
         resume: bool) -> Any:
    """One training run into ``out`` (fresh, from ``init`` weights, or resumed); the
    :class:`TrainResult` on rank 0, else None."""
    import torch.distributed as dist

    from perception.checkpoint import load_initial_weights
    from perception.config import save_config
    from perception.data import collate_frames
    from perception.distributed import init_distributed, shutdown_distributed
    from perception.model import FusionModel
    from perception.mtl.factory import make_strategy
    from perception.train import Trainer, TrainerOptions, make_train_loader
    from perception.train.data import SimulatedSamples, build_train_dataset
    from perception.train.rng import seed_everything

    checkpoint = out / "checkpoints" / "last.pt"
    options = TrainerOptions(
        schedule=args.schedule,
        max_bad_steps=args.max_bad_steps,
        diagnostics_every=args.diagnostics_every,
        progress=not args.no_progress,
        tasks=tasks,
    )
    ctx = init_distributed(args.device)
    try:
        # Model and strategy first: their errors show before any simulation.
        seed_everything(config.train.seed)
        model = FusionModel(config.model)
        if tasks is not None:
            missing = sorted(set(tasks) - set(model.tasks))
            if missing:
                raise ValueError(f"--tasks: {', '.join(missing)} has no head in the config")
        if init is not None:
            report = load_initial_weights(init, model)
            if ctx.is_main:
                print(
                    f"initialised {len(report.loaded)} of {len(report.loaded) + len(report.fresh)} tensors from "
                    f"{init} ({len(report.fresh)} new, {len(report.warm)} of them started from a part the checkpoint "
                    f"had, {len(report.unused)} of the checkpoint unused)",
                    file=sys.stderr,
                )
        trained = tuple(t for t in model.tasks if tasks is None or t in tasks)
        strategy = make_strategy(config.train.strategy, trained, **config.train.strategy_options)
        dataset = build_train_dataset(
            config, config.data.dataset, args.cache_dir or args.out / "data_cache", split=args.split
        )
        if isinstance(dataset, SimulatedSamples):
            if ctx.is_main:
                dataset.prepare(progress=options.progress)
            if ctx.is_distributed:
                dist.barrier()
        loader = make_train_loader(
            dataset, config.train.batch_size, ctx, config.train.seed,
            collate_fn=collate_frames, num_workers=config.train.num_workers,
        )
        trainer = Trainer(model, strategy, loader, config, out, options=options, ctx=ctx)
        if resume:
            trainer.resume(checkpoint)
        elif ctx.is_main:
            save_config(config, out / "config.yaml")
        result = trainer.fit()
        shutdown_distributed(barrier=True)
    except BaseException:
        if ctx.is_main and not resume and not checkpoint.exists():
            remove_unfinished_run(out)
        raise
    finally:
        shutdown_distributed()
    return result if ctx.is_main else None
