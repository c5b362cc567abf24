"""Multi-task versus single-task training of the fusion model on simulated drives, same budget,
over several seeds, with the label-scarce and depth-transfer protocols and the cost side.

Usage::

    python benchmarks/mtl_experiment.py [--config configs/mtl_small.yaml] [--steps 1500] [--seeds 0,1,2]
        [--joint hard:equal,hard:uncertainty,task_decoders:equal] [--protocols full,scarce,depth]
        [--scarce-tasks detection,segmentation] [--fractions 0.1,0.25] [--out runs/mtl_experiment]
        [--val-frames 40] [--cabin-seconds 60] [--cache-dir DIR] [--device cpu|cuda] [--threads T]
        [--staged-steps N] [--rows 'single-*'] [--doc docs/experiments.md | --no-doc]

Every run trains ``--steps`` steps with the config's batch size and schedule and seed ``s`` for each
``--seeds`` entry (the training drives, the validation frames and the labelled subsets are the same
for every seed: the seed changes initialisation, sample order and modality dropout), on one sample
cache shared by every run. Rows (each trained once per seed, in ``<out>/<row>/seed<s>``):

* protocol ``full``: ``single-<task>``, one model per head (:func:`single_task_config`, hard
  sharing, plain training), and ``joint-<sharing>-<strategy>`` for each ``--joint`` entry
  (``model.sharing.kind`` and ``train.strategy``);
* with ``--staged-steps N`` (protocol ``full``), ``joint-<sharing>-<strategy>-staged<N>``: the
  first ``--joint`` variant trained by the staged recipe (:mod:`perception.train.staged`), one
  single-task stage of N steps per task (K heads), each from the previous stage's weights, then
  joint training for the remaining ``--steps - K N`` (same total steps as every run);
* protocol ``scarce`` (label-scarce; with the ``single-<task>`` rows, its baselines for the fully
  labelled tasks): for each task of ``--scarce-tasks`` and fraction ``f`` of
  ``--fractions``, the labels of that task are kept on ``f`` of the training frames
  (:func:`perception.train.data.labelled_subset`, seed 0, the same frames for every seed);
  ``scarce-<task>-<pct>-single`` trains the single-task model on the labelled frames only and
  ``scarce-<task>-<pct>-joint-<sharing>-<strategy>`` the first ``--joint`` variant on every frame
  with the other tasks fully labelled (:class:`perception.train.data.PartialLabels`);
* protocol ``depth``: camera-only detection (``use_lidar: false``) trained alone
  (``camera-detection``) and with the LiDAR-supervised depth head (``camera-detection+depth``).

Each checkpoint is evaluated on the first ``--val-frames`` frames of the simulated validation
drives (``perception evaluate --data sim`` through its Python API); the first joint variant of
the first seed also with the LiDAR input off (``camera-only``) and the street cameras off
(``lidar-only``). Task metrics: detection NDS (and mAP), BEV mIoU, depth AbsRel (per image; lower
is better), gaze-zone accuracy. Delta_m (Maninis et al. 2019, :func:`delta_m`) of a joint model is
computed per seed against the single-task models of the same seed, then averaged over seeds
(mean ± sample standard deviation). Cost: parameters, training seconds per step (wall time of
this machine's runs, shared CPU: indicative) and inference latency of one frame (median of
``--latency-iters`` forward passes in one process, the joint models against the four single-task
models run one after the other).

Resumable: a finished run (checkpoint at its last step) is not trained again, an unfinished one
continues from its checkpoint, and an evaluation whose ``metrics.json`` exists is read back; a run
folder trained for another number of steps is refused
(:func:`perception.checkpoint.trained_steps`).
Writes ``<out>/results.json`` (raw summaries, per-seed Delta_m, aggregates) and the tables into
the ``## Results`` section of ``docs/experiments.md``.
"""
from __future__ import annotations

import os

# Numba's default OpenMP layer busy-waits and fights torch's threads for the cores (docs/model.md).
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import argparse
import dataclasses
import fnmatch
import json
import math
import re
import shlex
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/kernels.py shadows the kernels package when this folder is on the path: put the root first instead
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from benchmarks.doc_sections import replace_section
from perception.config import Config, SharingConfig, sharing_from_spec
from sensors.atomic import atomic_write_text

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
#: Which single-task model each summary column of the composite single-task row comes from.
OWNER: dict[str, str] = {"nds": "detection", "map": "detection", "miou": "segmentation", "abs_rel": "depth",
                         "gaze_acc": "driver"}
MODES: tuple[str, ...] = ("fused", "camera-only", "lidar-only")
PROTOCOLS: tuple[str, ...] = ("full", "scarce", "depth")
#: Seed of the labelled subsets of the label-scarce protocol (the same frames for every training seed).
SUBSET_SEED = 0
RESULTS_SECTION = "## Results"


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


