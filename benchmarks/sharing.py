"""Parameters, inference latency and training-step time of every BEV sharing architecture
(``model.sharing.kind``, perception/model/sharing.py; ``<kind>+adapters`` adds the image adapters of
perception/model/adapters.py, ``+own_depth`` the depth head's own depth distribution), as ratios against ``hard`` measured in the
same run.

Usage::

    python benchmarks/sharing.py [--config configs/tiny.yaml] [--iters 10] [--warmup 2] [--threads 1]
                                 [--kinds hard,task_decoders,cross_stitch,sluice,soft,routing,hard+adapters,hard+own_depth]
                                 [--write-docs]

One process builds the fusion model of the config once per kind (random weights, seed 0, every
head on) and feeds it the first frame of the config's simulated validation drive:

* **Parameters**: all of the model, and those of its BEV backbone (the part the kinds change).
* **Inference latency** (``model.eval()``, ``torch.inference_mode``, batch of 1): ``--warmup``
  untimed passes per model, then ``--iters`` rounds, each timing one forward pass of every kind in
  turn (interleaved, so that load changes on a shared CPU hit every kind alike); median and 90th
  percentile of the wall time (``time.perf_counter``). Preprocessing and decoding are the same for
  every kind and are not included.
* **Training step** (batch of 2 copies of the frame's training sample, ``model.train()``):
  forward, losses, the sharing regulariser, backward of the summed loss and an AdamW step,
  interleaved in the same way; median wall time.

``--write-docs`` replaces the ``### <config>, cpu`` subsection of the ``## Sharing architectures``
section of docs/benchmarks.md.
"""
from __future__ import annotations

import os

# Numba's default OpenMP layer busy-waits and fights torch's threads for the cores (docs/model.md).
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import argparse
import dataclasses
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/kernels.py shadows the kernels package when this folder is on the path: put the root first instead
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from perception.config import SHARING_KINDS, sharing_from_spec
from sensors.atomic import atomic_write_text

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Sharing architectures"


def interleaved_times(steps: dict[str, Callable[[], None]], iters: int, warmup: int) -> dict[str, list[float]]:
    """Wall time (s) of ``iters`` calls of each step, one call of every step per round, after
    ``warmup`` untimed calls of each."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(iters):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return times


def ratio(value: float, reference: float) -> str:
    """``value / reference`` formatted ``x.xx×``."""
    return f"{value / reference:.2f}×"


def format_section(config_name: str, rows: dict[str, dict[str, float]], meta: dict[str, Any]) -> str:
    """The ``### <config>, cpu`` subsection: one row per kind, ratios against ``hard``."""
    ref = rows["hard"]
    lines = [
        f"### {config_name}, cpu",
        "",
        f"Measured {meta['date']} with `{meta['command']}` ({meta['machine']}, {meta['threads']} torch thread(s), "
        f"{meta['iters']} interleaved rounds after {meta['warmup']} warm-up passes; random weights).",
        "",
        "| sharing | parameters (M) | × hard | BEV backbone (M) | inference ms (median / p90) | × hard "
        "| training step ms (median) | × hard |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in rows.items():
        lines.append(
            f"| `{kind}` | {r['params'] / 1e6:.2f} | {ratio(r['params'], ref['params'])} | {r['bev_params'] / 1e6:.2f} | "
            f"{r['latency_ms']:.0f} / {r['latency_p90_ms']:.0f} | {ratio(r['latency_ms'], ref['latency_ms'])} | "
            f"{r['train_ms']:.0f} | {ratio(r['train_ms'], ref['train_ms'])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "tiny.yaml")
    parser.add_argument("--kinds", default=",".join([*SHARING_KINDS, "hard+adapters", "hard+own_depth"]),
                        help="comma-separated sharing specs <kind>[+adapters][+own_depth[+free_lift]] (hard first)")
    parser.add_argument("--iters", type=int, default=10, help="timed rounds (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed passes per model first (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1; 0: torch's default)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    try:
        for kind in kinds:
            sharing_from_spec(kind)
    except ValueError as error:
        parser.error(f"--kinds: {error}")
    if not kinds or kinds[0] != "hard":
        parser.error("--kinds: start with hard (the reference of the ratios)")
    if args.iters < 1 or args.warmup < 0:
        parser.error("--iters must be >= 1 and --warmup >= 0")

    import torch

    from perception.config import load_config
    from perception.data import (
        collate_frames,
        collate_inputs,
        frame_to_inputs,
        frame_to_sample,
    )
    from perception.inference.sources import open_eval_source
    from perception.model import FusionModel
    from perception.train.rng import seed_everything

    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_config(args.config)
    frame = open_eval_source("sim", "val", config, max_samples=1).frames[0]
    inputs = collate_inputs([frame_to_inputs(frame, config.model)])
    sample = frame_to_sample(frame, config.model)
    batch = collate_frames([sample, sample])

    models: dict[str, Any] = {}
    optimizers: dict[str, Any] = {}
    for kind in kinds:
        seed_everything(0)
        sharing = sharing_from_spec(kind, config.model.sharing)
        models[kind] = FusionModel(dataclasses.replace(config.model, sharing=sharing))
        optimizers[kind] = torch.optim.AdamW(models[kind].parameters(), lr=1e-4)

    def infer(model: Any) -> Callable[[], None]:
        def step() -> None:
            model.eval()
            with torch.inference_mode():
                model(inputs)
        return step

    def train(model: Any, optimizer: Any) -> Callable[[], None]:
        def step() -> None:
            model.train()
            out = model(batch)
            losses = model.losses(out, batch)
            total = sum(v.per_sample[v.present].mean() for v in losses.values() if bool(v.present.any()))
            reg = model.regularization(out)
            if reg is not None:
                total = total + reg
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
        return step

    latency = interleaved_times({k: infer(m) for k, m in models.items()}, args.iters, args.warmup)
    training = interleaved_times({k: train(m, optimizers[k]) for k, m in models.items()}, args.iters, args.warmup)
    rows: dict[str, dict[str, float]] = {}
    for kind, model in models.items():
        rows[kind] = {
            "params": float(sum(p.numel() for p in model.parameters())),
            "bev_params": float(sum(p.numel() for p in model.bev_backbone.parameters())),
            "latency_ms": statistics.median(latency[kind]) * 1e3,
            "latency_p90_ms": float(np.percentile(latency[kind], 90)) * 1e3,
            "train_ms": statistics.median(training[kind]) * 1e3,
        }
    command = "python benchmarks/sharing.py " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "iters": args.iters,
        "warmup": args.warmup,
    }
    section = format_section(args.config.stem, rows, meta)
    print(section)
    if args.write_docs:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from model import (
            replace_subsection,  # benchmarks/model.py: one markdown-subsection rule for both
        )

        text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
        atomic_write_text(DOC, replace_subsection(text, SECTION, section))
    return 0


if __name__ == "__main__":
    sys.exit(main())
