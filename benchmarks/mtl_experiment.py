"""Multi-task versus single-task training of the fusion model on simulated drives, same budget.

Usage::

    python benchmarks/mtl_experiment.py [--config configs/tiny.yaml] [--steps 1500] [--out runs/mtl_experiment]
        [--strategies equal,uncertainty,famo,pcgrad] [--val-frames 40] [--cabin-seconds 60]
        [--cache-dir DIR] [--device cpu|cuda] [--threads T] [--doc docs/experiments.md | --no-doc]

Runs, each for ``--steps`` steps with the config's seed, batch size and schedule, on the same
simulated training drives (one sample cache shared by every run: the model input tensors do not
depend on which heads are on):

* ``single-<task>``: one model per head, the config with only that head enabled
  (:func:`single_task_config`; the equal strategy, which for one task is plain training);
* ``joint-<strategy>``: all heads of the config, one run per ``--strategies`` entry;

then each checkpoint is evaluated on the first ``--val-frames`` frames of the simulated validation
drives (``perception evaluate --data sim`` through its Python API), and the first strategy's joint
model also with the LiDAR input switched off (``camera-only``) and with the street cameras switched
off (``lidar-only``) at inference. Task metrics: detection NDS (and mAP), BEV mIoU, depth AbsRel
(per image; lower is better), gaze-zone accuracy. Delta_m (Maninis et al. 2019) of each joint model
is the mean over tasks of ``(-1)^l_i (M_mt,i - M_st,i) / M_st,i * 100`` against the single-task
models (:func:`delta_m`).

Resumable: a finished run (checkpoint at ``--steps``) is not trained again, an unfinished one
continues from its checkpoint, and an evaluation whose ``metrics.json`` exists is read back.
Writes ``<out>/results.json`` (raw summaries and Delta_m) and the table into the ``## Results``
section of ``docs/experiments.md``.
"""
from __future__ import annotations

import os

# Numba's default OpenMP layer busy-waits and fights torch's threads for the cores (docs/model.md).
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from collections.abc import Mapping, Sequence  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/kernels.py shadows the kernels package when this folder is on the path: put the root first instead
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from perception.config import Config  # noqa: E402
from sensors.atomic import atomic_write_text  # noqa: E402

TASKS: tuple[str, ...] = ("detection", "segmentation", "depth", "driver")
#: The task metric of each head used for Delta_m: (key in the run summary, lower is better).
PRIMARY: dict[str, tuple[str, bool]] = {
    "detection": ("nds", False),
    "segmentation": ("miou", False),
    "depth": ("abs_rel", True),
    "driver": ("gaze_acc", False),
}
#: Summary columns: (key, header, lower is better).
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("nds", "NDS ↑", False),
    ("map", "mAP ↑", False),
    ("miou", "BEV mIoU ↑", False),
    ("abs_rel", "depth AbsRel ↓", True),
    ("gaze_acc", "gaze acc ↑", False),
)
MODES: tuple[str, ...] = ("fused", "camera-only", "lidar-only")
RESULTS_SECTION = "## Results"
TABLE_NOTE = (
    "Single-task row: each column from the model trained for that head alone. Δm% over NDS, mIoU, AbsRel "
    "(sign flipped: lower is better) and gaze accuracy against that row; – where a metric is missing or a "
    "single-task value is 0 (relative change undefined). Modality rows: the first joint model with one input "
    "switched off at inference; only the BEV tasks are shown (depth needs the cameras, the driver head reads "
    "only the cabin camera).\n"
)


# ----------------------------------------------------------------------------- pure parts


def delta_m(multi: Mapping[str, float], single: Mapping[str, float], lower_is_better: Mapping[str, bool]) -> float:
    """Average relative gain in percent of a multi-task model over single-task baselines.

    Maninis et al. 2019: ``mean_i (-1)^l_i (M_mt,i - M_st,i) / M_st,i * 100`` with ``l_i = 1``
    when lower is better for task i. Positive means the multi-task model is better on average.

    Args:
        multi, single: metric value per task (same keys as ``lower_is_better``).
        lower_is_better: per task, True when a lower metric is better (errors such as AbsRel).

    Raises:
        ValueError: no task, a missing or non-finite value, or a zero baseline.
    """
    if not lower_is_better:
        raise ValueError("delta_m: no task given")
    gains = []
    for task, lower in lower_is_better.items():
        if task not in multi or task not in single:
            raise ValueError(f"delta_m: task {task!r} has no {'multi-task' if task not in multi else 'single-task'} value")
        mt, st = float(multi[task]), float(single[task])
        if not (math.isfinite(mt) and math.isfinite(st)):
            raise ValueError(f"delta_m: task {task!r} has a non-finite value (multi {mt}, single {st})")
        if st == 0.0:
            raise ValueError(f"delta_m: task {task!r} has a zero single-task baseline (relative change undefined)")
        sign = -1.0 if lower else 1.0
        gains.append(sign * (mt - st) / st * 100.0)
    return sum(gains) / len(gains)