def with_heads(config: Config, tasks: Sequence[str], **model_changes: Any) -> Config:
    """``config`` with exactly the heads ``tasks`` enabled, hard sharing and ``model_changes``.

    Raises:
        ValueError: a task not in :data:`TASKS`; ConfigError: an invalid combination.
    """
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or not tasks:
        raise ValueError(f"unknown or no tasks {unknown or list(tasks)}; expected some of {TASKS}")
    from perception.config import validate

    model = config.model
    heads = dataclasses.replace(
        model.heads, **{t: dataclasses.replace(getattr(model.heads, t), enabled=(t in tasks)) for t in TASKS}
    )
    model = dataclasses.replace(model, heads=heads, sharing=SharingConfig(), **model_changes)
    out = dataclasses.replace(config, model=model)
    validate(out)
    return out


def single_task_config(config: Config, task: str) -> Config:
    """``config`` with only the head ``task`` enabled (hard sharing, every other setting kept).

    The driver head reads only the cabin image, so its model is built without the camera BEV
    branch (``use_camera: false``; the image encoder is still built for the cabin); the depth head
    needs no LiDAR (``use_lidar: false``). Detection and segmentation keep both modalities.

    Raises:
        ValueError: ``task`` is not one of :data:`TASKS`.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    changes = {"driver": {"use_camera": False, "use_lidar": True},
               "depth": {"use_camera": True, "use_lidar": False}}.get(task, {})
    return with_heads(config, (task,), **changes)


def joint_config(config: Config, sharing: str, strategy: str) -> Config:
    """``config`` with every head of it, the sharing of spec ``sharing`` (``<kind>[+adapters][+own_depth[+free_lift]]``,
    :func:`perception.config.sharing_from_spec`; other sharing settings kept) and ``strategy`` (its
    options kept only when the strategy is unchanged)."""
    options = config.train.strategy_options if strategy == config.train.strategy else {}
    model = dataclasses.replace(config.model, sharing=sharing_from_spec(sharing, config.model.sharing))
    return dataclasses.replace(config, model=model,
                               train=dataclasses.replace(config.train, strategy=strategy, strategy_options=options))


def row_selected(row: str, patterns: Sequence[str]) -> bool:
    """Whether ``row`` matches one of the shell patterns (``fnmatch``, e.g. ``single-*``)."""
    return any(fnmatch.fnmatchcase(row, pattern) for pattern in patterns)


def parse_joint(text: str) -> list[tuple[str, str]]:
    """``"hard:equal,soft+adapters:pcgrad"`` -> [("hard", "equal"), ("soft+adapters", "pcgrad")] (a
    bare name is a strategy with hard sharing).

    Raises:
        ValueError: empty list or unknown sharing kind.
    """
    variants = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        sharing, _, strategy = item.rpartition(":")
        sharing = sharing or "hard"
        try:
            sharing_from_spec(sharing)
        except ValueError as error:
            raise ValueError(f"--joint {item!r}: {error}") from None
        variants.append((sharing, strategy))
    if not variants:
        raise ValueError("--joint: no variant given")
    return variants


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of the grid.

    Attributes:
        row: table row (the run without its seed); the folder is ``<out>/<row>/seed<seed>``.
        seed: ``train.seed`` of the run.
        config: the run's configuration.
        scarce_task, fraction: label-scarce protocol: the task labelled on ``fraction`` of the frames.
        subset_only: train on the labelled frames only (the single-task baseline of the protocol).
        balanced: the joint model also sees its labelled frames repeated, with the scarce task's
            labels alone (:func:`oversampled_repeats`).
        stage_steps: the staged recipe (:func:`perception.train.staged.staged_recipe`): one
            single-task stage of this many steps per task, then joint training for the rest of the
            run's steps (same total as every other run).
    """

    row: str
    seed: int
    config: Config
    scarce_task: str | None = None
    fraction: float | None = None
    subset_only: bool = False
    balanced: bool = False
    stage_steps: int | None = None

    @property
    def folder(self) -> str:
        return f"{self.row}/seed{self.seed}"


def staged_row(sharing: str, strategy: str, stage_steps: int) -> str:
    """Row name of the staged recipe of a joint variant with ``stage_steps`` steps per stage."""
    return f"joint-{sharing}-{strategy}-staged{stage_steps}"


def pct(fraction: float) -> str:
    """0.1 -> '10pct' (row names)."""
    return f"{round(fraction * 100):d}pct"


