"""BEV mIoU of a checkpoint on simulated validation frames against two map ground truths: the map
every dataset now gives (the simulator's map expansion drawn with the nuScenes devkit's rules: what
``perception evaluate --data sim``, a nuScenes root written by the simulator and real nuScenes
score) and the painted bands sampled at cell centres (dividers 0.5 m wide), which was the
simulator's map ground truth when the shipped checkpoint was trained. The same predictions are
scored twice; only the ground truth differs.

    .venv/bin/python -m benchmarks.map_ground_truth [--frames 20] [--checkpoint perception/checkpoints/tiny.pt]
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import torch

from perception.inference.pipeline import EvalOptions, evaluate_model
from perception.inference.sources import SIM, EvalSource, open_eval_source
from perception.model import load_model
from sensors.classes import MAP_CLASSES
from sensors.frame import BevGrid, BevMap
from sensors.sim.drive import drive_simulator
from sensors.sim.town import Town, ground_grid

REPO = Path(__file__).resolve().parents[1]


def painted_bands(town: Town, ego_to_global: np.ndarray, grid: BevGrid) -> BevMap:
    """The analytic map classes of :func:`sensors.sim.town.ground_at` at the cell centres."""
    xs, ys = grid.cell_centers()
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    wx = ego_to_global[0, 0] * gx + ego_to_global[0, 1] * gy + ego_to_global[0, 3]
    wy = ego_to_global[1, 0] * gx + ego_to_global[1, 1] * gy + ego_to_global[1, 3]
    bits = ground_grid(town, wx, wy)[1].reshape(gx.shape)
    return BevMap((bits[None] >> np.arange(len(MAP_CLASSES), dtype=np.uint8)[:, None, None]) & 1 > 0, grid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--checkpoint", type=Path, default=REPO / "perception" / "checkpoints" / "tiny.pt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, config = load_model(args.checkpoint)
    drives = open_eval_source(SIM, "val", config, max_samples=args.frames).frames
    frames = [drives[i] for i in range(len(drives))]
    towns = [drive_simulator(drives.sim_config, drives.first_seed + d, drives.frames_per_scene, drives.scene_names[d]).town
             for d in range((len(frames) - 1) // drives.frames_per_scene + 1)]
    painted = [
        dataclasses.replace(f, annotations=dataclasses.replace(
            f.annotations, bev_map=painted_bands(towns[i // drives.frames_per_scene], f.ego_to_global,
                                                 f.annotations.bev_map.grid)))
        for i, f in enumerate(frames)
    ]
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, chosen in (("map (devkit rules; every dataset)", frames), ("painted bands at cell centres", painted)):
            outcome = evaluate_model(model, config, EvalSource(SIM, chosen, None, "val"),
                                     EvalOptions(Path(folder) / name[:3], samples_to_draw=0, cabin_seconds=0))
            rows[name] = outcome.metrics["bev_segmentation"]
    classes = list(next(iter(rows.values()))["iou"])
    print("| ground truth | mIoU | " + " | ".join(classes) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in classes) + " |")
    for name, seg in rows.items():
        print(f"| {name} | {seg['miou']:.3f} | " + " | ".join(f"{seg['iou'][c]:.3f}" for c in classes) + " |")


if __name__ == "__main__":
    main()
