"""``perception train``: train the fusion model from a YAML config, on one process or under torchrun."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

EXIT_USER_ERROR = 2
EXIT_DIVERGED = 3


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
    parser.add_argument("--strategy", help="multi-task strategy (overrides train.strategy): equal, uncertainty, "
                        "dwa, gradnorm, famo, pcgrad, cagrad, imtlg, aligned_mtl, upgrad")
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
    from perception.config import ConfigError
    from perception.checkpoint import CheckpointError
    from perception.train.trainer import TrainingDiverged
    from sensors.errors import SensorDataError

    try:
        return _train(args)
    except (ConfigError, CheckpointError, SensorDataError, FileNotFoundError, FileExistsError, ValueError) as error:
        if getattr(args, "debug", False):
            raise
        print(f"perception train: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except TrainingDiverged as error:
        print(f"perception train: {error}", file=sys.stderr)
        return EXIT_DIVERGED


def _train(args: argparse.Namespace) -> int:
    import torch.distributed as dist

    from perception.config import load_config, save_config
    from perception.data import collate_frames
    from perception.model import FusionModel
    from perception.mtl.factory import make_strategy
    from perception.distributed import init_distributed
    from perception.train import Trainer, TrainerOptions, make_train_loader
    from perception.checkpoint import load_initial_weights
    from perception.train.data import SimulatedSamples, build_train_dataset
    from perception.distributed import shutdown_distributed
    from perception.train.rng import seed_everything

    if not args.config.is_file():
        raise FileNotFoundError(f"{args.config}: config file does not exist")
    config = _override(load_config(args.config), args)
    checkpoint = args.out / "checkpoints" / "last.pt"
    if args.resume and args.init is not None:
        raise ValueError("--init and --resume exclude each other (--resume already restores the weights)")
    if args.resume and not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: nothing to resume (no checkpoint in --out)")
    if not args.resume and checkpoint.exists():
        raise FileExistsError(f"{args.out}: already holds a run; pass --resume to continue it or choose another --out")
    options = TrainerOptions(
        schedule=args.schedule,
        max_bad_steps=args.max_bad_steps,
        diagnostics_every=args.diagnostics_every,
        progress=not args.no_progress,
    )
    ctx = init_distributed(args.device)
    try:
        # Model and strategy first: their errors show before any simulation.
        seed_everything(config.train.seed)
        model = FusionModel(config.model)
        if args.init is not None:
            report = load_initial_weights(args.init, model)
            if ctx.is_main:
                print(
                    f"initialised {len(report.loaded)} of {len(report.loaded) + len(report.fresh)} tensors from "
                    f"{args.init} ({len(report.fresh)} new, {len(report.unused)} of the checkpoint unused)",
                    file=sys.stderr,
                )
        strategy = make_strategy(config.train.strategy, model.tasks, **config.train.strategy_options)
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
        trainer = Trainer(model, strategy, loader, config, args.out, options=options, ctx=ctx)
        if args.resume:
            trainer.resume(checkpoint)
        elif ctx.is_main:
            save_config(config, args.out / "config.yaml")
        result = trainer.fit()
    finally:
        shutdown_distributed()
    if ctx.is_main:
        losses = ", ".join(f"{name} {value:.4f}" for name, value in result.last_losses.items())
        print(
            f"trained {result.steps} steps ({result.skipped_steps} skipped); last losses: {losses}; "
            f"checkpoint: {result.checkpoint}"
        )
    return 0
