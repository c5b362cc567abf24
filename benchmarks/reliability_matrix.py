"""The bad-input matrix of ``docs/reliability.md``: run every case and count what the user gets.

Usage::

    python benchmarks/reliability_matrix.py [--write-docs] [--only SUBSTRING]

Each case builds a small bad input in a temporary folder (a file of the wrong layout, an output
path that cannot be written, an interrupt or a full disk injected where it happens) and runs it
either as a command line (``perception.cli.main`` in this process, stderr captured) or as a direct
call of the reader it concerns. The outcome is classified:

* ``one-line error``: the CLI exits 2 (130 for Ctrl-C) with one line on stderr, or the reader
  raises a ``SensorDataError``/``ValueError``/``OSError`` whose message is one line;
* ``handled``: the documented graceful behaviour (parsed, rebuilt, replaced, no detections...);
* ``traceback``: any other exception, a message on several lines, or the wrong exit status;
* ``accepted silently``: bad input read without a word (an error was expected);
* ``half-written``: after a failure, a partial output or a temporary file is left behind.

The target is zero of the last three. ``--write-docs`` rewrites the table between the markers
of ``docs/reliability.md`` (atomically). The whole run takes about a minute on one core.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import io
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch

import sensors.sim
from perception.cli import error_line, main
from perception.demo import SHIPPED_CHECKPOINT
from sensors.atomic import atomic_write_text
from sensors.errors import SensorDataError

DOC = REPO / "docs" / "reliability.md"
START, END = "<!-- matrix:start -->", "<!-- matrix:end -->"
TINY = REPO / "configs" / "tiny.yaml"
SIM_ARGS = ["--frames", "2", "--size", "90x160", "--no-progress"]
ERROR, HANDLED = "one-line error", "handled"
BAD = ("traceback", "accepted silently", "half-written")

#: Calibration of a real KITTI object frame (image 1242x375).
P2 = ("7.215377e+02 0 6.095593e+02 4.485728e+01 0 7.215377e+02 1.728540e+02 2.163791e-01 0 0 1 2.745884e-03")
R0 = "9.999239e-01 9.837760e-03 -7.445048e-03 -9.869795e-03 9.999421e-01 -4.278459e-03 7.402527e-03 4.351614e-03 9.999631e-01"
TR = ("7.533745e-03 -9.999714e-01 -6.166020e-04 -4.069766e-03 1.480249e-02 7.280733e-04 -9.998902e-01 -7.631618e-02 "
      "9.998621e-01 7.523790e-03 1.480755e-02 -2.717806e-01")
CAR = "Car 0.00 0 -1.57 599.41 156.40 629.75 189.25 1.73 1.87 4.36 -0.16 1.68 19.32 -1.57"


@dataclass
class Result:
    kind: str
    case: str
    outcome: str
    detail: str


@dataclass
class Case:
    """One bad input: ``run(folder)`` returns (outcome, what the user sees)."""

    kind: str
    name: str
    run: Callable[[Path], tuple[str, str]]


CASES: list[Case] = []


def case(kind: str, name: str) -> Callable[[Callable[[Path], tuple[str, str]]], Callable[[Path], tuple[str, str]]]:
    def register(run: Callable[[Path], tuple[str, str]]) -> Callable[[Path], tuple[str, str]]:
        CASES.append(Case(kind, name, run))
        return run
    return register


# -- how a case is run and judged ---------------------------------------------------------------------
def leftovers(folder: Path, allowed: set[str]) -> list[str]:
    """Paths under ``folder`` (relative) other than ``allowed``: partial outputs and temporaries."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if str(p.relative_to(folder)) not in allowed)


def cli(folder: Path, argv: list[str], expect: str = ERROR, keep: set[str] | None = None,
        before: Callable[[], None] | None = None) -> tuple[str, str]:
    """Run ``perception`` in-process; judge exit status, stderr and what is left in ``folder``."""
    existing = {str(p.relative_to(folder)) for p in folder.rglob("*")}
    stderr, stdout = io.StringIO(), io.StringIO()
    try:
        if before is not None:
            before()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            code = main(argv)
    except BaseException as error:  # noqa: BLE001 - a traceback is what the matrix counts
        return "traceback", f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
    lines = stderr.getvalue().strip().splitlines()
    message = lines[-1] if lines else ""
    if expect == HANDLED:
        return (HANDLED, stdout.getvalue().strip().splitlines()[-1] if code == 0 else message) if code == 0 else (
            "traceback", f"exit {code}: {message}")
    if code not in (2, 130) or len(lines) != 1:
        return "traceback", f"exit {code}, {len(lines)} lines: {message[:200]}"
    left = leftovers(folder, existing | (keep or set()))
    if left:
        return "half-written", f"{message} -- left: {', '.join(left[:4])}"
    return ERROR, f"exit {code}: {message}"


def quiet(argv: list[str]) -> None:
    """Run a command that prepares a case (its output is not judged)."""
    with contextlib.redirect_stdout(io.StringIO()):
        main(argv)


def call(run: Callable[[], object], expect: str = ERROR, describe: Callable[[object], str] | None = None) -> tuple[str, str]:
    """Call a reader directly; an expected error must be a one-line user error."""
    try:
        value = run()
    except (SensorDataError, ValueError, OSError) as error:
        text = str(error) if "\n" in str(error).strip() else error_line(error)
        if expect == HANDLED:
            return "traceback", f"{type(error).__name__}: {text[:200]}"
        if "\n" in text.strip():
            return "traceback", f"{type(error).__name__} on several lines: {' '.join(text.split())[:200]}"
        return ERROR, f"{type(error).__name__}: {text}"
    except BaseException as error:  # noqa: BLE001
        return "traceback", f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
    if expect == ERROR:
        return "accepted silently", f"returned {str(describe(value) if describe else value)[:120]}"
    return HANDLED, describe(value) if describe else str(value)[:200]


