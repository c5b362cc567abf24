"""BEV mIoU of a checkpoint on simulated validation frames against two map ground truths: the
simulator's own analytic map (what ``perception evaluate --data sim`` scores) and the same towns'
map expansion rasterized like the nuScenes devkit (what a nuScenes root written by the simulator,
or real nuScenes, gives). The same predictions are scored twice; only the ground truth differs.

    .venv/bin/python -m benchmarks.map_ground_truth [--frames 20] [--checkpoint perception/checkpoints/tiny.pt]
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import torch

from perception.inference import (
    EvalOptions,
    evaluate_model,
    load_model,
    open_eval_source,
)
from perception.inference.sources import SIM, EvalSource
from sensors.nuscenes.map_expansion import MapRasterizer, write_map_expansion

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--checkpoint", type=Path, default=REPO / "perception" / "checkpoints" / "tiny.pt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, config = load_model(args.checkpoint)
    drives = open_eval_source(SIM, "val", config, max_samples=args.frames).frames
    frames = [drives[i] for i in range(len(drives))]
    with tempfile.TemporaryDirectory() as folder:
        rasterizers = []
        for scene, geometry in drives.maps().items():
            root = Path(folder) / scene
            write_map_expansion(root, "boston-seaport", geometry)
            rasterizers.append(MapRasterizer.from_root(root, "boston-seaport"))
        expansion = [
            dataclasses.replace(f, annotations=dataclasses.replace(
                f.annotations, bev_map=rasterizers[i // drives.frames_per_scene].rasterize(f.ego_to_global)))
            for i, f in enumerate(frames)
        ]
        rows = {}
        for name, chosen in (("simulator map", frames), ("map expansion", expansion)):
            outcome = evaluate_model(model, config, EvalSource(SIM, chosen, None, "val"),
                                     EvalOptions(Path(folder) / name, samples_to_draw=0, cabin_seconds=0))
            rows[name] = outcome.metrics["bev_segmentation"]
    classes = list(rows["simulator map"]["iou"])
    print("| ground truth | mIoU | " + " | ".join(classes) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in classes) + " |")
    for name, seg in rows.items():
        print(f"| {name} | {seg['miou']:.3f} | " + " | ".join(f"{seg['iou'][c]:.3f}" for c in classes) + " |")


if __name__ == "__main__":
    main()
