"""Run by ``torchrun`` from test_train_ddp.py: train the toy model on this rank's part of each batch.

Usage: ``torchrun --nproc_per_node 2 ddp_worker.py OUT_DIR STRATEGY [STRATEGY ...]``. Rank 0 writes
``OUT_DIR/<strategy>.pt`` with the final model state dict.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from train_toy import make_trainer, toy_config

from perception.distributed import init_distributed, shutdown_distributed

PER_RANK_BATCH = 4
STEPS = 4


def main(out_dir: Path, strategies: list[str]) -> None:
    torch.set_num_threads(1)
    ctx = init_distributed("cpu")
    try:
        for name in strategies:
            config = toy_config(steps=STEPS, batch_size=PER_RANK_BATCH, strategy=name, checkpoint_every=0)
            trainer = make_trainer(out_dir / name, config, dropout=0.0, ctx=ctx, diagnostics_every=2)
            trainer.fit()
            if ctx.is_main:
                torch.save(trainer.model.state_dict(), out_dir / f"{name}.pt")
        shutdown_distributed(barrier=True)
    finally:
        shutdown_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