def plan_runs(config: Config, joint: Sequence[tuple[str, str]], seeds: Sequence[int],
              protocols: Sequence[str] = ("full",), scarce_tasks: Sequence[str] = ("detection", "segmentation"),
              fractions: Sequence[float] = (0.1, 0.25), balanced: Sequence[float] = (),
              staged_steps: int | None = None) -> list[Run]:
    """Every run of the grid, seed-major (all rows of the first seed first, so that an interrupted
    grid has whole seeds), each row's config with ``train.seed`` set. For each fraction in
    ``balanced``, the scarce protocol adds a joint run whose labelled frames are oversampled
    (:func:`oversampled_repeats`). With ``staged_steps``, the full protocol adds the staged recipe
    of the first joint variant (row ``joint-<sharing>-<strategy>-staged<N>``): a single-task stage
    of ``staged_steps`` steps per task, then joint training for the rest of ``config.train.steps``.

    Raises:
        ValueError: an unknown protocol, no joint variant or no seed, ``staged_steps`` without the
            full protocol or that leave the joint run no step.
    """
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise ValueError(f"unknown protocols {unknown}; expected some of {PROTOCOLS}")
    if not joint or not seeds:
        raise ValueError("need at least one joint variant and one seed")
    if staged_steps is not None and "full" not in protocols:
        raise ValueError("--staged-steps: the staged row belongs to the full protocol (--protocols full,...)")
    tasks = enabled_tasks(config)
    rows: list[tuple[str, Config, dict[str, Any]]] = []
    if "full" in protocols or "scarce" in protocols:  # the fully labelled single-task models: baselines of both
        rows += [(f"single-{t}", single_task_config(config, t), {}) for t in tasks]
    if "full" in protocols:
        rows += [(f"joint-{sh}-{st}", joint_config(config, sh, st), {}) for sh, st in joint]
        if staged_steps is not None:
            if staged_steps < 1 or staged_steps * len(tasks) >= config.train.steps:
                raise ValueError(f"--staged-steps {staged_steps}: expected >= 1, with {len(tasks)} stages leaving "
                                 f"the joint run at least one of the {config.train.steps} steps")
            sh, st = joint[0]
            rows.append((staged_row(sh, st, staged_steps), joint_config(config, sh, st),
                         {"stage_steps": staged_steps}))
    if "scarce" in protocols:
        sh, st = joint[0]
        for task in scarce_tasks:
            for fraction in fractions:
                name = f"scarce-{task}-{pct(fraction)}"
                scarce = {"scarce_task": task, "fraction": fraction}
                rows.append((f"{name}-single", single_task_config(config, task), {**scarce, "subset_only": True}))
                rows.append((f"{name}-joint-{sh}-{st}", joint_config(config, sh, st), scarce))
                if fraction in balanced:
                    rows.append((f"{name}-joint-{sh}-{st}-balanced", joint_config(config, sh, st),
                                 {**scarce, "balanced": True}))
    if "depth" in protocols:
        rows.append(("camera-detection", with_heads(config, ("detection",), use_lidar=False), {}))
        rows.append(("camera-detection+depth", with_heads(config, ("detection", "depth"), use_lidar=False), {}))
    runs = []
    for seed in seeds:
        for row, cfg, extra in rows:
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed))
            runs.append(Run(row, seed, cfg, **extra))
    return runs


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



def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None, int]:
    """(mean, sample standard deviation, n) of the values that are not None; std None for n < 2."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return None, None, 0
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else None), len(xs)


def _cell(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _pm(values: Sequence[float | None], digits: int = 3) -> str:
    mean, std, _ = mean_std(values)
    if mean is None:
        return "–"
    return _cell(mean, digits) if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def t_test_p(values: Sequence[float | None]) -> float | None:
    """Two-sided p-value of the one-sample t-test of the per-seed values against 0 (n - 1 degrees
    of freedom; ``scipy.stats.ttest_1samp``); None for fewer than three values or no spread."""
    from scipy import stats

    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if len(xs) < 3 or statistics.stdev(xs) == 0:
        return None
    return float(stats.ttest_1samp(xs, 0.0).pvalue)


def _separated(values: Sequence[float | None]) -> str:
    """'yes' when |mean| exceeds the seed-to-seed standard deviation, 'no' otherwise, '–' when
    fewer than two values; with three or more, the t-test's p-value (:func:`t_test_p`) after it."""
    mean, std, _ = mean_std(values)
    if mean is None or std is None:
        return "–"
    p = t_test_p(values)
    return ("yes" if abs(mean) > std else "no") + ("" if p is None else f" (p {p:.2f})")


def composite_single(results: Mapping[str, Mapping[str, Any]], seed: int,
                     owners: Mapping[str, str] | None = None) -> dict[str, float | None]:
    """The single-task baseline row of one seed: each column from the run of its task
    (``owners``: task -> row, default ``single-<task>``)."""
    owners = dict(owners or {})
    row: dict[str, float | None] = {}
    for key, task in OWNER.items():
        run = results.get(f"{owners.get(task, f'single-{task}')}/seed{seed}", {}).get("fused")
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


def relative_change(value: float | None, reference: float | None, lower_is_better: bool) -> float | None:
    """Signed relative gain in percent (positive: better), None when undefined."""
    if value is None or reference is None or reference == 0:
        return None
    return (-1.0 if lower_is_better else 1.0) * (value - reference) / reference * 100.0


def _fused(results: Mapping[str, Mapping[str, Any]], row: str, seed: int) -> dict[str, Any] | None:
    return results.get(f"{row}/seed{seed}", {}).get("fused")