def enabled_tasks(config: Config) -> tuple[str, ...]:
    """Heads switched on in ``config``, in :data:`TASKS` order."""
    return tuple(t for t in TASKS if getattr(config.model.heads, t).enabled)


def single_task_config(config: Config, task: str) -> Config:
    """``config`` with only the head ``task`` enabled (every other setting kept).

    The driver head reads only the cabin image, so its model is built without the camera BEV
    branch (``use_camera: false``; the image encoder is still built for the cabin); the depth head
    needs no LiDAR (``use_lidar: false``). Detection and segmentation keep both modalities.

    Raises:
        ValueError: ``task`` is not one of :data:`TASKS`.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    from perception.config import validate

    model = config.model
    heads = dataclasses.replace(
        model.heads, **{t: dataclasses.replace(getattr(model.heads, t), enabled=(t == task)) for t in TASKS}
    )
    model = dataclasses.replace(model, heads=heads)
    if task == "driver":
        model = dataclasses.replace(model, use_camera=False, use_lidar=True)
    elif task == "depth":
        model = dataclasses.replace(model, use_camera=True, use_lidar=False)
    out = dataclasses.replace(config, model=model)
    validate(out)
    return out


def joint_config(config: Config, strategy: str) -> Config:
    """``config`` trained with ``strategy`` (its options kept only when the strategy is unchanged)."""
    options = config.train.strategy_options if strategy == config.train.strategy else {}
    return dataclasses.replace(config, train=dataclasses.replace(config.train, strategy=strategy, strategy_options=options))


def summarize_metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """The experiment's numbers from an evaluation's ``metrics.json`` (None where not scored)."""
    det = metrics.get("nuscenes_detection") or {}
    seg = metrics.get("bev_segmentation") or {}
    depth = (metrics.get("depth") or {}).get("per_image") or {}
    gaze = ((metrics.get("driver") or {}).get("frames") or {}).get("gaze") or {}
    return {
        "nds": det.get("nd_score"),
        "map": det.get("mean_ap"),
        "miou": seg.get("miou"),
        "abs_rel": depth.get("abs_rel"),
        "gaze_acc": gaze.get("accuracy"),
    }


def single_task_baseline(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, float | None]:
    """Composite row of the single-task models: each column from the model of its task."""
    owner = {"nds": "detection", "map": "detection", "miou": "segmentation", "abs_rel": "depth", "gaze_acc": "driver"}
    row: dict[str, float | None] = {}
    for key, task in owner.items():
        run = results.get(f"single-{task}", {}).get("fused")
        row[key] = None if run is None else run.get(key)
    return row


def delta_m_of(row: Mapping[str, float | None], baseline: Mapping[str, float | None], tasks: Sequence[str]) -> float | None:
    """Delta_m of a summary row over ``tasks`` (primary metrics), None when a value is missing."""
    keys = {t: PRIMARY[t] for t in tasks}
    multi = {t: row.get(k) for t, (k, _) in keys.items()}
    single = {t: baseline.get(k) for t, (k, _) in keys.items()}
    if any(v is None for v in (*multi.values(), *single.values())):
        return None
    try:
        return delta_m(multi, single, {t: lower for t, (_, lower) in keys.items()})  # type: ignore[arg-type]
    except ValueError:
        return None


def _cell(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def results_table(results: Mapping[str, Mapping[str, Mapping[str, Any]]], strategies: Sequence[str],
                  tasks: Sequence[str]) -> str:
    """Markdown table: single-task models, joint models per strategy, modality ablations."""
    baseline = single_task_baseline(results)
    header = "| model | " + " | ".join(h for _, h, _ in COLUMNS) + " | Δm% ↑ |"
    lines = [header, "|---|" + "---:|" * (len(COLUMNS) + 1)]
    lines.append("| single-task (one model per head) | " + " | ".join(_cell(baseline[k]) for k, _, _ in COLUMNS) + " | 0 |")
    for strategy in strategies:
        row = results.get(f"joint-{strategy}", {}).get("fused")
        if row is None:
            continue
        dm = delta_m_of(row, baseline, tasks)
        lines.append(f"| joint, {strategy} | " + " | ".join(_cell(row[k]) for k, _, _ in COLUMNS)
                     + f" | {_cell(dm, 2)} |")
    first = results.get(f"joint-{strategies[0]}", {}) if strategies else {}
    for mode, shown in (("camera-only", ("nds", "map", "miou")), ("lidar-only", ("nds", "map", "miou"))):
        row = first.get(mode)
        if row is None:
            continue
        lines.append(f"| joint, {strategies[0]}, {mode} at inference | "
                     + " | ".join(_cell(row[k]) if k in shown else "–" for k, _, _ in COLUMNS) + " | – |")
    return "\n".join(lines) + "\n"


def replace_section(text: str, title: str, body: str) -> str:
    """``text`` with the markdown section ``title`` (``## ...``) replaced by ``title`` + ``body``
    (appended when missing); the other sections are kept."""
    block = f"{title}\n\n{body.strip()}\n"
    start = text.find(f"\n{title}\n")
    if start < 0:
        return text.rstrip("\n") + "\n\n" + block
    start += 1
    end = text.find("\n## ", start + 1)
    return text[:start] + block + ("" if end < 0 else "\n" + text[end + 1:])


# ----------------------------------------------------------------------------- training and evaluation


def train_run(config: Config, run_dir: Path, dataset: Any, device: str | None, progress: bool) -> Path:
    """Train (or finish training) one run into ``run_dir``; returns its checkpoint.

    A checkpoint already at ``config.train.steps`` is kept as it is; an earlier one is resumed.
    """
    from perception.config import save_config
    from perception.data import collate_frames
    from perception.model import FusionModel
    from perception.mtl import make_strategy
    from perception.checkpoint import load_checkpoint
    from perception.distributed import init_distributed
    from perception.train import Trainer, TrainerOptions, make_train_loader
    from perception.train.rng import seed_everything

    checkpoint = run_dir / "checkpoints" / "last.pt"
    if checkpoint.is_file() and int(load_checkpoint(checkpoint)["step"]) >= config.train.steps:
        return checkpoint
    ctx = init_distributed(device)
    seed_everything(config.train.seed)
    model = FusionModel(config.model)
    strategy = make_strategy(config.train.strategy, model.tasks, **config.train.strategy_options)
    loader = make_train_loader(dataset, config.train.batch_size, ctx, config.train.seed,
                               collate_fn=collate_frames, num_workers=config.train.num_workers)
    trainer = Trainer(model, strategy, loader, config, run_dir,
                      options=TrainerOptions(progress=progress, diagnostics_every=50), ctx=ctx)
    if checkpoint.is_file():
        trainer.resume(checkpoint)
    else:
        save_config(config, run_dir / "config.yaml")
    trainer.fit()
    return checkpoint


def evaluate_run(checkpoint: Path, out_dir: Path, mode: str, val_frames: int, cabin_seconds: float,
                 device: str | None) -> dict[str, float | None]:
    """Evaluate a checkpoint on the simulated validation frames with the input ``mode``; the
    summary is read back from ``out_dir/metrics.json`` when it exists."""
    metrics_path = out_dir / "metrics.json"
    if not metrics_path.is_file():
        import torch

        from perception.inference import EvalOptions, evaluate_model, load_model, open_eval_source
        from perception.inference.modality import drop_sensor

        dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        model, config = load_model(checkpoint, None, dev)
        dropped = {"camera-only": "lidar", "lidar-only": "camera"}.get(mode)
        handle = drop_sensor(model, dropped) if dropped is not None else None
        try:
            source = open_eval_source("sim", "val", config, val_frames)
            options = EvalOptions(out_dir, batch_size=1, samples_to_draw=0, cabin_seconds=cabin_seconds)
            evaluate_model(model, config, source, options, dev)
        finally:
            if handle is not None:
                handle.remove()
    # without cameras the model makes no depth prediction, so the summary has no AbsRel
    return summarize_metrics(json.loads(metrics_path.read_text()))


def plan_runs(config: Config, strategies: Sequence[str]) -> dict[str, Config]:
    """Run name -> config: one single-task run per enabled head, one joint run per strategy."""
    runs = {f"single-{t}": single_task_config(config, t) for t in enabled_tasks(config)}
    runs.update({f"joint-{s}": joint_config(config, s) for s in strategies})
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "tiny.yaml")
    parser.add_argument("--steps", type=int, default=1500, help="optimisation steps of every run (default 1500)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "mtl_experiment")
    parser.add_argument("--strategies", default="equal,uncertainty,famo,pcgrad",
                        help="comma-separated joint-training strategies; the first one also gets the modality ablation")
    parser.add_argument("--val-frames", type=int, default=40, help="simulated validation frames scored (default 40)")
    parser.add_argument("--cabin-seconds", type=float, default=60.0,
                        help="seconds of simulated cabin stream added to the driver scoring (default 60)")
    parser.add_argument("--cache-dir", type=Path, help="simulated-sample cache shared by the runs (default <out>/data_cache)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "experiments.md", help="markdown file for the table")
    parser.add_argument("--no-doc", action="store_true", help="do not write the table into --doc")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1; 0: torch's default). On a shared CPU, several OpenMP "
                             "threads waiting for a descheduled sibling slow training many-fold (docs/benchmarks.md)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from perception.config import load_config
    from perception.train.data import SimulatedSamples, build_train_dataset

    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not strategies or args.steps < 1 or args.val_frames < 1:
        parser.error("need at least one strategy, --steps >= 1 and --val-frames >= 1")
    base = load_config(args.config)
    base = dataclasses.replace(base, train=dataclasses.replace(base.train, steps=args.steps))
    if base.data.dataset != "sim":
        parser.error(f"{args.config}: data.dataset must be 'sim' (the experiment uses simulated drives)")
    tasks = enabled_tasks(base)
    runs = plan_runs(base, strategies)
    dataset = build_train_dataset(base, "sim", args.cache_dir or args.out / "data_cache")
    assert isinstance(dataset, SimulatedSamples)
    dataset.prepare(progress=not args.no_progress)

    results: dict[str, dict[str, dict[str, float | None]]] = {}
    for name, config in runs.items():
        print(f"[{name}] training {args.steps} steps ({config.train.strategy}, heads {enabled_tasks(config)})",
              file=sys.stderr)
        checkpoint = train_run(config, args.out / name, dataset, args.device, not args.no_progress)
        modes = MODES if name == f"joint-{strategies[0]}" else ("fused",)
        results[name] = {}
        for mode in modes:
            print(f"[{name}] evaluating ({mode})", file=sys.stderr)
            results[name][mode] = evaluate_run(checkpoint, args.out / name / "eval" / mode, mode, args.val_frames,
                                               args.cabin_seconds, args.device)
    baseline = single_task_baseline(results)
    summary = {
        "meta": {"config": str(args.config), "steps": args.steps, "seed": base.train.seed,
                 "batch_size": base.train.batch_size, "val_frames": args.val_frames,
                 "cabin_seconds": args.cabin_seconds, "strategies": strategies, "threads": args.threads, "tasks": list(tasks),
                 "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")},
        "runs": results,
        "single_task": baseline,
        "delta_m": {s: delta_m_of(results[f"joint-{s}"]["fused"], baseline, tasks) for s in strategies},
    }
    atomic_write_text(args.out / "results.json", json.dumps(summary, indent=2, allow_nan=False, default=str) + "\n")
    table = results_table(results, strategies, tasks)
    print(table)
    if not args.no_doc:
        doc = args.doc
        text = doc.read_text() if doc.exists() else "# Experiments\n"
        command = "python benchmarks/mtl_experiment.py " + " ".join(argv if argv is not None else sys.argv[1:])
        body = (f"Measured {summary['meta']['date']} with `{command.strip()}` ({args.steps} steps per run, batch "
                f"{base.train.batch_size}, seed {base.train.seed}, {args.val_frames} validation frames). Raw numbers: "
                f"`{args.out / 'results.json'}`.\n\n{table}\n{TABLE_NOTE}")
        atomic_write_text(doc, replace_section(text, RESULTS_SECTION, body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
