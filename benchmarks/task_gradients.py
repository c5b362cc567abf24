"""Which task drives which part of the shared trunk: the L2 norm of each task's loss gradient on
each shared part of a trained model, averaged over a few training batches.

Usage::

    python benchmarks/task_gradients.py CHECKPOINT [CHECKPOINT ...] [--batches 4] [--cache-dir DIR]

For each checkpoint (a run of ``benchmarks/mtl_experiment.py``, a ``perception train`` run or the
shipped model), in training mode (batch statistics, modality dropout as in training, seeded per
batch): the first ``--batches`` pairs of the config's simulated training samples, the model's
per-task losses (``FusionModel.losses``, each the mean over the samples that have it) and, for each
task, ``torch.autograd.grad`` of that loss alone on the parameters of each shared part (image
encoder with the view transform's image adapter, view transform, LiDAR encoder, fuser and BEV
backbone less the per-task parts of ``model.sharing``; the depth head's adapter is the depth
task's own), averaged over the batches in which the task is present. Prints one markdown table per checkpoint: part x task, the gradient
norm and its share of the part's summed norms.

With Adam, a shared parameter's update follows the sum of the task gradients reaching it, so a task
whose gradient is a small share of a part's barely shapes that part, whatever the cosines say
(``shared_grad_norm/<task>`` in ``train_log.csv`` is the same quantity over all shared parameters
together, docs/mtl.md).
"""
from __future__ import annotations

import os

# Numba's default OpenMP layer busy-waits and fights torch's threads for the cores (docs/model.md).
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/kernels.py shadows the kernels package when this folder is on the path: put the root first instead
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import torch

from perception.model import FusionModel


def gradient_norms(model: FusionModel, batches: Sequence) -> dict[str, dict[str, float]]:
    """Part -> task -> mean of the L2 norm of the task loss's gradient on that part over the
    ``batches`` in which the task has a sample (a task in none of them is left out)."""
    parts = model.shared_parts()
    flat = [p for params in parts.values() for p in params]
    sums: dict[str, dict[str, float]] = {part: {} for part in parts}
    counts: dict[str, int] = {}
    model.train()
    for index, batch in enumerate(batches):
        torch.manual_seed(index)
        outputs = model(batch)
        for task, task_loss in model.losses(outputs, batch).items():
            present = task_loss.present.to(task_loss.per_sample.dtype)
            if not bool(present.any()):
                continue
            loss = (task_loss.per_sample * present).sum() / present.sum()
            grads = torch.autograd.grad(loss, flat, retain_graph=True, allow_unused=True)
            counts[task] = counts.get(task, 0) + 1
            start = 0
            for part, params in parts.items():
                squares = sum(float((g.float() ** 2).sum()) for g in grads[start:start + len(params)] if g is not None)
                start += len(params)
                sums[part][task] = sums[part].get(task, 0.0) + squares ** 0.5
    return {part: {task: total / counts[task] for task, total in by_task.items()} for part, by_task in sums.items()}


def table(norms: dict[str, dict[str, float]], tasks: Sequence[str]) -> str:
    """Markdown: one row per part, per task the norm and its share of the row's sum."""
    lines = ["| shared part | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for part, by_task in norms.items():
        total = sum(by_task.values()) or 1.0
        cells = [f"{by_task[t]:.3f} ({100 * by_task[t] / total:.0f} %)" if t in by_task else "–" for t in tasks]
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--batches", type=int, default=4, help="training batches of 2 samples averaged (default 4)")
    parser.add_argument("--cache-dir", type=Path, help="simulated-sample cache (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error("--batches must be >= 1")
    import tempfile

    from perception.checkpoint import CheckpointError
    from perception.data import collate_frames
    from perception.model import load_model
    from perception.train.data import build_train_dataset

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        for path in args.checkpoints:
            try:
                model, config = load_model(path, None, torch.device("cpu"))
            except (CheckpointError, ValueError, OSError) as error:
                parser.exit(2, f"{parser.prog}: error: {error}\n")
            dataset = build_train_dataset(config, "sim", args.cache_dir or Path(scratch) / "cache")
            dataset.prepare(progress=False)
            count = min(args.batches, len(dataset) // 2)
            batches = [collate_frames([dataset[2 * i], dataset[2 * i + 1]]) for i in range(count)]
            print(f"### {path}\n\nMean L2 norm of each task's loss gradient on each shared part over {count} "
                  f"training batches of 2 (share of the part's sum in parentheses):\n")
            print(table(gradient_norms(model, batches), model.tasks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