# -- small inputs -------------------------------------------------------------------------------------
def kitti_scan(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    points = np.empty((n, 4), np.float32)
    points[:, 0] = rng.uniform(2, 60, n)
    points[:, 1] = rng.uniform(-30, 30, n)
    points[:, 2] = rng.uniform(-1.7, 1.5, n)
    points[:, 3] = rng.uniform(0, 1, n)
    return points


def nuscenes_sweep(n: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    points = np.empty((n, 5), np.float32)
    points[:, :3] = rng.uniform(-50, 50, (n, 3))
    points[:, 3] = rng.integers(0, 256, n)
    points[:, 4] = rng.integers(0, 32, n)
    return points


def kitti_root(folder: Path, image_size: tuple[int, int] = (1242, 375), p2_line: str = f"P2: {P2}",
               label: str = CAR) -> Path:
    base = folder / "kitti" / "training"
    for name in ("velodyne", "calib", "image_2", "label_2"):
        (base / name).mkdir(parents=True)
    kitti_scan(64).tofile(base / "velodyne" / "000000.bin")
    (base / "calib" / "000000.txt").write_text(f"{p2_line}\nR0_rect: {R0}\nTr_velo_to_cam: {TR}\n")
    (base / "label_2" / "000000.txt").write_text(label + "\n")
    cv2.imwrite(str(base / "image_2" / "000000.png"), np.full((image_size[1], image_size[0], 3), 90, np.uint8))
    return folder / "kitti"


def read_kitti(root: Path, **options: object) -> object:
    from sensors.kitti.reader import KittiDataset

    return KittiDataset(root, **options)[0]


_NUSCENES: list[Path] = []


def nuscenes_copy(folder: Path) -> Path:
    """A copy of a small simulated nuScenes root (written once per run)."""
    import shutil

    from sensors.nuscenes.writer import write_nuscenes

    if not _NUSCENES:
        base = Path(tempfile.mkdtemp(prefix="matrix-nuscenes-"))
        write_nuscenes(sensors.sim.simulate_drive(sensors.sim.SimConfig(image_size=(90, 160)), 0, 2), base / "data")
        _NUSCENES.append(base / "data")
    shutil.copytree(_NUSCENES[0], folder / "nuscenes")
    return folder / "nuscenes"


def read_nuscenes(root: Path) -> object:
    from sensors.nuscenes.reader import NuScenesDataset

    return list(NuScenesDataset(root, sweeps=2))


def first_file(root: Path, pattern: str) -> Path:
    return min(root.glob(pattern))


# -- part 1: sensors fire at different times ------------------------------------------------------------
K1 = "1 sensor timing"


@case(K1, "nuScenes camera exposed away from the LiDAR time while the car moves")
def _(d: Path):
    import json

    root = nuscenes_copy(d)
    tables = {name: json.loads((root / "v1.0-mini" / f"{name}.json").read_text())
              for name in ("sample_data", "calibrated_sensor", "sensor", "ego_pose")}
    channel = {c["token"]: next(s["channel"] for s in tables["sensor"] if s["token"] == c["sensor_token"])
               for c in tables["calibrated_sensor"]}
    frame = read_nuscenes(root)[0]
    lidar_time = frame.lidar.timestamp
    worst = (0.0, "", 0)
    for sd in tables["sample_data"]:
        name = channel[sd["calibrated_sensor_token"]]
        if sd["sample_token"] != frame.token or not sd["is_key_frame"] or name not in frame.cameras:
            continue
        mounting = next(c for c in tables["calibrated_sensor"] if c["token"] == sd["calibrated_sensor_token"])
        moved = float(np.linalg.norm(frame.cameras[name].cam_to_ego[:3, 3] - np.array(mounting["translation"])))
        worst = max(worst, (moved, name, sd["timestamp"] - lidar_time))
    if worst[0] < 1e-3:
        return "accepted silently", "camera poses equal their mountings: the car's motion is ignored"
    return HANDLED, (f"{worst[1]} exposed {worst[2] / 1000:.0f} ms from the LiDAR: its pose at the LiDAR time "
                     f"differs from the mounting by {worst[0] * 100:.1f} cm (sensor_to_reference_ego)")


@case(K1, "nuScenes camera sample_data pointing to a missing ego_pose")
def _(d: Path):
    import json

    root = nuscenes_copy(d)
    path = root / "v1.0-mini" / "sample_data.json"
    rows = json.loads(path.read_text())
    camera = next(r for r in rows if r["filename"].endswith(".jpg"))
    camera["ego_pose_token"] = "0" * 32
    path.write_text(json.dumps(rows))
    return call(lambda: read_nuscenes(root), describe=lambda f: f"{len(f)} frames")


# -- part 2: splits and metrics of the real benchmarks ----------------------------------------------------
K2 = "2 benchmark splits / metrics"


def kitti_with_test_part(folder: Path) -> Path:
    root = kitti_root(folder)
    test = root / "testing"
    for name in ("velodyne", "calib", "image_2"):
        (test / name).mkdir(parents=True)
    kitti_scan(32).tofile(test / "velodyne" / "000007.bin")
    (test / "calib" / "000007.txt").write_text(f"P2: {P2}\nR0_rect: {R0}\nTr_velo_to_cam: {TR}\n")
    cv2.imwrite(str(test / "image_2" / "000007.png"), np.full((375, 1242, 3), 90, np.uint8))
    (root / "ImageSets").mkdir()
    (root / "ImageSets" / "test.txt").write_text("000007\n")
    return root


@case(K2, "KITTI --split test (ids only in testing/, no labels)")
def _(d: Path):
    from sensors.dataset import open_dataset

    root = kitti_with_test_part(d)

    def describe(dataset: object) -> str:
        frame = dataset[0]
        return (f"reads {dataset.base.name}/ ({len(frame.lidar.points)} points, labels: {dataset.has_labels}, "
                f"annotations: {frame.annotations})")

    return call(lambda: open_dataset(root, split="test"), HANDLED, describe)


@case(K2, "train --split test on KITTI (a split without labels)")
def _(d: Path):
    root = kitti_with_test_part(d)
    return cli(d, ["train", "--config", str(TINY), "--out", str(d / "run"), "--data", str(root), "--split", "test"])


@case(K2, "KITTI AOS next to AP (50 cars found with headings turned by 180 degrees)")
def _(d: Path):
    from evaluation.kitti.evaluate import evaluate_kitti
    from evaluation.kitti.labels import KittiLabels

    def rows(alpha: float, scored: bool) -> list[list[str]]:
        out = []
        for k in range(50):  # 50 disjoint 80 x 60 px boxes (few boxes make the official R40 points coarse)
            left, top = 100.0 * (k % 10), 100.0 * (k // 10)
            out.append(["Car", "0", "0", str(alpha), str(left), str(top), str(left + 80), str(top + 60), "1.5", "1.6",
                        "4.0", "0", "1.6", str(10.0 + k), "0"] + ([str(0.9 - 0.01 * k)] if scored else []))
        return out

    result = evaluate_kitti([KittiLabels.from_rows(rows(0.5, False))], [KittiLabels.from_rows(rows(0.5 - 3.14159265, True))],
                            classes=("Car",), metrics=("bbox",))
    ap, aos = result.ap["bbox"]["Car"]["moderate"]["R40"], result.aos["Car"]["moderate"]["R40"]
    return (HANDLED, f"2D AP R40 {ap:.1f}, AOS R40 {aos:.1f}") if ap > 99 and aos < 1 else (
        "accepted silently", f"AP {ap}, AOS {aos}")


# -- part 3: degenerate boxes -----------------------------------------------------------------------------
K3 = "3 degenerate boxes"


@case(K3, "KITTI prediction file with a negative width")
def _(d: Path):
    from evaluation.kitti.labels import read_labels

    row = CAR.split()
    row[9] = "-1.87"
    (d / "000000.txt").write_text(CAR + " 0.9\n" + " ".join(row) + " 0.8\n")
    return call(lambda: read_labels(d / "000000.txt"), describe=lambda labels: f"{len(labels)} objects")


@case(K3, "negative-width detection on a ground-truth car (in memory)")
def _(d: Path):
    from evaluation.kitti.iou import bev_iou

    iou = float(bev_iou(np.array([[2.0, 20.0, 4.0, -1.6, 0.0]]), np.array([[2.0, 20.0, 4.0, 1.6, 0.0]]))[0, 0])
    return (HANDLED, f"BEV IoU {iou:g}: overlaps nothing") if iou == 0.0 else ("accepted silently", f"BEV IoU {iou:g}")


@case(K3, "identical boxes 1e6 m from the origin")
def _(d: Path):
    from evaluation.kitti.iou import bev_iou

    box = np.array([[1e6, 1e6, 4.0, 1.8, 0.3]])
    iou = float(bev_iou(box, box)[0, 0])
    return (HANDLED, f"BEV IoU {iou:.12f}") if abs(iou - 1.0) < 1e-9 else ("accepted silently", f"BEV IoU {iou!r}")


@case(K3, "decoded log-size of -800 in one cell")
def _(d: Path):
    import math

    from perception.config import DetectionHeadConfig
    from perception.model.box_coding import LOG_SIZE, REGRESSION_CHANNELS, YAW
    from perception.model.heads.detection import decode_detections
    from sensors.frame import BevGrid

    grid = BevGrid(-51.2, 51.2, -51.2, 51.2, 0.8)
    nx, ny = grid.shape
    heat = torch.full((1, 10, nx, ny), -10.0)
    heat[0, 0, 70, 70], heat[0, 0, 90, 70] = 3.0, 2.0
    reg = torch.zeros(1, len(REGRESSION_CHANNELS), nx, ny)
    reg[:, LOG_SIZE] = math.log(2.0)
    reg[:, YAW.start + 1] = 1.0  # cos yaw: yaw 0
    reg[0, LOG_SIZE, 90, 70] = -800.0
    return call(lambda: decode_detections(heat, reg, grid, DetectionHeadConfig(score_threshold=0.3))[0], HANDLED,
                lambda boxes: f"{len(boxes)} boxes kept, smallest size {float(np.min(boxes.size)):g} m")


@case(K3, "nuScenes submission with a zero-size box")
def _(d: Path):
    from evaluation.nuscenes_det.submission import boxes_to_entries, write_submission
    from sensors.dataset import open_dataset

    root = nuscenes_copy(d)
    frames = list(open_dataset(root, split="mini_train"))
    results = {f.token: boxes_to_entries(f.annotations.boxes, f.ego_to_global, f.token) for f in frames}
    first = next(entries for entries in results.values() if entries)
    first[0]["size"] = [0.0, 4.0, 1.5]
    write_submission(d / "results.json", results)
    return cli(d, ["evaluate", "--predictions", str(d / "results.json"), "--data", str(root), "--split", "mini_train",
                   "--out", str(d / "e")])


# -- part 6: a frame with no input --------------------------------------------------------------------------
K6 = "6 frame without input"


@case(K6, "frame with neither cameras nor LiDAR (shipped model)")
def _(d: Path):
    from perception.inference.predict import predict_batch
    from perception.inference.timing import StageTimer
    from perception.model import load_model
    from sensors.frame import Frame

    model, _ = load_model(SHIPPED_CHECKPOINT)
    frame = Frame("empty", "scene-0061", 0, np.eye(4))
    device = torch.device("cpu")
    _, (prediction,) = predict_batch(model, [frame], device, StageTimer(device))
    if len(prediction.boxes) or prediction.bev_map is not None:
        return "accepted silently", f"{len(prediction.boxes)} boxes on an empty frame"
    return HANDLED, f"no BEV input: {len(prediction.boxes)} boxes, no map (bev_input={prediction.bev_input})"


# -- part 4: files that are not what their name says ----------------------------------------------------
K4 = "4 file is not what its name says"


@case(K4, "KITTI 4-column scan saved as nuScenes .pcd.bin (size a multiple of 20)")
def _(d: Path):
    from sensors.nuscenes.files import read_points

    kitti_scan(100).tofile(d / "x.pcd.bin")
    return call(lambda: read_points(d / "x.pcd.bin"), describe=lambda p: f"{len(p)} points")


@case(K4, "KITTI 4-column scan saved as .pcd.bin (other size)")
def _(d: Path):
    from sensors.nuscenes.files import read_points

    kitti_scan(101).tofile(d / "x.pcd.bin")
    return call(lambda: read_points(d / "x.pcd.bin"))


@case(K4, "nuScenes 5-column sweep saved as KITTI velodyne .bin")
def _(d: Path):
    from sensors.kitti.reader import read_velodyne

    nuscenes_sweep(80).tofile(d / "000000.bin")
    return call(lambda: read_velodyne(d / "000000.bin"), describe=lambda p: f"{len(p)} points")


@case(K4, "0-byte nuScenes .pcd.bin in a dataset")
def _(d: Path):
    root = nuscenes_copy(d)
    first_file(root, "samples/LIDAR_TOP/*.pcd.bin").write_bytes(b"")
    return call(lambda: read_nuscenes(root), describe=lambda f: f"{len(f)} frames")


@case(K4, "0-byte nuScenes sweep file (sweeps/)")
def _(d: Path):
    root = nuscenes_copy(d)
    sweeps = sorted(root.glob("sweeps/LIDAR_TOP/*.pcd.bin"))
    if not sweeps:
        return HANDLED, "no sweeps written by this simulator setting"
    for path in sweeps:
        path.write_bytes(b"")
    return call(lambda: read_nuscenes(root), describe=lambda f: f"{len(f)} frames")


@case(K4, "0-byte KITTI velodyne .bin")
def _(d: Path):
    root = kitti_root(d)
    (root / "training" / "velodyne" / "000000.bin").write_bytes(b"")
    return call(lambda: read_kitti(root))


@case(K4, "truncated KITTI velodyne .bin")
def _(d: Path):
    root = kitti_root(d)
    path = root / "training" / "velodyne" / "000000.bin"
    path.write_bytes(path.read_bytes()[:-6])
    return call(lambda: read_kitti(root))


@case(K4, "KITTI image at half the calibrated size")
def _(d: Path):
    root = kitti_root(d, (621, 187))
    return call(lambda: read_kitti(root))


@case(K4, "KITTI image at half size, LiDAR-only reading (header only)")
def _(d: Path):
    root = kitti_root(d, (621, 187))
    return call(lambda: read_kitti(root, load_images=False))


@case(K4, "KITTI image at twice the calibrated size")
def _(d: Path):
    root = kitti_root(d, (2484, 750))
    return call(lambda: read_kitti(root))


@case(K4, "KITTI image that is not an image")
def _(d: Path):
    root = kitti_root(d)
    (root / "training" / "image_2" / "000000.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return call(lambda: read_kitti(root))


@case(K4, "nuScenes camera image resized after calibration (table says so too)")
def _(d: Path):
    import json

    root = nuscenes_copy(d)
    table = root / "v1.0-mini" / "calibrated_sensor.json"
    rows = json.loads(table.read_text())
    for row in rows:
        if row["camera_intrinsic"]:
            row["camera_intrinsic"][0][2] *= 4.0  # cx of a 4x larger image
    table.write_text(json.dumps(rows))
    return call(lambda: read_nuscenes(root), describe=lambda f: f"{len(f)} frames")


@case(K4, "nuScenes camera image of another size than its table row")
def _(d: Path):
    root = nuscenes_copy(d)
    path = first_file(root, "samples/CAM_FRONT/*.jpg")
    cv2.imwrite(str(path), np.zeros((45, 80, 3), np.uint8))
    return call(lambda: read_nuscenes(root), describe=lambda f: f"{len(f)} frames")


@case(K4, "KITTI label type in lower case ('car')")
def _(d: Path):
    root = kitti_root(d, label=CAR.replace("Car", "car"))
    return call(lambda: read_kitti(root), describe=lambda f: f"{len(f.annotations.boxes)} boxes")


@case(K4, "unknown KITTI label type ('Bus')")
def _(d: Path):
    root = kitti_root(d, label=CAR.replace("Car", "Bus"))
    return call(lambda: read_kitti(root), describe=lambda f: f"{len(f.annotations.boxes)} boxes")


@case(K4, "unknown type in a KITTI prediction file (evaluation reader)")
def _(d: Path):
    from evaluation.kitti.labels import read_labels

    (d / "000000.txt").write_text(CAR.replace("Car", "cars") + " 0.9\n")
    return call(lambda: read_labels(d / "000000.txt"), describe=lambda labels: f"{len(labels)} objects")


@case(K4, "ring index passed as the time-offset column")
def _(d: Path):
    from sensors.frame import Lidar

    return call(lambda: Lidar(nuscenes_sweep(50), np.eye(4), 0), describe=lambda lidar: "accepted")


@case(K4, "'P2:' followed by a tab")
def _(d: Path):
    root = kitti_root(d, p2_line=f"P2:\t{P2}")
    return call(lambda: read_kitti(root), HANDLED,
                lambda f: f"parsed: fx = {f.cameras['CAM_FRONT'].intrinsics[0, 0]:.4f}")


@case(K4, "'P2:' followed by no space")
def _(d: Path):
    root = kitti_root(d, p2_line=f"P2:{P2}")
    return call(lambda: read_kitti(root), HANDLED,
                lambda f: f"parsed: cx = {f.cameras['CAM_FRONT'].intrinsics[0, 2]:.4f}")


@case(K4, "calibration field given twice")
def _(d: Path):
    root = kitti_root(d, p2_line=f"P2: {P2}\nP2: {P2}")
    return call(lambda: read_kitti(root))


@case(K4, "folder where the velodyne file belongs")
def _(d: Path):
    root = kitti_root(d)
    path = root / "training" / "velodyne" / "000000.bin"
    path.unlink()
    path.mkdir()
    return call(lambda: read_kitti(root))


@case(K4, "binary file as a KITTI label file")
def _(d: Path):
    root = kitti_root(d)
    (root / "training" / "label_2" / "000000.txt").write_bytes(b"\x00\xff\xfe binary")
    return call(lambda: read_kitti(root))


@case(K4, "nuScenes table that is not JSON")
def _(d: Path):
    root = nuscenes_copy(d)
    (root / "v1.0-mini" / "sample_data.json").write_text("[{")
    return call(lambda: read_nuscenes(root))


@case(K4, "nuScenes table that is a folder")
def _(d: Path):
    root = nuscenes_copy(d)
    path = root / "v1.0-mini" / "ego_pose.json"
    path.unlink()
    path.mkdir()
    return call(lambda: read_nuscenes(root))


@case(K4, "nuScenes map expansion with a node that is no number (NaN)")
def _(d: Path):
    import json

    from sensors.nuscenes.map_expansion import (
        MapGeometry,
        MapRasterizer,
        write_map_expansion,
    )

    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    path = write_map_expansion(d, "boston-seaport", MapGeometry(polygons={"drivable_area": [(square, [])]}))
    document = json.loads(path.read_text())
    document["node"][0]["x"] = float("nan")
    path.write_text(json.dumps(document))
    return call(lambda: MapRasterizer.from_root(d, "boston-seaport"))


@case(K4, "DMD annotation with an Infinity frame number")
def _(d: Path):
    import json

    from sensors.dmd.openlabel import read_annotation

    path = d / "gA_1_s1_rgb_ann_distraction.json"
    action = {"type": "gaze_on_road/looking_road", "frame_intervals": [{"frame_start": 0, "frame_end": float("inf")}]}
    path.write_text(json.dumps({"openlabel": {"metadata": {"name": "gA_1_s1"}, "actions": {"0": action}}}))
    return call(lambda: read_annotation(path))


# -- part 5: user errors end in one line; nothing half-written -------------------------------------------
K5 = "5 user error / half-written output"


def blocked(d: Path) -> Path:
    """A file where a folder is needed: no one (root included) can write below it."""
    path = d / "blocked"
    path.write_text("a file")
    return path


for fmt in ("nuscenes", "kitti"):
    @case(K5, f"simulate --format {fmt} --out <a file>")
    def _(d: Path, fmt: str = fmt):
        out = d / "out"
        out.write_text("keep")
        return cli(d, ["simulate", "--format", fmt, "--out", str(out), *SIM_ARGS])


@case(K5, "simulate --out <below a file>")
def _(d: Path):
    return cli(d, ["simulate", "--out", str(blocked(d) / "data"), *SIM_ARGS])


@case(K5, "simulate --out /proc/x (a folder that refuses files)")
def _(d: Path):
    return cli(d, ["simulate", "--out", "/proc/perception-matrix", *SIM_ARGS])


@case(K5, "simulate --preview <unwritable> (checked before simulating)")
def _(d: Path):
    return cli(d, ["simulate", "--out", str(d / "data"), "--preview", "/proc/p.png", *SIM_ARGS])


@case(K5, "simulate --preview <a folder>")
def _(d: Path):
    (d / "pic").mkdir()
    return cli(d, ["simulate", "--out", str(d / "data"), "--preview", str(d / "pic"), *SIM_ARGS])


@case(K5, "simulate --out <a folder holding other files>")
def _(d: Path):
    (d / "out").mkdir()
    (d / "out" / "notes.txt").write_text("mine")
    return cli(d, ["simulate", "--out", str(d / "out"), *SIM_ARGS])


@case(K5, "simulate --out <a previous nuScenes output> (replaced)")
def _(d: Path):
    quiet(["simulate", "--out", str(d / "out"), "--frames", "1", "--size", "90x160", "--no-progress"])
    return cli(d, ["simulate", "--out", str(d / "out"), *SIM_ARGS], HANDLED)


def interrupted_simulator(after: int) -> Callable[[], None]:
    """Make the simulator raise KeyboardInterrupt (as Ctrl-C does) when asked for keyframe ``after``."""
    from sensors.sim import drive

    def patch() -> None:
        real = drive.drive_simulator

        def interrupted(*args: object, **kwargs: object) -> object:
            simulator = real(*args, **kwargs)
            keyframe = simulator.keyframe

            def stop_at(index: int) -> object:
                if index == after:
                    raise KeyboardInterrupt
                return keyframe(index)

            simulator.keyframe = stop_at
            return simulator

        interrupted.real = real  # type: ignore[attr-defined]
        drive.drive_simulator = interrupted
    return patch


def restore_simulator() -> None:
    from sensors.sim import drive

    drive.drive_simulator = getattr(drive.drive_simulator, "real", drive.drive_simulator)


for fmt in ("kitti", "nuscenes"):
    @case(K5, f"Ctrl-C during simulate --format {fmt}")
    def _(d: Path, fmt: str = fmt):
        try:
            return cli(d, ["simulate", "--format", fmt, "--out", str(d / "data"), "--frames", "3", "--size", "90x160",
                           "--no-progress"], before=interrupted_simulator(2))
        finally:
            restore_simulator()


@case(K5, "Ctrl-C during simulate --format kitti into an existing KITTI root")
def _(d: Path):
    quiet(["simulate", "--format", "kitti", "--out", str(d / "data"), "--frames", "1", "--size", "90x160",
           "--no-progress"])
    try:
        return cli(d, ["simulate", "--format", "kitti", "--out", str(d / "data"), "--frames", "3", "--size", "90x160",
                       "--no-progress"], before=interrupted_simulator(2))
    finally:
        restore_simulator()


@case(K5, "train --config <invalid YAML>")
def _(d: Path):
    (d / "bad.yaml").write_text("model:\n  use_camera: true\n   use_lidar: [1, 2\n")
    return cli(d, ["train", "--config", str(d / "bad.yaml"), "--out", str(d / "run")])


@case(K5, "train --config <a folder>")
def _(d: Path):
    return cli(d, ["train", "--config", str(d), "--out", str(d / "run")])


@case(K5, "train --config <missing>")
def _(d: Path):
    return cli(d, ["train", "--config", str(d / "nope.yaml"), "--out", str(d / "run")])


@case(K5, "train --out <a file>")
def _(d: Path):
    (d / "run").write_text("x")
    return cli(d, ["train", "--config", str(TINY), "--out", str(d / "run"), "--steps", "1"])


@case(K5, "train --out <a folder holding other files>")
def _(d: Path):
    (d / "run").mkdir()
    (d / "run" / "paper.tex").write_text("x")
    return cli(d, ["train", "--config", str(TINY), "--out", str(d / "run"), "--steps", "1"])


@case(K5, "train --device cuda without a GPU")
def _(d: Path):
    if torch.cuda.is_available():
        return HANDLED, "this machine has a GPU"
    return cli(d, ["train", "--config", str(TINY), "--out", str(d / "run"), "--steps", "1", "--device", "cuda"])


@case(K5, "train --init <a folder>")
def _(d: Path):
    (d / "ck").mkdir()
    return cli(d, ["train", "--config", str(TINY), "--out", str(d / "run"), "--init", str(d / "ck")])


@case(K5, "train --strategy <unknown>")
def _(d: Path):
    return cli(d, ["train", "--config", str(TINY), "--out", str(d / "run"), "--strategy", "bogus"])


@case(K5, "train --data <missing dataset>")
def _(d: Path):
    return cli(d, ["train", "--config", str(TINY), "--out", str(d / "run"), "--data", str(d / "nope")])


@case(K5, "train --resume without a checkpoint")
def _(d: Path):
    return cli(d, ["train", "--config", str(TINY), "--out", str(d / "run"), "--resume"])


def diverged_checkpoint(d: Path) -> Path:
    state = torch.load(SHIPPED_CHECKPOINT, weights_only=True)
    key = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"][key].view(-1)[0] = float("nan")
    torch.save(state, d / "diverged.pt")
    return d / "diverged.pt"


@case(K5, "train --init <checkpoint with NaN weights>")
def _(d: Path):
    return cli(d, ["train", "--config", str(TINY), "--out", str(d / "run"), "--init", str(diverged_checkpoint(d))],
               keep={"diverged.pt"})


EVAL = ["evaluate", "--data", "sim", "--max-samples", "1", "--samples", "0", "--cabin-seconds", "0"]


@case(K5, "evaluate --checkpoint <not a checkpoint> (never suggests weights_only=False)")
def _(d: Path):
    (d / "c.pt").write_text("text")
    outcome, detail = cli(d, [*EVAL, "--checkpoint", str(d / "c.pt"), "--out", str(d / "e")])
    return ("traceback", detail) if "weights_only" in detail else (outcome, detail)


@case(K5, "evaluate --checkpoint <pickled Python objects>")
def _(d: Path):
    torch.save({"model": {}, "path": Path("x")}, d / "c.pt")
    outcome, detail = cli(d, [*EVAL, "--checkpoint", str(d / "c.pt"), "--out", str(d / "e")])
    return ("traceback", detail) if "weights_only" in detail else (outcome, detail)


@case(K5, "evaluate --checkpoint <truncated>")
def _(d: Path):
    (d / "c.pt").write_bytes(SHIPPED_CHECKPOINT.read_bytes()[:4096])
    return cli(d, [*EVAL, "--checkpoint", str(d / "c.pt"), "--out", str(d / "e")])


@case(K5, "evaluate --checkpoint <a folder>")
def _(d: Path):
    (d / "c.pt").mkdir()
    return cli(d, [*EVAL, "--checkpoint", str(d / "c.pt"), "--out", str(d / "e")])


@case(K5, "evaluate --checkpoint <NaN weights>")
def _(d: Path):
    return cli(d, [*EVAL, "--checkpoint", str(diverged_checkpoint(d)), "--out", str(d / "e")], keep={"diverged.pt"})


@case(K5, "evaluate --device cuda without a GPU")
def _(d: Path):
    if torch.cuda.is_available():
        return HANDLED, "this machine has a GPU"
    return cli(d, [*EVAL, "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(d / "e"), "--device", "cuda"])


@case(K5, "evaluate --out <a file>")
def _(d: Path):
    (d / "e").write_text("x")
    return cli(d, [*EVAL, "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(d / "e")])


@case(K5, "evaluate --out <below a file>")
def _(d: Path):
    return cli(d, [*EVAL, "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(blocked(d) / "e")])


@case(K5, "evaluate --out <a folder holding other files>")
def _(d: Path):
    (d / "e").mkdir()
    (d / "e" / "x.txt").write_text("x")
    return cli(d, [*EVAL, "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(d / "e")])


@case(K5, "evaluate --predictions <a folder>")
def _(d: Path):
    root = nuscenes_copy(d)
    (d / "results").mkdir()
    return cli(d, ["evaluate", "--predictions", str(d / "results"), "--data", str(root), "--split", "mini_train",
                   "--out", str(d / "e")])


@case(K5, "evaluate --data <missing path>")
def _(d: Path):
    return cli(d, [*EVAL[:1], "--data", str(d / "nope"), "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(d / "e")])


@case(K5, "Ctrl-C during evaluate (after metrics.json, before the report)")
def _(d: Path):
    from perception.inference import pipeline, sources

    real = pipeline.evaluate_model, sources.open_eval_source

    def interrupted(model, config, source, options, *args):
        (options.out_dir / "metrics.json").write_text("{}")
        raise KeyboardInterrupt

    pipeline.evaluate_model, sources.open_eval_source = interrupted, lambda *args: None
    try:
        return cli(d, [*EVAL, "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(d / "e")])
    finally:
        pipeline.evaluate_model, sources.open_eval_source = real


@case(K5, "demo --out <a file>")
def _(d: Path):
    (d / "demo").write_text("x")
    return cli(d, ["demo", "--out", str(d / "demo")])


@case(K5, "demo --checkpoint <a folder>")
def _(d: Path):
    (d / "c").mkdir()
    return cli(d, ["demo", "--checkpoint", str(d / "c"), "--out", str(d / "demo")])


@case(K5, "demo --out <a folder holding other files>")
def _(d: Path):
    (d / "demo").mkdir()
    (d / "demo" / "x.txt").write_text("x")
    return cli(d, ["demo", "--out", str(d / "demo")])


_BAG: list[Path] = []


def recording() -> Path:
    """A small simulated rosbag2 recording (written once per run)."""
    if not _BAG:
        base = Path(tempfile.mkdtemp(prefix="matrix-bag-"))
        quiet(["simulate", "--format", "rosbag2", "--out", str(base / "bag"), *SIM_ARGS])
        _BAG.append(base / "bag")
    return _BAG[0]


REPLAY = ["replay", "--checkpoint", str(SHIPPED_CHECKPOINT), "--quiet"]


@case(K5, "replay --out <a file>")
def _(d: Path):
    (d / "r").write_text("x")
    return cli(d, [*REPLAY, str(recording()), "--out", str(d / "r")])


@case(K5, "replay --out <a folder holding other files>")
def _(d: Path):
    (d / "r").mkdir()
    (d / "r" / "notes.txt").write_text("x")
    return cli(d, [*REPLAY, str(recording()), "--out", str(d / "r")])


@case(K5, "replay --device cuda without a GPU")
def _(d: Path):
    if torch.cuda.is_available():
        return HANDLED, "this machine has a GPU"
    return cli(d, [*REPLAY, str(recording()), "--out", str(d / "r"), "--device", "cuda"])


@case(K5, "replay <a folder that is no recording>")
def _(d: Path):
    (d / "photos").mkdir()
    (d / "photos" / "a.jpg").write_bytes(b"\xff\xd8")
    return cli(d, [*REPLAY, str(d / "photos"), "--out", str(d / "r")])


@case(K5, "replay --checkpoint <NaN weights>")
def _(d: Path):
    return cli(d, [*REPLAY, str(recording()), "--checkpoint", str(diverged_checkpoint(d)), "--out", str(d / "r")],
               keep={"diverged.pt"})


@case(K5, "replay <an .mcap cut short>")
def _(d: Path):
    import shutil

    bag = d / "cut"
    shutil.copytree(recording(), bag)
    mcap = next(bag.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[:3000])
    return cli(d, [*REPLAY, str(bag), "--out", str(d / "r")], keep={"cut", f"cut/{mcap.name}", "cut/metadata.yaml"})


@case(K5, "replay --config <another model's config than the checkpoint's>")
def _(d: Path):
    import shutil

    shutil.copy(SHIPPED_CHECKPOINT, d / "tiny.pt")
    return cli(d, [*REPLAY, str(recording()), "--checkpoint", str(d / "tiny.pt"),
                   "--config", str(REPO / "configs" / "base.yaml"), "--out", str(d / "r")], keep={"tiny.pt"})


@case(K5, "ros-node --params <invalid YAML>")
def _(d: Path):
    (d / "params.yaml").write_text("perception:\n  ros__parameters: [1, 2\n")
    return cli(d, ["ros-node", "--transport", "dds", "--params", str(d / "params.yaml")], keep={"params.yaml"})


@case(K5, "ros-node --checkpoint <missing>")
def _(d: Path):
    return cli(d, ["ros-node", "--transport", "dds", "--checkpoint", str(d / "nope.pt")])


@case(K5, "export --out <a folder>")
def _(d: Path):
    (d / "model.onnx").mkdir()
    return cli(d, ["export", "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(d / "model.onnx")])


@case(K5, "export --out <below a file>")
def _(d: Path):
    return cli(d, ["export", "--checkpoint", str(SHIPPED_CHECKPOINT), "--out", str(blocked(d) / "model.onnx")])


@case(K5, "export --checkpoint <NaN weights>")
def _(d: Path):
    return cli(d, ["export", "--checkpoint", str(diverged_checkpoint(d)), "--out", str(d / "m.onnx")],
               keep={"diverged.pt"})


@case(K5, "evaluate --runtime onnxruntime --model <not an ONNX file>")
def _(d: Path):
    (d / "m.onnx").write_text("not onnx")
    return cli(d, [*EVAL, "--runtime", "onnxruntime", "--model", str(d / "m.onnx"), "--out", str(d / "e")])


@case(K5, "evaluate --runtime onnxruntime --model <a folder>")
def _(d: Path):
    (d / "m.onnx").mkdir()
    return cli(d, [*EVAL, "--runtime", "onnxruntime", "--model", str(d / "m.onnx"), "--out", str(d / "e")])


@case(K5, "full disk (ENOSPC) during a checkpoint write")
def _(d: Path):
    from perception.checkpoint import save_checkpoint

    path = d / "last.pt"
    save_checkpoint({"model": {"w": torch.ones(2)}}, path)
    real = torch.save

    def full(obj: object, f: object) -> None:
        Path(str(f)).write_bytes(b"PK partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    torch.save = full
    try:
        outcome, detail = call(lambda: save_checkpoint({"model": {"w": torch.zeros(2)}}, path))
    finally:
        torch.save = real
    left = leftovers(d, {"last.pt"})
    if left or torch.load(path, weights_only=True)["model"]["w"].tolist() != [1.0, 1.0]:
        return "half-written", f"{detail} -- left: {left}"
    return outcome, detail + " (old checkpoint intact, temporary removed)"


@case(K5, "stale temporary checkpoint after SIGKILL (cleaned at next start)")
def _(d: Path):
    import signal
    import subprocess

    from perception.checkpoint import remove_stale_temporaries

    script = ("import os, signal\nfrom pathlib import Path\nfrom sensors.atomic import atomic_path\n"
              f"with atomic_path(Path({str(d / 'last.pt')!r})) as tmp:\n"
              "    tmp.write_bytes(b'PK half')\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    stale = [p.name for p in d.iterdir()]
    removed = remove_stale_temporaries(d)
    if done.returncode != -signal.SIGKILL or not stale or list(d.iterdir()):
        return "half-written", f"left after cleaning: {[p.name for p in d.iterdir()]}"
    return HANDLED, f"removed {len(removed)} stale temporary ({stale[0][:10]}...) at the next start"


@case(K5, "truncated training-cache sample (rebuilt)")
def _(d: Path):
    import dataclasses

    from perception.config import load_config
    from perception.train.data import SimulatedSamples

    config = load_config(TINY)
    sim = {"image_size": [90, 160], "num_lidar_beams": 8, "lidar_azimuth_steps": 180, "sweeps_per_keyframe": 1,
           "cabin_size": [60, 80], "num_agents": 5}
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, sim=sim, frames_per_scene=1))
    samples = SimulatedSamples(config, d, 3, 1)
    first = samples[0]
    path = samples.cache_dir / "000000.pt"
    path.write_bytes(path.read_bytes()[:1000])
    return call(lambda: samples[0], HANDLED,
                lambda s: "rebuilt: same points" if torch.equal(s.points, first.points) else "rebuilt: DIFFERENT")


@case(K5, "SensorDataError raised in a DataLoader worker (num_workers=1)")
def _(d: Path):
    from torch.utils.data import DataLoader

    from perception.cli import error_line
    from sensors.nuscenes.files import read_points

    kitti_scan(100).tofile(d / "x.pcd.bin")

    class Files(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int) -> np.ndarray:
            return read_points(d / "x.pcd.bin")

    loader = DataLoader(Files(), num_workers=1, multiprocessing_context="fork")
    try:
        list(loader)
    except SensorDataError as error:
        line = error_line(error)
        return (ERROR, f"{type(error).__name__}: {line}") if "\n" not in str(error) else ("traceback", line)
    except BaseException as error:  # noqa: BLE001
        return "traceback", f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
    return "accepted silently", "no error"


@case(K5, "train on a KITTI root with a bad label file, 1 DataLoader worker")
def _(d: Path):
    import yaml

    root = kitti_root(d, label=CAR.replace("Car", "car"))
    config = yaml.safe_load(TINY.read_text())
    config.setdefault("train", {})["num_workers"] = 1
    (d / "workers.yaml").write_text(yaml.safe_dump(config))
    return cli(d, ["train", "--config", str(d / "workers.yaml"), "--out", str(d / "run"), "--data", str(root),
                   "--steps", "1", "--no-progress"])


# -- running and reporting ----------------------------------------------------------------------------------
def run(only: str | None) -> list[Result]:
    results = []
    for c in CASES:
        if only and only not in c.name:
            continue
        with tempfile.TemporaryDirectory(prefix="matrix-") as folder:
            try:
                outcome, detail = c.run(Path(folder))
            except BaseException as error:  # noqa: BLE001 - the case's own setup failed
                outcome, detail = "traceback", f"case setup: {type(error).__name__}: {error}"
                traceback.print_exc()
        results.append(Result(c.kind, c.name, outcome, detail.replace(folder, "<tmp>")))
        print(f"[{outcome:>17}] {c.name}: {results[-1].detail[:150]}", file=sys.stderr)
    return results


def table(results: list[Result]) -> str:
    counts = Counter(r.outcome for r in results)
    summary = ", ".join(f"{counts.get(o, 0)} {o}" for o in (ERROR, HANDLED, *BAD))
    rows = ["| Kind | Case | Outcome | What the user gets |", "|---|---|---|---|"]
    for r in results:
        detail = r.detail.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {r.kind} | {r.case} | {r.outcome} | `{detail}` |")
    return f"{len(results)} cases: {summary}.\n\n" + "\n".join(rows)


def write_docs(text: str) -> None:
    doc = DOC.read_text()
    head, _, rest = doc.partition(START)
    _, _, tail = rest.partition(END)
    atomic_write_text(DOC, f"{head}{START}\n{text}\n{END}{tail}")


def cli_main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite the table in {DOC.relative_to(REPO)}")
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    results = run(args.only)
    text = table(results)
    print(text.splitlines()[0])
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.write_docs:
        write_docs(text)
    return 1 if any(r.outcome in BAD for r in results) else 0


if __name__ == "__main__":
    sys.exit(cli_main())
