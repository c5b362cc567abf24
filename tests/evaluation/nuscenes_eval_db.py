"""A small synthetic nuScenes database (JSON tables only) and prediction sets, for evaluation tests and benchmarks.

Version ``v1.0-mini`` with the official ``mini_val`` scene names (``scene-0103``, ``scene-0916``) plus
one ``mini_train`` scene, so that the devkit's split logic applies. Moving instances over
consecutive samples (velocities), boxes without points, annotations without attributes, a time gap
(NaN velocities), non-detection categories and a bicycle rack with a bicycle in it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

CATEGORIES = {
    "vehicle.car": ["vehicle.moving", "vehicle.stopped", "vehicle.parked"],
    "vehicle.truck": ["vehicle.moving", "vehicle.parked"],
    "vehicle.bus.rigid": ["vehicle.moving", "vehicle.stopped"],
    "vehicle.trailer": ["vehicle.parked"],
    "vehicle.construction": ["vehicle.parked", "vehicle.moving"],
    "human.pedestrian.adult": ["pedestrian.moving", "pedestrian.standing", "pedestrian.sitting_lying_down"],
    "human.pedestrian.child": ["pedestrian.moving", "pedestrian.standing"],
    "vehicle.motorcycle": ["cycle.with_rider", "cycle.without_rider"],
    "vehicle.bicycle": ["cycle.with_rider", "cycle.without_rider"],
    "movable_object.trafficcone": [],
    "movable_object.barrier": [],
    "movable_object.debris": [],
    "static_object.bicycle_rack": [],
}
ATTRIBUTE_NAMES = ["vehicle.moving", "vehicle.stopped", "vehicle.parked", "cycle.with_rider", "cycle.without_rider",
                   "pedestrian.moving", "pedestrian.standing", "pedestrian.sitting_lying_down"]
SIZES = {"vehicle.car": (1.9, 4.5, 1.6), "vehicle.truck": (2.5, 7.0, 3.0), "vehicle.bus.rigid": (2.9, 11.0, 3.4),
         "vehicle.trailer": (2.5, 10.0, 3.8), "vehicle.construction": (2.8, 6.5, 3.2),
         "human.pedestrian.adult": (0.7, 0.7, 1.75), "human.pedestrian.child": (0.5, 0.5, 1.2),
         "vehicle.motorcycle": (0.8, 2.1, 1.5), "vehicle.bicycle": (0.6, 1.7, 1.3),
         "movable_object.trafficcone": (0.4, 0.4, 1.0), "movable_object.barrier": (2.5, 0.5, 1.0),
         "movable_object.debris": (0.5, 0.5, 0.3), "static_object.bicycle_rack": (3.0, 6.0, 1.2)}
DETECTION_OF = {"vehicle.car": "car", "vehicle.truck": "truck", "vehicle.bus.rigid": "bus", "vehicle.trailer": "trailer",
                "vehicle.construction": "construction_vehicle", "human.pedestrian.adult": "pedestrian",
                "human.pedestrian.child": "pedestrian", "vehicle.motorcycle": "motorcycle",
                "vehicle.bicycle": "bicycle", "movable_object.trafficcone": "traffic_cone",
                "movable_object.barrier": "barrier"}


def _quat(yaw: float) -> list[float]:
    return [float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2))]


def _write(folder: Path, name: str, table: list) -> None:
    (folder / f"{name}.json").write_text(json.dumps(table))


def make_database(root: Path, samples_per_scene: int = 8, instances_per_scene: int = 40, seed: int = 0) -> list[dict]:
    """Write ``root/v1.0-mini/*.json`` and return the annotation records (with ``category_name``) of mini_val."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "v1.0-mini"
    folder.mkdir(parents=True, exist_ok=True)
    tok = iter(f"{i:032x}" for i in range(10**9))
    categories = [{"token": next(tok), "name": n, "description": ""} for n in CATEGORIES]
    cat_token = {c["name"]: c["token"] for c in categories}
    attributes = [{"token": next(tok), "name": n, "description": ""} for n in ATTRIBUTE_NAMES]
    attr_token = {a["name"]: a["token"] for a in attributes}
    visibility = [{"token": "1", "level": "v0-40", "description": ""}]
    sensor = [{"token": next(tok), "channel": "LIDAR_TOP", "modality": "lidar"},
              {"token": next(tok), "channel": "CAM_FRONT", "modality": "camera"}]
    calib = [{"token": next(tok), "sensor_token": s["token"], "translation": [0.9, 0.0, 1.8],
              "rotation": [1.0, 0.0, 0.0, 0.0], "camera_intrinsic": []} for s in sensor]
    logs, scenes, samples, sample_data, ego_poses, instances, anns, maps = [], [], [], [], [], [], [], []
    val_anns = []
    t0 = 1_532_402_927_000_000
    for scene_name in ("scene-0061", "scene-0103", "scene-0916"):
        log = {"token": next(tok), "logfile": scene_name, "vehicle": "sim", "date_captured": "2018-01-01",
               "location": "singapore-onenorth"}
        logs.append(log)
        scene = {"token": next(tok), "log_token": log["token"], "nbr_samples": samples_per_scene, "name": scene_name,
                 "description": ""}
        scene_samples = []
        ego_xy = rng.uniform(-500, 500, 2)
        heading = rng.uniform(-np.pi, np.pi)
        for k in range(samples_per_scene):
            t0 += 500_000 if k != samples_per_scene // 2 else 2_500_000  # one time gap: NaN velocities
            ego_xy = ego_xy + 4.0 * np.array([np.cos(heading), np.sin(heading)])
            heading += rng.normal(0, 0.05)
            sample = {"token": next(tok), "timestamp": t0, "prev": "", "next": "", "scene_token": scene["token"]}
            pose = {"token": next(tok), "timestamp": t0, "rotation": _quat(heading),
                    "translation": [float(ego_xy[0]), float(ego_xy[1]), 0.0]}
            ego_poses.append(pose)
            for c in calib:
                sample_data.append({"token": next(tok), "sample_token": sample["token"], "ego_pose_token": pose["token"],
                                    "calibrated_sensor_token": c["token"], "timestamp": t0, "fileformat": "pcd",
                                    "is_key_frame": True, "height": 0, "width": 0, "filename": "", "prev": "",
                                    "next": ""})
            scene_samples.append((sample, ego_xy.copy()))
        for a, b in zip(scene_samples, scene_samples[1:]):
            a[0]["next"], b[0]["prev"] = b[0]["token"], a[0]["token"]
        samples.extend(s for s, _ in scene_samples)
        scene["first_sample_token"], scene["last_sample_token"] = scene_samples[0][0]["token"], scene_samples[-1][0]["token"]
        scenes.append(scene)
        names = [n for n in CATEGORIES if n != "static_object.bicycle_rack"]
        rack_xy = scene_samples[0][1] + rng.uniform(-15, 15, 2)
        plan = [("static_object.bicycle_rack", rack_xy, 0.0, np.zeros(2), True),
                ("vehicle.bicycle", rack_xy + 0.5, 0.3, np.zeros(2), True)]
        for _ in range(instances_per_scene):
            name = names[rng.integers(len(names))]
            start = scene_samples[rng.integers(samples_per_scene)][1] + rng.uniform(-60, 60, 2)
            moving = rng.random() < 0.5 and not name.startswith("movable")
            plan.append((name, start, rng.uniform(-np.pi, np.pi), rng.normal(0, 3, 2) if moving else np.zeros(2), False))
        for name, start, yaw, vel, whole_scene in plan:
            inst = {"token": next(tok), "category_token": cat_token[name], "nbr_annotations": 0}
            first = 0 if whole_scene else int(rng.integers(0, samples_per_scene))
            last = samples_per_scene - 1 if whole_scene else int(rng.integers(first, samples_per_scene))
            size = [float(s * rng.uniform(0.9, 1.1)) for s in SIZES[name]]
            prev_ann = None
            for k in range(first, last + 1):
                sample, _ = scene_samples[k]
                dt = (sample["timestamp"] - scene_samples[first][0]["timestamp"]) * 1e-6
                xy = start + vel * dt
                allowed = CATEGORIES[name]
                attr = [attr_token[allowed[rng.integers(len(allowed))]]] if allowed and rng.random() < 0.9 else []
                ann = {"token": next(tok), "sample_token": sample["token"], "instance_token": inst["token"],
                       "visibility_token": "1", "attribute_tokens": attr,
                       "translation": [float(xy[0]), float(xy[1]), float(size[2] / 2)], "size": size,
                       "rotation": _quat(yaw + rng.normal(0, 0.02)), "prev": "", "next": "",
                       "num_lidar_pts": int(rng.integers(0, 3) * rng.integers(0, 50)),
                       "num_radar_pts": int(rng.integers(0, 2))}
                if prev_ann is not None:
                    prev_ann["next"], ann["prev"] = ann["token"], prev_ann["token"]
                prev_ann = ann
                anns.append(ann)
                inst["nbr_annotations"] += 1
                if scene_name != "scene-0061":
                    val_anns.append({**ann, "category_name": name})
            instances.append(inst)
        maps.append({"token": next(tok), "log_tokens": [log["token"]], "category": "semantic_prior",
                     "filename": "maps/x.png"})
    (Path(root) / "maps").mkdir(exist_ok=True)
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(Path(root) / "maps" / "x.png")  # the devkit checks it exists
    for inst in instances:
        own = [a for a in anns if a["instance_token"] == inst["token"]]
        inst["first_annotation_token"], inst["last_annotation_token"] = own[0]["token"], own[-1]["token"]
    for name, table in (("category", categories), ("attribute", attributes), ("visibility", visibility),
                        ("instance", instances), ("sensor", sensor), ("calibrated_sensor", calib),
                        ("ego_pose", ego_poses), ("log", logs), ("scene", scenes), ("sample", samples),
                        ("sample_data", sample_data), ("sample_annotation", anns), ("map", maps)):
        _write(folder, name, table)
    return val_anns


def val_sample_tokens(root: Path) -> list[str]:
    """Tokens of the mini_val samples, in table order."""
    folder = Path(root) / "v1.0-mini"
    scenes = {s["token"] for s in json.loads((folder / "scene.json").read_text()) if s["name"] in ("scene-0103", "scene-0916")}
    return [s["token"] for s in json.loads((folder / "sample.json").read_text()) if s["scene_token"] in scenes]


def jittered_predictions(val_anns: list[dict], sample_tokens: list[str], seed: int, *, keep: float = 0.85,
                         noise: float = 0.6, false_positives: int = 3, drop_classes: tuple[str, ...] = (),
                         empty_fraction: float = 0.0, score_decimals: int | None = None,
                         nan_velocity: float = 0.05) -> dict:
    """Submission ``results``: GT jittered in position, size, yaw, velocity; random scores; extra false positives.

    A fraction ``nan_velocity`` of the jittered boxes gets velocity NaN (written as the non-standard
    JSON literal ``NaN``, which the devkit reads as unknown velocity); 0 gives standard JSON.
    """
    rng = np.random.default_rng(seed)
    results: dict[str, list] = {t: [] for t in sample_tokens}
    attr_pool = ATTRIBUTE_NAMES
    for ann in val_anns:
        det = DETECTION_OF.get(ann["category_name"])
        if det is None or det in drop_classes or rng.random() > keep:
            continue
        yaw = 2 * np.arctan2(ann["rotation"][3], ann["rotation"][0]) + rng.normal(0, 0.4)
        vel = [float(v) for v in rng.normal(0, 1.5, 2)]
        if rng.random() < nan_velocity:
            vel = [float("nan"), float("nan")]
        attr = ""
        if det not in ("traffic_cone", "barrier"):
            attr = attr_pool[rng.integers(len(attr_pool))] if rng.random() < 0.4 else (
                ATTRIBUTE_NAMES[ATTRIBUTE_NAMES.index(CATEGORIES[ann["category_name"]][0])])
        results[ann["sample_token"]].append({
            "sample_token": ann["sample_token"],
            "translation": [float(v + rng.normal(0, noise * s)) for v, s in zip(ann["translation"], (1, 1, 0.3))],
            "size": [float(s * np.exp(rng.normal(0, 0.15))) for s in ann["size"]],
            "rotation": _quat(yaw), "velocity": vel, "detection_name": det,
            "detection_score": float(rng.random()), "attribute_name": attr})
    dets = sorted(set(DETECTION_OF.values()) - set(drop_classes))
    for token in sample_tokens:
        gts = [a for a in val_anns if a["sample_token"] == token]
        for _ in range(false_positives):
            centre = np.array(gts[rng.integers(len(gts))]["translation"]) if gts else np.zeros(3)
            results[token].append({
                "sample_token": token, "translation": [float(v) for v in centre + rng.normal(0, 5, 3)],
                "size": [float(v) for v in rng.uniform(0.3, 5, 3)], "rotation": _quat(rng.uniform(-4, 4)),
                "velocity": [float(v) for v in rng.normal(0, 2, 2)], "detection_name": dets[rng.integers(len(dets))],
                "detection_score": float(rng.random() * 0.5), "attribute_name": ""})
        rng.shuffle(results[token])
        if rng.random() < empty_fraction:
            results[token] = []
    if score_decimals is not None:
        for entries in results.values():
            for e in entries:
                e["detection_score"] = round(e["detection_score"], score_decimals)
    return results


def random_predictions(val_anns: list[dict], sample_tokens: list[str], seed: int, per_sample: int = 30) -> dict:
    """Submission ``results`` of boxes scattered at random around the annotated area."""
    rng = np.random.default_rng(seed)
    dets = sorted(set(DETECTION_OF.values()))
    results = {}
    for token in sample_tokens:
        centre = np.mean([a["translation"] for a in val_anns if a["sample_token"] == token] or [[0, 0, 0]], axis=0)
        spread = 30.0
        results[token] = [{
            "sample_token": token,
            "translation": [float(centre[0] + rng.normal(0, spread)), float(centre[1] + rng.normal(0, spread)), 1.0],
            "size": [float(v) for v in rng.uniform(0.3, 5, 3)], "rotation": _quat(rng.uniform(-4, 4)),
            "velocity": [float(v) for v in rng.normal(0, 2, 2)], "detection_name": dets[rng.integers(len(dets))],
            "detection_score": float(rng.random()), "attribute_name": ""} for _ in range(per_sample)]
    return results
