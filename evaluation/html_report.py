"""The evaluation report as one self-contained HTML file (``report.html``) that opens in any browser.

The page holds: the headline numbers of every scored head (:func:`headline_cards`), the pictures
given by the caller (each embedded as a ``data:`` URI), and the markdown report of
:func:`evaluation.report.write_report` rendered to HTML with its tables and plots, the plots
embedded too. Nothing is fetched from elsewhere: no script, font or style sheet outside the file.
Rendered with Jinja2 (``evaluation/templates/report.html.j2``, autoescaped) and markdown-it-py.
"""
from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from sensors.atomic import atomic_write

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass
class Picture:
    """A picture of the report: PNG bytes with a title and a caption, in section ``section``."""

    section: str
    title: str
    png: bytes
    caption: str = ""

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class Card:
    """A headline number: ``value`` of ``label`` for the head ``head``, with a smaller ``detail`` line."""

    head: str
    label: str
    value: str
    detail: str = ""


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def headline_cards(metrics: dict) -> list[Card]:
    """One card per scored head (detection, BEV map, depth, driver) and the latency, from ``metrics``
    (the sections of :mod:`evaluation.report`, plus ``warmup`` seconds when given)."""
    cards = []
    det = metrics.get("nuscenes_detection")
    if det:
        cards.append(Card("3D detection", "NDS", _f(det["nd_score"]), f"mAP {_f(det['mean_ap'])}"))
    kitti = metrics.get("kitti")
    if kitti and "3d" in kitti.get("ap", {}):
        car = kitti["ap"]["3d"].get("Car")
        if car:
            cards.append(Card("3D detection", "KITTI Car 3D AP (moderate, R40)", _f(car["moderate"]["R40"], 2)))
    seg = metrics.get("bev_segmentation")
    if seg:
        cards.append(Card("BEV map", "mIoU", _f(seg.get("miou")), f"{len(seg.get('iou', {}))} classes"))
    depth = metrics.get("depth")
    if depth:
        cards.append(Card("Depth", "AbsRel", _f(depth["per_image"]["abs_rel"]),
                          f"RMSE {_f(depth['per_image']['rmse'], 2)} m, δ<1.25 {_f(depth['per_image']['delta1'])}"))
    driver = metrics.get("driver")
    if driver:
        frames = driver.get("frames", {})
        events = driver.get("events", {}).get("all")
        if events and events["target"]:
            detail = (f"{events['target']} true events: recall {_f(events['recall'], 2)}, "
                      f"precision {_f(events['precision'], 2)}")
        else:
            detail = "no driver event in the cabin stream" if events else ""
        gaze = _f(frames.get("gaze", {}).get("accuracy"))
        cards.append(Card("Driver monitoring", "gaze-zone accuracy", gaze, detail))
    latency = metrics.get("latency", {}).get("total")
    if latency:
        warmup = metrics.get("warmup", {}).get("first_frame_s")
        detail = f"p99 {latency['p99_ms']:.0f} ms"
        if warmup is not None:
            detail += f"; warm-up {warmup:.1f} s, not included"
        cards.append(Card("Latency", "median per frame", f"{latency['median_ms']:.0f} ms", detail))
    return cards


def _embed_images(html_tokens, base: Path) -> None:
    """Replace the ``src`` of every image token that names a file under ``base`` by its data URI."""
    for token in html_tokens:
        for child in token.children or []:
            if child.type != "image":
                continue
            src = child.attrGet("src")
            path = base / str(src)
            if src and "://" not in str(src) and path.is_file():
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                child.attrSet("src", f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii"))


def markdown_to_html(text: str, base: Path) -> Markup:
    """CommonMark with tables to HTML, images under ``base`` embedded as data URIs."""
    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(text)
    _embed_images(tokens, base)
    return Markup(md.renderer.render(tokens, md.options, {}))


def write_html_report(path: str | Path, title: str, metrics: dict, pictures: list[Picture], markdown_report: Path,
                      notes: list[str] | None = None) -> Path:
    """Write the self-contained report page to ``path`` atomically and return it.

    Args:
        title: page title.
        metrics: the metrics (for the headline cards).
        pictures: figures shown before the detailed report, grouped by ``Picture.section`` in order.
        markdown_report: ``report.md``; rendered with the images it links (relative to its folder).
        notes: short lines shown under the headline (what was run, where the files are).
    """
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    sections: dict[str, list[Picture]] = {}
    for picture in pictures:
        sections.setdefault(picture.section, []).append(picture)
    markdown_report = Path(markdown_report)
    html = env.get_template("report.html.j2").render(
        title=title, cards=headline_cards(metrics), notes=notes or [], sections=sections,
        details=markdown_to_html(markdown_report.read_text(), markdown_report.parent))
    return atomic_write(path, lambda f: f.write(html))
