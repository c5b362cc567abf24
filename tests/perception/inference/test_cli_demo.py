"""``perception demo`` end to end: the bag, results.mcap, metrics, report.md and report.html, read
back with other tools (the ``mcap`` reader, rosbags, an HTML parser, Pillow, headless Chromium)."""
import base64
import io
import json
import os
import signal
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from eval_setup import tiny_config, write_checkpoint
from PIL import Image

from perception.cli import main

CABIN_SECONDS = 12


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised tiny model on a small simulated setup (the shipped one is bigger)."""
    ckpt, _ = write_checkpoint(tiny_config(frames_per_scene=4), tmp_path_factory.mktemp("ckpt"))
    return ckpt


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory, checkpoint: Path) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    status = main(["demo", "--out", str(out), "--frames", "2", "--checkpoint", str(checkpoint),
                   "--cabin-seconds", str(CABIN_SECONDS), "--quiet"])
    assert status == 0
    return out


def test_demo_writes_every_output(demo_out: Path):
    for name in ("report.html", "results.mcap", "metrics.json", "report.md", "foxglove_layout.json",
                 "cameras.png", "bev.png", "depth.png", "driver_timeline.png", "drive/metadata.yaml"):
        assert (demo_out / name).is_file() and (demo_out / name).stat().st_size > 0, name
    assert not [p for p in demo_out.rglob("*") if p.name.startswith(".")], "temporary files left behind"
    metrics = json.loads((demo_out / "metrics.json").read_text())
    assert {"nuscenes_detection", "bev_segmentation", "depth", "driver", "latency", "warmup"} <= set(metrics)
    assert metrics["meta"]["frames"] == 2 and metrics["meta"]["frames_without_truth"] == 0
    assert metrics["meta"]["cabin_stream_frames"] == CABIN_SECONDS * 10
    latency = metrics["latency"]
    assert {"decode", "preprocess", "model", "postprocess", "write", "total"} <= set(latency)
    assert all(v["count"] == 2 for v in latency.values())
    # the total of a frame is the sum of its stages: its median is within their medians' range
    assert latency["total"]["max_ms"] >= sum(latency[s]["median_ms"] for s in ("model",))
    assert metrics["warmup"]["first_frame_s"] > 0
    report = (demo_out / "report.md").read_text()
    assert "Warm-up, not included above" in report and report.count("|") > 50


def test_demo_bag_and_results_read_by_other_readers(demo_out: Path):
    from mcap.reader import make_reader
    from rosbags.rosbag2 import Reader

    with Reader(demo_out / "drive") as bag:
        counts = {c.topic: c.msgcount for c in bag.connections}
    assert counts["/LIDAR_TOP"] == 2 and counts["/CAM_FRONT/image_rect_compressed"] >= 2
    with open(demo_out / "results.mcap", "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        topics = {c.topic: summary.statistics.channel_message_counts[c.id] for c in summary.channels.values()}
    assert topics["/lidar/points"] == 2 and topics["/detections/boxes"] == 2 and topics["/bev/segmentation"] == 2
    assert topics["/ground_truth/boxes"] == 2 and topics["/camera/CAM_FRONT/image"] == 2


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.external: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if attrs.get(key) and not attrs[key].startswith(("data:", "#")):
                self.external.append(attrs[key])


def test_report_html_is_self_contained(demo_out: Path):
    page = _Page()
    page.feed((demo_out / "report.html").read_text())
    assert page.external == [] and page.scripts == 0
    alts = [image["alt"] for image in page.images]
    for title in ("6 cameras", "Bird's-eye view", "Predicted against true depth", "Driver timeline",
                  "Precision-recall curves", "True-positive errors"):
        assert title in alts
    for image in page.images:
        head, data = image["src"].split(",", 1)
        assert head == "data:image/png;base64"
        picture = Image.open(io.BytesIO(base64.b64decode(data)))
        picture.load()
        assert picture.width > 50 and picture.height > 50
        assert np.asarray(picture.convert("L")).std() > 5, f"{image['alt']} is blank"
    # the embedded camera picture is the PNG written next to the report
    cameras = next(i for i in page.images if i["alt"] == "6 cameras")
    assert base64.b64decode(cameras["src"].split(",", 1)[1]) == (demo_out / "cameras.png").read_bytes()


def test_report_html_headline_numbers_are_the_metrics(demo_out: Path):
    metrics = json.loads((demo_out / "metrics.json").read_text())
    html = (demo_out / "report.html").read_text()
    assert f"{metrics['nuscenes_detection']['nd_score']:.3f}" in html
    assert f"{metrics['bev_segmentation']['miou']:.3f}" in html
    assert f"{metrics['depth']['per_image']['abs_rel']:.3f}" in html
    assert f"{metrics['driver']['frames']['gaze']['accuracy']:.3f}" in html
    assert f"warm-up {metrics['warmup']['first_frame_s']:.1f} s" in html
    assert "replayed through ckpt.pt" in html and "foxglove_layout.json" in html


def test_report_html_renders_in_chromium(demo_out: Path, tmp_path: Path):
    from browser import render

    shot = Path(os.environ.get("DEMO_SCREENSHOT", tmp_path / "report.png"))
    page = render(demo_out / "report.html", shot)
    assert page.errors == [], page.errors
    assert page.external == []
    assert page.width <= 1280, "the page scrolls sideways"
    assert page.height > 3000 and page.text > 2000
    assert len(page.images) >= 8
    for image in page.images:
        assert image["complete"] and min(image["natural"]) > 0 and min(image["shown"]) > 50, image
    screenshot = np.asarray(Image.open(shot).convert("L"))
    assert screenshot.shape[1] == 1280 and screenshot.shape[0] >= min(page.height, 16384) - 1
    assert screenshot.std() > 20


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    return subprocess.run([sys.executable, "-m", "perception.cli", *args], check=False, capture_output=True, text=True,
                          timeout=300, env=env, **kwargs)


@pytest.mark.parametrize(
    "args, message",
    [
        (["demo", "--frames", "0"], "--frames must be at least 1"),
        (["demo", "--checkpoint", "/nonexistent/model.pt"], "/nonexistent/model.pt: checkpoint file does not exist"),
        (["simulate", "--out", "/tmp/x", "--frames", "-1"], "--frames must be >= 1"),
    ],
)
def test_user_error_is_one_line_and_exit_2(tmp_path: Path, args, message):
    result = run_cli(*args, "--out", str(tmp_path)) if args[0] == "demo" else run_cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_demo_output_that_cannot_be_written_is_one_line(tmp_path: Path, checkpoint: Path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "sub"):
        result = run_cli("demo", "--out", str(out), "--checkpoint", str(checkpoint), "--quiet")
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and str(out) in lines[0], result.stderr
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_demo_with_a_file_that_is_no_checkpoint_writes_nothing(tmp_path: Path):
    bad = tmp_path / "config.yaml"
    bad.write_text("model: {}\n")
    out = tmp_path / "out"
    result = run_cli("demo", "--out", str(out), "--checkpoint", str(bad), "--quiet")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "checkpoint" in lines[0], result.stderr
    assert not out.exists()


def test_demo_replaces_an_earlier_demo_and_nothing_else(tmp_path: Path):
    from perception.demo import is_demo_output

    out = tmp_path / "out"
    (out / "drive").mkdir(parents=True)
    (out / "report.html").write_text("stale")
    (out / "evaluation").mkdir()  # the output of an earlier version of the demo
    assert is_demo_output(out)
    (out / "notes.txt").write_text("mine")
    assert not is_demo_output(out)
    result = run_cli("demo", "--out", str(out), "--quiet")
    assert result.returncode == 2 and "already holds other files" in result.stderr, result.stderr
    assert (out / "notes.txt").read_text() == "mine" and (out / "report.html").read_text() == "stale"


@pytest.mark.slow
def test_ctrl_c_during_the_replay_keeps_what_was_finished(tmp_path: Path, checkpoint: Path):
    """SIGINT once the replay has started: exit 130, one line; the bag is complete, results.mcap
    (if the replay had begun) is a finished file, no report and no temporary file."""
    from mcap.reader import make_reader

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    process = subprocess.Popen([sys.executable, "-m", "perception.cli", "demo", "--out", str(out), "--checkpoint",
                                str(checkpoint), "--frames", "4", "--cabin-seconds", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "replaying the bag" in line:
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=300)
    assert process.returncode == 130, "".join(lines) + rest
    assert "interrupted" in rest and "Traceback" not in rest
    assert (out / "drive" / "metadata.yaml").is_file()
    assert not (out / "report.html").exists() and not (out / "metrics.json").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]
    if (out / "results.mcap").exists():
        with open(out / "results.mcap", "rb") as f:
            assert make_reader(f).get_summary() is not None
