"""The Foxglove layout that opens a replay's ``results.mcap`` (or its live stream): built with the
SDK's layout types (:mod:`foxglove.layouts`) and shipped as ``docs/foxglove_layout.json``.

Left: the 3D view in ``base_link`` (LiDAR cloud coloured by intensity, predicted and ground-truth
boxes, the drivable-area probability of the BEV segmentation under them; the ground-truth map is
listed, switched off). Right, top: the six
street cameras with the projected predicted boxes; bottom: tabs with the front camera's predicted
depth, the cabin camera, a plot of the driver state (eyes-closed and phone probabilities,
PERCLOS) and the log of driver events.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import foxglove.layouts as fl

from perception.replay.foxglove_sink import TOPICS
from sensors.atomic import atomic_write_text
from sensors.frame import CAMERA_NAMES

#: Street cameras in the layout's 2 x 3 grid: front row left to right, then back row.
GRID: tuple[tuple[str, ...], tuple[str, ...]] = (("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"),
                                                 ("CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT"))
#: Depth colour scale of the depth image panel, metres.
DEPTH_RANGE_M = (0.0, 60.0)


def _camera_panel(camera: str) -> fl.ImagePanel:
    annotations = TOPICS["annotations"].format(camera=camera)
    return fl.ImagePanel(title=camera, config=fl.ImageConfig(image_mode=fl.ImageModeConfig(
        image_topic=TOPICS["image"].format(camera=camera), calibration_topic=TOPICS["calibration"].format(camera=camera),
        annotations={annotations: fl.ImageAnnotationSettings(visible=True)})))


def _three_d() -> fl.ThreeDeePanel:
    topics = {
        TOPICS["points"]: fl.BaseRendererPointCloudTopicSettings(
            visible=True, color_mode="colormap", color_field="intensity", color_map="turbo", point_size=2.0),
        TOPICS["boxes"]: fl.BaseRendererSceneUpdateTopicSettings(visible=True, show_outlines=True),
        TOPICS["gt_boxes"]: fl.BaseRendererSceneUpdateTopicSettings(visible=True, show_outlines=True),
        TOPICS["bev"]: fl.BaseRendererGridTopicSettings(
            visible=True, color_mode="gradient", color_field="drivable_area", gradient=("#00000000", "#3050ffaa"),
            min_value=0.0, max_value=255.0, frame_locked=True, draw_behind=True),
        TOPICS["gt_bev"]: fl.BaseRendererGridTopicSettings(
            visible=False, color_mode="gradient", color_field="drivable_area", gradient=("#00000000", "#30c050aa"),
            min_value=0.0, max_value=255.0, frame_locked=True, draw_behind=True),
    }
    return fl.ThreeDeePanel(title="3D (base_link)", config=fl.ThreeDeeConfig(
        follow_tf="base_link", fixed_frame="map", follow_mode="follow-pose", topics=topics))


def foxglove_layout(cameras: Sequence[str] = CAMERA_NAMES) -> fl.Layout:
    """The layout for a replay of a rig with ``cameras`` (the street cameras of the model)."""
    rows = [[c for c in row if c in cameras] for row in GRID]
    rows = [row for row in rows if row] + [[c for c in cameras if not any(c in row for row in GRID)]]
    grid = fl.SplitContainer(direction="column", items=[
        fl.SplitItem(content=fl.SplitContainer(direction="row", items=[fl.SplitItem(content=_camera_panel(c))
                                                                       for c in row]))
        for row in rows if row])
    depth_camera = "CAM_FRONT" if "CAM_FRONT" in cameras else cameras[0]
    depth = fl.ImagePanel(title=f"depth {depth_camera}", config=fl.ImageConfig(image_mode=fl.ImageModeConfig(
        image_topic=TOPICS["depth"].format(camera=depth_camera), color_mode="colormap", color_map="turbo",
        min_value=DEPTH_RANGE_M[0], max_value=DEPTH_RANGE_M[1])))
    cabin = fl.ImagePanel(title="cabin", config=fl.ImageConfig(image_mode=fl.ImageModeConfig(image_topic=TOPICS["cabin"])))
    state = TOPICS["driver_state"]
    plot = fl.PlotPanel(title="driver state", config=fl.PlotConfig(paths=[
        fl.PlotSeries(value=f"{state}.eye_closed_p", label="P(eyes closed)"),
        fl.PlotSeries(value=f"{state}.phone_p", label="P(phone)"),
        fl.PlotSeries(value=f"{state}.perclos", label="PERCLOS"),
    ], min_y_value=0.0, max_y_value=1.0))
    events = fl.LogPanel(title="driver events", config=fl.LogConfig(topic_to_render=TOPICS["driver_events"]))
    tabs = fl.TabContainer(tabs=[
        fl.TabItem(title="depth", content=depth),
        fl.TabItem(title="driver", content=fl.SplitContainer(direction="row", items=[
            fl.SplitItem(content=cabin), fl.SplitItem(content=plot), fl.SplitItem(content=events)])),
    ])
    right = fl.SplitContainer(direction="column", items=[fl.SplitItem(proportion=2, content=grid),
                                                         fl.SplitItem(proportion=1, content=tabs)])
    return fl.Layout(content=fl.SplitContainer(direction="row", items=[fl.SplitItem(proportion=2, content=_three_d()),
                                                                       fl.SplitItem(proportion=3, content=right)]))


def layout_json(cameras: Sequence[str] = CAMERA_NAMES) -> str:
    """:func:`foxglove_layout` as indented JSON (the format Foxglove imports)."""
    import json

    return json.dumps(json.loads(foxglove_layout(cameras).to_json()), indent=2) + "\n"


def write_layout(path: str | Path, cameras: Sequence[str] = CAMERA_NAMES) -> Path:
    """Write :func:`layout_json` to ``path`` atomically; returns ``path``."""
    return atomic_write_text(path, layout_json(cameras))
