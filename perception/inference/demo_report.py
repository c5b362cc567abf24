"""The pictures of a replayed, scored drive and its ``report.html`` (see :mod:`perception.demo`).

Pictures (also written as PNG next to the report): the six cameras and the bird's-eye view of
one frame (the middle one of the drive), the predicted against the true depth of its cameras, and
the driver timeline of the cabin stream (:func:`evaluation.plots.plot_driver_timeline`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evaluation.html_report import Picture, write_html_report
from evaluation.plots import plot_driver_timeline
from perception.config import Config
from perception.data import frame_to_sample
from perception.demo import PICTURES as PICTURE_FILES
from perception.demo import REPORT_HTML
from perception.inference.driver_events import driver_timeline
from perception.inference.record_sink import RecordSink
from perception.inference.records import DriverObservation
from perception.inference.report_pictures import (
    CAMERA_ORDER,
    bev_picture,
    cameras_picture,
    depth_pair,
    stack_tiles,
)
from perception.inference.visualize import DEPTH_RANGE
from sensors.drawing import write_png

SCENE, DRIVER = "The drive (one frame)", "Driver monitoring"


def scene_pictures(sink: RecordSink, config: Config, out_dir: Path) -> list[Picture]:
    """Cameras, BEV and depth pictures of the middle replayed frame, written as PNG into ``out_dir``."""
    if not sink.frames:
        return []
    index = len(sink.frames) // 2
    raw, prediction = sink.frames[index]
    frame = sink.with_truth(raw)
    seconds = (frame.timestamp - sink.frames[0][0].timestamp) * 1e-6
    where = f"Frame {index + 1} of {len(sink.frames)} ({seconds:.1f} s into the drive)"
    pictures = []
    cameras = cameras_picture(frame, prediction)
    if cameras is not None:
        pictures.append(("cameras", f"{len(frame.cameras)} cameras", cameras,
                         f"{where}. True boxes in green, predicted boxes in class colours with their score."))
    grid = config.model.heads.segmentation.grid
    pictures.append(("bev", "Bird's-eye view", bev_picture(frame, prediction, grid),
                     f"{where}. 100 m x 100 m around the car, forward up. True map layers filled, "
                     "predicted map (p >= 0.5) outlined in the same colours; LiDAR points grey; true boxes green, "
                     "predicted boxes in class colours (the short line marks the heading)."))
    if prediction.depth:
        sample = frame_to_sample(frame, config.model)
        index_of = {name: i for i, name in enumerate(config.model.cameras)}
        names = [n for n in CAMERA_ORDER if n in index_of] + [n for n in index_of if n not in CAMERA_ORDER]
        pairs = [depth_pair(frame.cameras[n], prediction.depth[n], sample.depth[index_of[n]].numpy())
                 for n in names if n in frame.cameras and n in prediction.depth]
        if pairs:
            pictures.append(("depth", "Predicted against true depth", stack_tiles(pairs, 2),
                             f"{where}, at the model's input size. Colour scale 0 m (blue) to {DEPTH_RANGE:g} m "
                             "(red); the truth is the LiDAR projected into each camera. Cameras in the order "
                             "front left, front, front right, back left, back, back right."))
    out = []
    for key, title, image, caption in pictures:
        path = write_png(image, out_dir / PICTURE_FILES[key])
        out.append(Picture(SCENE, title, path.read_bytes(), caption))
    return out


def driver_picture(cabin: Sequence[DriverObservation], out_dir: Path) -> list[Picture]:
    """The driver timeline of the cabin stream, written as PNG into ``out_dir`` ([] without a stream)."""
    if len(cabin) < 2:
        return []
    timeline = driver_timeline(cabin)
    path = plot_driver_timeline(timeline, out_dir / PICTURE_FILES["driver"])
    fired = len(timeline.warnings["predicted"])
    caption = (f"{timeline.times_s[-1]:.0f} s of simulated cabin video at "
               f"{(len(cabin) - 1) / max(timeline.times_s[-1], 1e-9):.0f} Hz: the driver head's output (orange) "
               "against the truth (black; the predicted openness is 1 - P(eyes closed)), run through the temporal "
               "monitor (Euro NCAP thresholds, docs/monitor.md). "
               f"{fired} warning(s) fired on the prediction, {len(timeline.warnings['true'])} on the truth.")
    return [Picture(DRIVER, "Driver timeline", path.read_bytes(), caption)]


def write_demo_html(out_dir: Path, metrics: dict, sink: RecordSink, cabin: Sequence[DriverObservation],
                    config: Config, markdown_report: Path, model_name: str,
                    notes: Sequence[str] = ()) -> dict[str, Path]:
    """Write the pictures and ``report.html`` (titled with ``model_name``); returns name -> path of
    every file written."""
    pictures = scene_pictures(sink, config, out_dir) + driver_picture(cabin, out_dir)
    files = {name: out_dir / name for name in PICTURE_FILES.values() if (out_dir / name).exists()}
    title = f"perception demo: a simulated drive replayed through {model_name}"
    files[REPORT_HTML] = write_html_report(out_dir / REPORT_HTML, title, metrics, pictures, markdown_report,
                                           list(notes))
    return files