def full_table(results: Mapping[str, Mapping[str, Any]], joint_rows: Sequence[str], seeds: Sequence[int],
               tasks: Sequence[str]) -> tuple[str, dict[str, list[float | None]]]:
    """Markdown table of the full-label protocol (mean ± std over seeds) and the per-seed Delta_m
    of each joint row against the single-task models of the same seed."""
    header = "| model | seeds | " + " | ".join(h for _, h, _ in COLUMNS) + " | Δm% ↑ | Δm beyond seed spread |"
    lines = [header, "|---|---:|" + "---:|" * (len(COLUMNS) + 1) + "---|"]
    singles = {s: composite_single(results, s) for s in seeds}
    n = sum(all(v is not None for v in singles[s].values()) for s in seeds)
    lines.append("| single-task (one model per head) | " + f"{n} | "
                 + " | ".join(_pm([singles[s][k] for s in seeds]) for k, _, _ in COLUMNS) + " | 0 | – |")
    deltas: dict[str, list[float | None]] = {}
    for row in joint_rows:
        per_seed = [_fused(results, row, s) for s in seeds]
        if all(r is None for r in per_seed):
            continue
        deltas[row] = [None if r is None else delta_m_of(r, singles[s], tasks) for r, s in zip(per_seed, seeds)]
        cells = [_pm([None if r is None else r.get(k) for r in per_seed]) for k, _, _ in COLUMNS]
        staged = re.fullmatch(r"joint-(.+)-staged(\d+)", row)
        label = (staged.group(1) if staged else row.removeprefix("joint-")).replace("-", ", ", 1)
        label += f", staged ({staged.group(2)} steps per single-task stage first)" if staged else ""
        lines.append(f"| joint, {label} | {sum(r is not None for r in per_seed)} | " + " | ".join(cells)
                     + f" | {_pm(deltas[row], 2)} | {_separated(deltas[row])} |")
    return "\n".join(lines) + "\n", deltas


def modality_table(results: Mapping[str, Mapping[str, Any]], row: str, seed: int) -> str:
    """The first joint model with one input switched off at inference (BEV tasks only)."""
    runs = results.get(f"{row}/seed{seed}", {})
    lines = [f"| model (seed {seed}) | NDS ↑ | mAP ↑ | BEV mIoU ↑ |", "|---|---:|---:|---:|"]
    for mode in MODES:
        r = runs.get(mode)
        if r is not None:
            lines.append(f"| {row}, {mode} | {_cell(r.get('nds'))} | {_cell(r.get('map'))} | {_cell(r.get('miou'))} |")
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


def scarce_table(results: Mapping[str, Mapping[str, Any]], runs: Sequence[Run], seeds: Sequence[int],
                 tasks: Sequence[str]) -> tuple[str, dict[str, dict[str, list[float | None]]]]:
    """Markdown table of the label-scarce protocol: per labelled task and fraction, the task's
    metric of the single-task model on the labelled frames and of the joint model, the paired
    relative change of that metric, and the joint model's Delta_m against the single-task models
    trained on the same labels (the scarce one for that task, the fully labelled ones otherwise)."""
    header = ("| labels | model | seeds | task metric | Δ task % ↑ | beyond spread | Δm% ↑ | Δm beyond spread |")
    lines = [header, "|---|---|---:|---:|---:|---|---:|---|"]
    out: dict[str, dict[str, list[float | None]]] = {}
    seen: list[tuple[str, float, str, list[Run]]] = []
    for run in runs:
        if run.scarce_task is None or run.fraction is None or run.seed != seeds[0]:
            continue
        if run.subset_only:
            seen.append((run.scarce_task, run.fraction, run.row.rsplit("-single", 1)[0], []))
        else:
            seen[-1][3].append(run)
    for task, fraction, base, joint_runs in seen:
        key, lower = PRIMARY[task]
        single_row = f"{base}-single"
        single = [(_fused(results, single_row, s) or {}).get(key) for s in seeds]
        label = f"{task} on {round(fraction * 100)} %"
        lines.append(f"| {label} | single-task, labelled frames only | {sum(v is not None for v in single)} | "
                     f"{_pm(single)} | 0 | – | – | – |")
        for joint_run in joint_runs:
            joint_row = joint_run.row
            joint = [(_fused(results, joint_row, s) or {}).get(key) for s in seeds]
            change = [relative_change(j, r, lower) for j, r in zip(joint, single)]
            dms = []
            for s in seeds:
                row = _fused(results, joint_row, s)
                baseline = composite_single(results, s, {task: single_row})
                dms.append(None if row is None else delta_m_of(row, baseline, tasks))
            out[base + ("-balanced" if joint_run.balanced else "")] = {"task_change": change, "delta_m": dms}
            variant = joint_row.split("-joint-")[-1].removesuffix("-balanced").replace("-", ", ", 1)
            if joint_run.balanced:
                variant += ", labelled frames oversampled to half"
            lines.append(f"| {label} | joint, {variant} | {sum(v is not None for v in joint)} | "
                         f"{_pm(joint)} | {_pm(change, 1)} | {_separated(change)} | {_pm(dms, 2)} | {_separated(dms)} |")
    return "\n".join(lines) + "\n", out


