"""The shipped checkpoint on one fixed simulated frame: the frame (stored as sensor data in
``shipped_frame.npz``) and the outputs that ``test_shipped_checkpoint`` pins bit for bit on CPU.

``python tests/pins/shipped.py`` rewrites ``shipped_outputs.npz`` from the current code: do it only
for an intended change of the model's numbers, and say so in the commit.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from sensors.frame import Camera, Frame, Lidar

HERE = Path(__file__).resolve().parent
FRAME = HERE / "shipped_frame.npz"
OUTPUTS = HERE / "shipped_outputs.npz"


def load_frame() -> Frame:
    """The stored simulated keyframe as a :class:`Frame` without annotations."""
    z = np.load(FRAME)
    frame_ts, lidar_ts, cabin_ts = (int(t) for t in z["timestamps"])
    cameras = {
        str(name): Camera(str(name), z[f"{name}/image"], z[f"{name}/intrinsics"], z[f"{name}/cam_to_ego"],
                          int(z[f"{name}/timestamp"]))
        for name in z["camera_names"]
    }
    cabin = Camera("CABIN", z["cabin_image"], z["cabin_intrinsics"], z["cabin_to_ego"], cabin_ts)
    return Frame("pinned", "scene-0103", frame_ts, z["ego_to_global"], Lidar(z["points"], z["lidar_to_ego"], lidar_ts),
                 cameras, cabin)


def digest(t: torch.Tensor) -> str:
    """sha256 of a tensor's dtype, shape and bytes (bit-for-bit identity)."""
    a = t.detach().cpu().contiguous().numpy()
    return hashlib.sha256(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()


def compute() -> dict[str, np.ndarray]:
    """Run the shipped checkpoint on the stored frame (one thread, after a warm-up pass) and return
    digests of every raw head output, a few raw values, and the decoded boxes and driver state."""
    from perception.data import collate_inputs, frame_to_inputs
    from perception.demo import SHIPPED_CHECKPOINT
    from perception.model import load_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, config = load_model(SHIPPED_CHECKPOINT)
        batch = collate_inputs([frame_to_inputs(load_frame(), config.model)])
        with torch.inference_mode():
            model(batch)  # the first pass of a process differs in the last bits (see perception.inference.predict)
            out = model(batch)
        prediction = model.decode(out)[0]
    finally:
        torch.set_num_threads(threads)
    det = out["detection"]
    raw = {
        "heatmap": det["heatmap"], "regression": det["regression"], "segmentation": out["segmentation"],
        "depth": out["depth"], "depth_logits": out["depth_logits"],
        **{f"driver_{k}": v for k, v in out["driver"].items()},
    }
    peaks = det["heatmap"].flatten().topk(8).indices
    boxes = prediction.boxes
    assert boxes is not None
    return {
        "digest_names": np.array(sorted(raw)),
        "digests": np.array([digest(raw[k]) for k in sorted(raw)]),
        "heatmap_top_index": peaks.numpy(),
        "heatmap_top": det["heatmap"].flatten()[peaks].numpy(),
        "regression_at_top": det["regression"].flatten(2)[0][:, peaks % det["heatmap"][0, 0].numel()].numpy(),
        "segmentation_row": out["segmentation"][0, :, 100].numpy(),
        "depth_row": out["depth"][0, :, 64].numpy(),
        "driver": torch.cat([v.flatten() for _, v in sorted(out["driver"].items())]).numpy(),
        "boxes": np.concatenate([boxes.center, boxes.size, boxes.yaw[:, None], boxes.velocity,
                                 boxes.label[:, None].astype(np.float64), boxes.score[:, None]], axis=1),
        "eye_gaze_pose_phone": np.concatenate([[prediction.eye_closed], prediction.gaze, prediction.head_pose,
                                               [prediction.phone]]),
    }


if __name__ == "__main__":
    np.savez_compressed(OUTPUTS, **compute())
