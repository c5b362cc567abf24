"""Benchmark: our nuScenes detection evaluation against the official nuscenes-devkit DetectionEval.

Builds a synthetic nuScenes database (v1.0-mini tables, the two mini_val scenes made long) and
a jittered prediction file, runs both evaluators on the same files, checks that every metric is
equal (1e-6) and prints the speed ratio (process CPU time, best of several runs). With ``--write-docs`` the table replaces the
``## Evaluation`` section of ``docs/benchmarks.md``.

End to end means, on each side, from the files to the metrics, nothing cached between runs:

- devkit: ``NuScenes(version, root)`` (all tables + its reverse index), ``DetectionEval(...)``
  (``load_prediction``, ``load_gt``, ``add_center_dist``, ``filter_eval_boxes``) and ``evaluate()``
  (``accumulate``, AP, TP errors);
- ours: ``load_ground_truth`` (the tables it needs), ``read_submission`` and ``evaluate_detection``
  (filter, match, AP, TP errors).

The main submission is standard JSON, as a model's is; a second one holds NaN velocities (Python's
non-standard ``NaN`` literal, which our reader decodes with the slower ``json`` fallback).

    .venv/bin/python benchmarks/eval.py --write-docs
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "evaluation"))

from nuscenes_eval_db import jittered_predictions, make_database, val_sample_tokens

from benchmarks.doc_sections import write_section
from evaluation.nuscenes_det.evaluate import evaluate_detection
from evaluation.nuscenes_det.ground_truth import load_ground_truth
from evaluation.nuscenes_det.submission import read_submission, write_submission
from sensors.classes import DETECTION_CLASSES


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeats):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def _check_equal(ours, reference) -> float:
    """Largest absolute difference over mAP, NDS, every AP and every TP error (NaN must match NaN)."""
    pairs = [(ours.mean_ap, reference.mean_ap), (ours.nd_score, reference.nd_score)]
    for c in DETECTION_CLASSES:
        pairs += [(ours.label_aps[c][t], reference.get_label_ap(c, t)) for t in (0.5, 1.0, 2.0, 4.0)]
        pairs += [(v, reference.get_label_tp(c, m)) for m, v in ours.label_tp_errors[c].items()]
    worst = 0.0
    for a, b in pairs:
        if math.isnan(a) or math.isnan(b):
            if not (math.isnan(a) and math.isnan(b)):
                raise AssertionError(f"NaN mismatch: ours {a}, devkit {b}")
            continue
        worst = max(worst, abs(a - b))
    if worst > 1e-6:
        raise AssertionError(f"results differ from the devkit by {worst}")
    return worst



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples-per-scene", type=int, default=150, help="samples in each of the 2 val scenes")
    parser.add_argument("--instances-per-scene", type=int, default=200, help="object tracks per scene")
    parser.add_argument("--repeats", type=int, default=5, help="our runs (the best is kept)")
    parser.add_argument("--devkit-repeats", type=int, default=2, help="devkit runs (the best is kept)")
    parser.add_argument("--write-docs", action="store_true", help="update the Evaluation section of docs/benchmarks.md")
    args = parser.parse_args()

    from nuscenes import NuScenes
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.detection.evaluate import DetectionEval

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        anns = make_database(root, args.samples_per_scene, args.instances_per_scene, seed=0)
        tokens = val_sample_tokens(root)
        results_path, nan_path = root / "results.json", root / "results_nan_velocity.json"
        write_submission(results_path, jittered_predictions(anns, tokens, seed=1, false_positives=8, nan_velocity=0.0))
        write_submission(nan_path, jittered_predictions(anns, tokens, seed=1, false_positives=8, nan_velocity=0.05))

        def ours_full(path: Path):
            gt = load_ground_truth(root, "v1.0-mini", "mini_val")
            predictions, _ = read_submission(path, gt.sample_tokens)
            return gt, predictions, evaluate_detection(gt, predictions)

        # The first call in the process: what a one-shot command line pays.
        ours_first_s, _ = _best(lambda: ours_full(results_path), 1)
        ours_full_s, (gt, predictions, ours) = _best(lambda: ours_full(results_path), args.repeats)
        ours_nan_s, (_, _, ours_nan) = _best(lambda: ours_full(nan_path), args.repeats)
        ours_gt_s, _ = _best(lambda: load_ground_truth(root, "v1.0-mini", "mini_val"), args.repeats)
        ours_sub_s, _ = _best(lambda: read_submission(results_path, gt.sample_tokens), args.repeats)
        ours_core_s, _ = _best(lambda: evaluate_detection(gt, predictions), args.repeats)
        json_s, _ = _best(lambda: [json.loads(p.read_text()) for p in [results_path, *root.glob("v1.0-mini/*.json")]],
                          args.repeats)

        def devkit_full(path: Path):
            start = time.process_time()
            nusc = NuScenes("v1.0-mini", str(root), verbose=False)
            tables_s = time.process_time() - start
            evaluator = DetectionEval(nusc, config_factory("detection_cvpr_2019"), str(path), "mini_val",
                                      str(root / "devkit_out"), verbose=False)
            core_start = time.process_time()
            metrics, _ = evaluator.evaluate()
            end = time.process_time()
            return end - core_start, end - start, metrics, tables_s, core_start - start - tables_s

        runs = [devkit_full(results_path) for _ in range(args.devkit_repeats)]
        nan_runs = [devkit_full(nan_path) for _ in range(args.devkit_repeats)]
        devkit_core_s = min(r[0] for r in runs)
        devkit_full_s = min(r[1] for r in runs)
        devkit_tables_s = min(r[3] for r in runs)
        devkit_init_s = min(r[4] for r in runs)
        devkit_nan_s = min(r[1] for r in nan_runs)
        worst = max(_check_equal(ours, runs[-1][2]), _check_equal(ours_nan, nan_runs[-1][2]))

    table = (
        f"nuScenes detection metric (`detection_cvpr_2019`) on a synthetic mini_val: {len(gt.sample_tokens)} samples, "
        f"{len(gt.boxes)} ground-truth boxes, {len(predictions)} predictions. Results equal to nuscenes-devkit 1.2.0 "
        f"(largest difference {worst:.1e}). Command: `.venv/bin/python benchmarks/eval.py "
        f"--samples-per-scene {args.samples_per_scene} --instances-per-scene {args.instances_per_scene} --write-docs`; "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}; process CPU time "
        f"(`time.process_time`, steadier than wall time on a shared machine), best of {args.repeats} runs for ours, "
        f"of {args.devkit_repeats} for the devkit, same files, nothing kept between runs.\n\n"
        "End to end = from the files to the metrics. Devkit: `NuScenes(...)` (all tables + reverse index), "
        "`DetectionEval(...)` (`load_prediction`, `load_gt`, `add_center_dist`, `filter_eval_boxes`), `evaluate()`. "
        "Ours: `load_ground_truth` (only the tables and fields it needs, decoded typed with msgspec), "
        "`read_submission`, `evaluate_detection` (filter, match, AP, TP errors). The submission is standard JSON, "
        "as a model writes it; a second one with 5% NaN velocities (Python's non-standard `NaN` literal, "
        "which our reader decodes through the slower `json` fallback) is timed too.\n\n"
        "| stage | devkit (s) | ours (s) | speed-up |\n|---|---|---|---|\n"
        f"| **end to end**: load tables + submission, filter, evaluate | {devkit_full_s:.2f} | {ours_full_s:.3f} | "
        f"**{devkit_full_s / ours_full_s:.1f}x** |\n"
        f"| end to end, submission with NaN velocities | {devkit_nan_s:.2f} | {ours_nan_s:.3f} | "
        f"{devkit_nan_s / ours_nan_s:.1f}x |\n"
        f"| end to end, first call in the process | – | {ours_first_s:.3f} | "
        f"{devkit_full_s / ours_first_s:.1f}x |\n"
        "| stages (they split the work differently, so no ratio) | | | |\n"
        f"| devkit `NuScenes(...)`; ours `load_ground_truth` (tables and GT boxes) | {devkit_tables_s:.2f} | "
        f"{ours_gt_s:.3f} | |\n"
        f"| devkit `DetectionEval(...)` (submission, GT boxes, filter); ours `read_submission` | {devkit_init_s:.2f} | "
        f"{ours_sub_s:.3f} | |\n"
        f"| devkit `evaluate()`; ours `evaluate_detection` (filter, match, curves, AP, TP errors) | "
        f"{devkit_core_s:.2f} | {ours_core_s:.3f} | |\n\n"
        f"For scale: decoding the same JSON files into dicts with Python's `json` takes {json_s:.2f} s.\n"
    )
    print(table)
    if args.write_docs:
        write_section(REPO / "docs" / "benchmarks.md", "## Evaluation\n\n" + table)


if __name__ == "__main__":
    main()