def depth_table(results: Mapping[str, Mapping[str, Any]], seeds: Sequence[int]) -> tuple[str, list[float | None]]:
    """Camera-only detection alone against camera-only detection with the depth head."""
    alone = [_fused(results, "camera-detection", s) for s in seeds]
    joint = [_fused(results, "camera-detection+depth", s) for s in seeds]
    change = [None if a is None or j is None else relative_change(j.get("nds"), a.get("nds"), False)
              for a, j in zip(alone, joint)]
    lines = ["| camera-only model | seeds | NDS ↑ | mAP ↑ | depth AbsRel ↓ | Δ NDS % ↑ | beyond spread |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, rows, delta in (("detection alone", alone, None), ("detection + depth head", joint, change)):
        if all(r is None for r in rows):
            continue
        cells = [_pm([None if r is None else r.get(k) for r in rows]) for k in ("nds", "map", "abs_rel")]
        lines.append(f"| {name} | {sum(r is not None for r in rows)} | " + " | ".join(cells) + " | "
                     + ("0 | – |" if delta is None else f"{_pm(delta, 1)} | {_separated(delta)} |"))
    return "\n".join(lines) + "\n", change


def cost_table(costs: Mapping[str, Mapping[str, float | None]], singles: Sequence[str]) -> str:
    """Parameters, training seconds per step and inference latency: each joint model against the
    single-task models together (sum)."""
    lines = ["| model | parameters (M) | train s/step | inference ms/frame |", "|---|---:|---:|---:|"]
    have = [costs[s] for s in singles if s in costs]
    if have:
        def total(key: str) -> float | None:
            vals = [c.get(key) for c in have]
            return None if any(v is None for v in vals) or len(have) < len(singles) else sum(vals)  # type: ignore[misc]

        params = total("params")
        lines.append(f"| {len(have)} single-task models together | {_cell(params and params / 1e6, 2)} | "
                     f"{_cell(total('train_s_per_step'), 2)} | {_cell(total('latency_ms'), 0)} |")
    for row, c in costs.items():
        if row in singles:
            continue
        lines.append(f"| {row} | {_cell((c.get('params') or 0) / 1e6, 2)} | {_cell(c.get('train_s_per_step'), 2)} | "
                     f"{_cell(c.get('latency_ms'), 0)} |")
    return "\n".join(lines) + "\n"



# ----------------------------------------------------------------------------- training and evaluation


def run_dataset(run: Run, dataset: Any) -> Any:
    """The training data of ``run``: everything, the labelled frames only, or everything with the
    scarce task's labels on the labelled frames only."""
    if run.scarce_task is None or run.fraction is None:
        return dataset
    from torch.utils.data import ConcatDataset, Subset

    from perception.train.data import OnlyLabels, PartialLabels, labelled_subset

    labelled = labelled_subset(len(dataset), run.fraction, SUBSET_SEED)
    if run.subset_only:
        return Subset(dataset, labelled)
    partial = PartialLabels(dataset, run.scarce_task, labelled)
    if not run.balanced:
        return partial
    return ConcatDataset([partial, Subset(OnlyLabels(dataset, run.scarce_task), oversampled_repeats(len(dataset),
                                                                                                    labelled))])


def oversampled_repeats(size: int, labelled: Sequence[int]) -> list[int]:
    """The ``labelled`` frames of a dataset of ``size`` frames repeated so that, appended to one pass
    over every frame, the labelled samples (first pass and repeats) are about half of the epoch.
    The protocol's balanced joint run appends these repeats with the scarce task's labels alone
    (:class:`perception.train.data.OnlyLabels`), so the other tasks still see every frame once per
    epoch. With a batch of two, the scarce head then reads about one labelled frame per batch (the
    single-task model on the labelled frames reads two).

    Raises:
        ValueError: no labelled frame, or one outside ``[0, size)``.
    """
    if not labelled or any(not 0 <= i < size for i in labelled):
        raise ValueError(f"labelled frames must be a non-empty subset of [0, {size})")
    repeats = max(0, round((size - len(labelled)) / len(labelled)) - 1)
    return [i for _ in range(repeats) for i in labelled]


def train_run(config: Config, run_dir: Path, dataset: Any, device: str | None, progress: bool,
              init: Path | None = None, tasks: tuple[str, ...] | None = None) -> Path:
    """Train (or finish training) one run into ``run_dir``; returns its checkpoint.

    A checkpoint already at ``config.train.steps`` is kept as it is; an earlier one is resumed; a
    new run starts from the weights of ``init`` when given (``perception train --init``). ``tasks``:
    train only these heads (``TrainerOptions.tasks``; None: every head).
    The wall time and steps of each training segment are added to ``run_dir/train_time.json``.

    Raises:
        CheckpointError: ``run_dir`` holds a run planned for another number of steps
            (:func:`perception.checkpoint.trained_steps`).
    """
    from perception.checkpoint import load_initial_weights, trained_steps
    from perception.config import save_config
    from perception.data import collate_frames
    from perception.distributed import init_distributed
    from perception.model import FusionModel
    from perception.mtl import make_strategy
    from perception.train import Trainer, TrainerOptions, make_train_loader
    from perception.train.rng import seed_everything

    checkpoint = run_dir / "checkpoints" / "last.pt"
    done = trained_steps(checkpoint, config.train.steps)
    if done is not None and done >= config.train.steps:
        return checkpoint
    ctx = init_distributed(device)
    seed_everything(config.train.seed)
    model = FusionModel(config.model)
    trained = tuple(t for t in model.tasks if tasks is None or t in tasks)
    strategy = make_strategy(config.train.strategy, trained, **config.train.strategy_options)
    loader = make_train_loader(dataset, config.train.batch_size, ctx, config.train.seed,
                               collate_fn=collate_frames, num_workers=config.train.num_workers)
    if init is not None and not checkpoint.is_file():
        load_initial_weights(init, model)
    trainer = Trainer(model, strategy, loader, config, run_dir,
                      options=TrainerOptions(progress=progress, diagnostics_every=50, tasks=tasks), ctx=ctx)
    if checkpoint.is_file():
        trainer.resume(checkpoint)
    else:
        save_config(config, run_dir / "config.yaml")
    start_step, start = trainer.step, time.perf_counter()
    trainer.fit()
    timing_path = run_dir / "train_time.json"
    timing = json.loads(timing_path.read_text()) if timing_path.is_file() else {"seconds": 0.0, "steps": 0}
    timing = {"seconds": timing["seconds"] + time.perf_counter() - start, "steps": timing["steps"] + trainer.step - start_step}
    atomic_write_text(timing_path, json.dumps(timing) + "\n")
    return checkpoint


def train_staged_run(run: Run, run_dir: Path, dataset: Any, device: str | None, progress: bool) -> Path:
    """Train (or finish) the staged recipe of ``run``: its stages in ``run_dir/stages/<stage>/``,
    each from the previous stage's checkpoint, the joint run in ``run_dir`` itself; returns the joint
    checkpoint. Each part is resumed or skipped as :func:`train_run` does (and raises as it does).
    Every part restarts the sample order from ``train.seed`` and has its own warm-up and cosine
    schedule, as ``perception train --staged`` runs them."""
    from perception.train.staged import enabled_stage_order, staged_recipe

    assert run.stage_steps is not None
    order = enabled_stage_order(run.config)
    stages = staged_recipe(run.config, order, run.stage_steps, run.config.train.steps - run.stage_steps * len(order))
    init = None
    for stage in stages:
        folder = run_dir if stage.tasks is None else run_dir / "stages" / stage.name
        init = train_run(stage.config, folder, dataset, device, progress, init=init, tasks=stage.tasks)
    assert init is not None
    return init


def evaluate_run(checkpoint: Path, out_dir: Path, mode: str, val_frames: int, cabin_seconds: float,
                 device: str | None) -> dict[str, float | None]:
    """Evaluate a checkpoint on the simulated validation frames with the input ``mode``; the
    summary is read back from ``out_dir/metrics.json`` when it exists."""
    metrics_path = out_dir / "metrics.json"
    if not metrics_path.is_file():
        import torch

        from perception.inference.modality import drop_sensor
        from perception.inference.pipeline import EvalOptions, evaluate_model
        from perception.inference.sources import open_eval_source
        from perception.model import load_model

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


def measure_costs(runs: Sequence[Run], out: Path, dataset: Any, iters: int, device: str | None) -> dict[str, dict[str, float | None]]:
    """Parameters, training seconds per step (from ``train_time.json``) and the median inference
    latency (ms, batch of one cached training frame, ``iters`` timed forward passes after one
    warm-up, eval mode) of each row of the full protocol at its first seed, in this process."""
    import torch

    from perception.data import collate_frames
    from perception.data.batch import move_to
    from perception.model import FusionModel

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    batch = move_to(collate_frames([dataset[0]]), dev)
    costs: dict[str, dict[str, float | None]] = {}
    for run in runs:
        if run.row in costs or not (run.row.startswith("single-") or run.row.startswith("joint-")):
            continue
        # a staged run's stages keep their own train_time.json under its folder
        parts = [json.loads(path.read_text()) for path in sorted((out / run.folder).rglob("train_time.json"))]
        timing = {"seconds": sum(p["seconds"] for p in parts), "steps": sum(p["steps"] for p in parts)} if parts else None
        model = FusionModel(run.config.model).to(dev).eval()
        times = []
        with torch.inference_mode():
            for i in range(iters + 1):
                start = time.perf_counter()
                model(batch)
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                if i:
                    times.append(time.perf_counter() - start)
        costs[run.row] = {
            "params": float(sum(p.numel() for p in model.parameters())),
            "train_s_per_step": timing["seconds"] / timing["steps"] if timing and timing["steps"] else None,
            "latency_ms": statistics.median(times) * 1000.0,
        }
    return costs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "mtl_small.yaml")
    parser.add_argument("--steps", type=int, default=1500, help="optimisation steps of every run (default 1500)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (default 0,1,2)")
    parser.add_argument("--joint", default="hard:equal,hard:uncertainty,task_decoders:equal,cross_stitch:equal,"
                        "soft:equal,routing:equal",
                        help="comma-separated joint variants sharing:strategy, the sharing "
                             "<kind>[+adapters][+own_depth[+free_lift]]; the first one also runs the "
                             "label-scarce protocol and the modality ablation")
    parser.add_argument("--protocols", default="full,scarce,depth", help="comma-separated: full, scarce, depth")
    parser.add_argument("--scarce-tasks", default="detection,segmentation",
                        help="tasks labelled on a fraction of the frames (protocol scarce)")
    parser.add_argument("--fractions", default="0.1,0.25", help="labelled fractions (protocol scarce)")
    parser.add_argument("--scarce-balanced", nargs="?", const="all", default="",
                        help="protocol scarce: also a joint run that sees its labelled frames repeated (with that "
                             "task's labels alone) until labelled samples are about half of every epoch; for the "
                             "comma-separated fractions given (no value: every --fractions entry)")
    parser.add_argument("--staged-steps", type=int, metavar="N",
                        help="protocol full: also the staged recipe of the first --joint variant (row "
                             "joint-<sharing>-<strategy>-staged<N>): a single-task stage of N steps per head "
                             "(depth, segmentation, detection, driver), each from the previous weights, then "
                             "joint training for the rest of --steps")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "mtl_experiment")
    parser.add_argument("--val-frames", type=int, default=40, help="simulated validation frames scored (default 40)")
    parser.add_argument("--cabin-seconds", type=float, default=60.0,
                        help="seconds of simulated cabin stream added to the driver scoring (default 60)")
    parser.add_argument("--latency-iters", type=int, default=5, help="timed forward passes per model (default 5)")
    parser.add_argument("--cache-dir", type=Path, help="simulated-sample cache shared by the runs (default <out>/data_cache)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "experiments.md", help="markdown file for the tables")
    parser.add_argument("--no-doc", action="store_true", help="do not write the tables into --doc")
    parser.add_argument("--section", default=RESULTS_SECTION,
                        help=f"the '## ' section of --doc the tables replace (default {RESULTS_SECTION!r}; e.g. "
                             "'## Confirmation at the tiny config' for a second grid)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1; 0: torch's default). On a shared CPU, several OpenMP "
                             "threads waiting for a descheduled sibling slow training many-fold (docs/benchmarks.md)")
    parser.add_argument("--report-only", action="store_true",
                        help="train and evaluate nothing: tabulate the runs whose evaluation exists (a partial grid "
                             "while another invocation is still running)")
    parser.add_argument("--rows", default="*",
                        help="comma-separated shell patterns of the rows this invocation trains and evaluates "
                             "(default every row); the others are tabulated where their evaluation exists, so "
                             "invocations with disjoint --rows (e.g. '*single*,camera-*' and '*joint*') can share "
                             "one --out and run at once")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from perception.checkpoint import CheckpointError
    from perception.config import ConfigError, load_config
    from perception.train.data import SimulatedSamples, build_train_dataset

    try:
        joint = parse_joint(args.joint)
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
        scarce_tasks = [t.strip() for t in args.scarce_tasks.split(",") if t.strip()]
        fractions = [float(f) for f in args.fractions.split(",") if f.strip()]
        balanced = fractions if args.scarce_balanced == "all" else [
            float(f) for f in args.scarce_balanced.split(",") if f.strip()]
        rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    except ValueError as error:
        parser.error(str(error))
    if not args.section.startswith("## "):
        parser.error(f"--section {args.section!r}: must be a '## ' heading")
    if not seeds or args.steps < 1 or args.val_frames < 1:
        parser.error("need at least one seed, --steps >= 1 and --val-frames >= 1")
    if not set(balanced) <= set(fractions):
        parser.error(f"--scarce-balanced {args.scarce_balanced}: each fraction must be one of --fractions")
    if any(not 0 < f <= 1 for f in fractions) or any(t not in TASKS for t in scarce_tasks):
        parser.error(f"--fractions must be in (0, 1] and --scarce-tasks among {TASKS}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        base = load_config(args.config)
    except ConfigError as error:
        parser.error(str(error))
    base = dataclasses.replace(base, train=dataclasses.replace(base.train, steps=args.steps))
    if base.data.dataset != "sim":
        parser.error(f"{args.config}: data.dataset must be 'sim' (the experiment uses simulated drives)")
    tasks = enabled_tasks(base)
    try:
        runs = plan_runs(base, joint, seeds, protocols, scarce_tasks, fractions, balanced, args.staged_steps)
    except ValueError as error:
        parser.error(str(error))
    dataset = build_train_dataset(base, "sim", args.cache_dir or args.out / "data_cache")
    assert isinstance(dataset, SimulatedSamples)
    dataset.prepare(progress=not args.no_progress)

    first_joint = f"joint-{joint[0][0]}-{joint[0][1]}"
    results: dict[str, dict[str, dict[str, float | None]]] = {}
    for run in runs:
        if args.report_only or not row_selected(run.row, rows):
            evals = {mode: args.out / run.folder / "eval" / mode / "metrics.json" for mode in MODES}
            found = {mode: summarize_metrics(json.loads(path.read_text())) for mode, path in evals.items() if path.is_file()}
            if "fused" in found:
                results[run.folder] = found
            continue
        staged = "" if run.stage_steps is None else f", staged: {run.stage_steps} steps per single-task stage first"
        print(f"[{run.folder}] training {args.steps} steps ({run.config.model.sharing.kind}, "
              f"{run.config.train.strategy}, heads {enabled_tasks(run.config)}{staged})", file=sys.stderr)
        run_dir = args.out / run.folder
        try:
            if run.stage_steps is None:
                checkpoint = train_run(run.config, run_dir, run_dataset(run, dataset), args.device,
                                       not args.no_progress)
            else:
                checkpoint = train_staged_run(run, run_dir, run_dataset(run, dataset), args.device,
                                              not args.no_progress)
        except CheckpointError as error:
            parser.error(str(error))
        modes = MODES if run.row == first_joint and run.seed == seeds[0] and "full" in protocols else ("fused",)
        results[run.folder] = {}
        for mode in modes:
            print(f"[{run.folder}] evaluating ({mode})", file=sys.stderr)
            results[run.folder][mode] = evaluate_run(checkpoint, run_dir / "eval" / mode, mode, args.val_frames,
                                                     args.cabin_seconds, args.device)
    done = [r for r in runs if r.folder in results]
    costs = measure_costs(done, args.out, dataset, args.latency_iters, args.device) if "full" in protocols else {}

    joint_rows = [f"joint-{sh}-{st}" for sh, st in joint] + sorted({r.row for r in runs if r.stage_steps is not None})
    sections = []
    summary: dict[str, Any] = {
        "meta": {"config": str(args.config), "steps": args.steps, "seeds": seeds, "batch_size": base.train.batch_size,
                 "val_frames": args.val_frames, "cabin_seconds": args.cabin_seconds, "joint": args.joint,
                 "protocols": protocols, "scarce_tasks": scarce_tasks, "fractions": fractions,
                 "scarce_balanced": balanced, "staged_steps": args.staged_steps, "threads": args.threads,
                 "tasks": list(tasks),
                 "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")},
        "runs": results,
        "costs": costs,
    }
    if "full" in protocols:
        table, deltas = full_table(results, joint_rows, seeds, tasks)
        summary["delta_m"] = deltas
        sections.append("### All labels\n\n" + table + "\nSingle-task row: each column from the model trained "
                        "for that head alone (mean ± sample std over seeds). Δm% per seed against the "
                        "single-task models of the same seed (NDS, mIoU, AbsRel with its sign flipped, gaze "
                        "accuracy); 'beyond seed spread': |mean Δm| larger than its std; p: two-sided one-sample t-test "
                        "of the per-seed Δm against 0 (three seeds or more).\n")
        modality = modality_table(results, first_joint, seeds[0])
        if modality:
            sections.append("### Inputs switched off at inference\n\n" + modality)
        sections.append("### Cost\n\n" + cost_table(costs, [f"single-{t}" for t in tasks])
                        + "\nParameters of the built model; train s/step: wall time of this machine's runs "
                        "(first seed; a shared CPU, so indicative only); inference: median forward pass of one "
                        "frame, all models measured in one process after the grid.\n")
    if "scarce" in protocols:
        table, scarce = scarce_table(results, runs, seeds, tasks)
        summary["scarce"] = scarce
        sections.append("### Scarce labels\n\n" + table + "\nTask metric: the labelled task's (NDS or mIoU); "
                        "Δ task %: the joint model against the single-task model trained on the labelled frames "
                        "only, paired by seed; Δm% against the single-task models trained on the same labels; 'beyond "
                        "spread': |mean| larger than its std (p: one-sample t-test against 0, three seeds or more).\n")
    if "depth" in protocols:
        table, change = depth_table(results, seeds)
        summary["depth_transfer"] = change
        sections.append("### Camera-only detection with the LiDAR-supervised depth head\n\n" + table)
    atomic_write_text(args.out / "results.json", json.dumps(summary, indent=2, allow_nan=False, default=str) + "\n")
    text_out = "\n".join(sections)
    print(text_out)
    if not args.no_doc:
        doc = args.doc
        text = doc.read_text() if doc.exists() else "# Experiments\n"
        given = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--report-only"]
        command = "python benchmarks/mtl_experiment.py " + shlex.join(given)
        partial = "" if len(done) == len(runs) else f" Partial grid: {len(done)} of {len(runs)} runs finished."
        body = (f"Measured {summary['meta']['date']} with `{command.strip()}` ({args.steps} steps per run, batch "
                f"{base.train.batch_size}, seeds {', '.join(map(str, seeds))}, {args.val_frames} validation frames). "
                f"Raw numbers: `{args.out / 'results.json'}`.{partial}\n\n{text_out}")
        atomic_write_text(doc, replace_section(text, f"{args.section}\n\n{body.strip()}\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
