"""Benchmark: our nuScenes detection evaluation against the official nuscenes-devkit DetectionEval.

Builds a synthetic nuScenes database (v1.0-mini tables, the two mini_val scenes made long) and
a jittered prediction file, runs both evaluators on the same files, checks that every metric is
equal (1e-6) and prints the speed ratio (process CPU time, best of several runs). With ``--write-docs`` the table replaces the
``## Evaluation`` section of ``docs/benchmarks.md``.

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

from nuscenes_eval_db import jittered_predictions, make_database, val_sample_tokens  # noqa: E402

from evaluation.files import atomic_write  # noqa: E402
from evaluation.nuscenes_det.evaluate import evaluate_detection  # noqa: E402
from evaluation.nuscenes_det.ground_truth import load_ground_truth  # noqa: E402
from evaluation.nuscenes_det.submission import read_submission, write_submission  # noqa: E402
from sensors.classes import DETECTION_CLASSES  # noqa: E402


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


def _write_docs(table: str) -> None:
    path = REPO / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = "## Evaluation\n\n" + table
    start = text.find("## Evaluation\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    atomic_write(path, lambda f: f.write(text))


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
        results_path = root / "results.json"
        write_submission(results_path, jittered_predictions(anns, tokens, seed=1, false_positives=8))

        # Warm-up: numba compiles (or loads its cache) once per process.
        evaluate_detection(load_ground_truth(root, "v1.0-mini", "mini_val"),
                           read_submission(results_path, tokens)[0])

        def ours_full():
            gt = load_ground_truth(root, "v1.0-mini", "mini_val")
            predictions, _ = read_submission(results_path, gt.sample_tokens)
            return gt, predictions, evaluate_detection(gt, predictions)

        ours_full_s, (gt, predictions, _) = _best(ours_full, args.repeats)
        json_s, _ = _best(lambda: [json.loads(p.read_text()) for p in [results_path, *root.glob("v1.0-mini/*.json")]],
                          args.repeats)
        ours_core_s, ours = _best(lambda: evaluate_detection(gt, predictions), args.repeats)

        def devkit_full():
            start = time.process_time()
            nusc = NuScenes("v1.0-mini", str(root), verbose=False)
            evaluator = DetectionEval(nusc, config_factory("detection_cvpr_2019"), str(results_path), "mini_val",
                                      str(root / "devkit_out"), verbose=False)
            core_start = time.process_time()
            metrics, _ = evaluator.evaluate()
            return time.process_time() - core_start, time.process_time() - start, metrics

        runs = [devkit_full() for _ in range(args.devkit_repeats)]
        devkit_core_s = min(r[0] for r in runs)
        devkit_full_s = min(r[1] for r in runs)
        reference = runs[-1][2]
        worst = _check_equal(ours, reference)

    table = (
        f"nuScenes detection metric (`detection_cvpr_2019`) on a synthetic mini_val: {len(gt.sample_tokens)} samples, "
        f"{len(gt.boxes)} ground-truth boxes, {len(predictions)} predictions. Results equal to nuscenes-devkit 1.2.0 "
        f"(largest difference {worst:.1e}). Command: `.venv/bin/python benchmarks/eval.py "
        f"--samples-per-scene {args.samples_per_scene} --instances-per-scene {args.instances_per_scene} --write-docs`; "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}; process CPU time (`time.process_time`, steadier than wall time on a shared machine), best of "
        f"{args.repeats} runs for ours (after the numba warm-up), of {args.devkit_repeats} for the devkit.\n\n"
        "| stage | devkit (s) | ours (s) | speed-up |\n|---|---|---|---|\n"
        f"| load tables + submission, filter, evaluate | {devkit_full_s:.2f} | {ours_full_s:.3f} | "
        f"{devkit_full_s / ours_full_s:.1f}x |\n"
        f"| of which decoding the JSON files with Python `json` (both evaluators do it) | {json_s:.2f} | "
        f"{json_s:.2f} | – |\n"
        f"| evaluate only (matching, curves, AP, TP errors) | {devkit_core_s:.2f} | {ours_core_s:.3f} | "
        f"{devkit_core_s / ours_core_s:.1f}x |\n"
    )
    print(table)
    if args.write_docs:
        _write_docs(table)


if __name__ == "__main__":
    main()
