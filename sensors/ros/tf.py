"""``tf2_msgs/TFMessage`` <-> 4x4 transforms, and a small transform buffer (static + dynamic).

A ``geometry_msgs/TransformStamped`` with ``header.frame_id`` = parent and ``child_frame_id``
= child is the pose of the child in the parent: it maps child coordinates to parent
coordinates, ``T_child_to_parent`` in :mod:`sensors.geometry` terms. ROS quaternions are
``(x, y, z, w)``; the data model's are ``(w, x, y, z)``.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rosbags.typesys.store import Typestore

from sensors.geometry import (
    invert_transform,
    make_transform,
    matrix_to_quaternion,
    quaternion_to_matrix,
)
from sensors.ros.types import header, stamp_to_ns


@dataclass(frozen=True)
class StampedTransform:
    """One transform: ``matrix`` (4, 4) maps ``child`` coordinates to ``parent`` at ``stamp_ns``."""

    parent: str
    child: str
    stamp_ns: int
    matrix: np.ndarray


def transform_from_msg(msg: Any) -> StampedTransform:
    """A ``geometry_msgs/TransformStamped`` as a :class:`StampedTransform`.

    Raises:
        ValueError: a non-finite or zero quaternion or translation; parent = child or unnamed.
    """
    t, q = msg.transform.translation, msg.transform.rotation
    rotation = quaternion_to_matrix([q.w, q.x, q.y, q.z])
    translation = np.array([t.x, t.y, t.z], dtype=np.float64)
    if not np.all(np.isfinite(translation)):
        raise ValueError(f"transform {msg.header.frame_id} -> {msg.child_frame_id}: translation is not finite")
    parent, child = _frame(msg.header.frame_id), _frame(msg.child_frame_id)
    if parent == child or not parent or not child:
        raise ValueError(f"transform {parent!r} -> {child!r}: parent and child must be two named frames")
    return StampedTransform(parent, child, stamp_to_ns(msg.header.stamp), make_transform(rotation, translation))


def _frame(name: str) -> str:
    """Frame ids without the leading slash ROS 1 tools sometimes add (tf2 ignores it too)."""
    return str(name).lstrip("/")


def transform_to_msg(store: Typestore, parent: str, child: str, matrix: np.ndarray, stamp_ns: int) -> Any:
    """A ``geometry_msgs/TransformStamped`` of ``store`` mapping ``child`` to ``parent``."""
    types = store.types
    w, x, y, z = matrix_to_quaternion(np.asarray(matrix)[:3, :3])
    tx, ty, tz = (float(v) for v in np.asarray(matrix)[:3, 3])
    return types["geometry_msgs/msg/TransformStamped"](
        header=header(store, stamp_ns, parent), child_frame_id=child,
        transform=types["geometry_msgs/msg/Transform"](
            translation=types["geometry_msgs/msg/Vector3"](x=tx, y=ty, z=tz),
            rotation=types["geometry_msgs/msg/Quaternion"](x=float(x), y=float(y), z=float(z), w=float(w))))


def tf_message(store: Typestore, transforms: list[Any]) -> Any:
    """A ``tf2_msgs/TFMessage`` holding ``transforms`` (TransformStamped messages)."""
    return store.types["tf2_msgs/msg/TFMessage"](transforms=transforms)


def _slerp(q0: np.ndarray, q1: np.ndarray, fraction: float) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions (shortest arc)."""
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + fraction * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(dot)
    return (np.sin((1.0 - fraction) * theta) * q0 + np.sin(fraction * theta) * q1) / np.sin(theta)


@dataclass
class _Edge:
    parent: str
    stamps: list[int] = field(default_factory=list)
    quaternions: list[np.ndarray] = field(default_factory=list)
    translations: list[np.ndarray] = field(default_factory=list)


class TfBuffer:
    """Transforms between coordinate frames over time, as tf2 keeps them.

    Static transforms (``/tf_static``) hold at every time; dynamic ones (``/tf``) are
    interpolated between the two samples around the requested time (translation linearly,
    rotation by slerp) and never extrapolated: outside the samples, or between samples more than
    ``max_gap_s`` apart, a lookup fails. Each frame has one parent (a tree); samples older than
    ``cache_s`` before the newest one of their edge are forgotten.

    Args:
        cache_s: seconds of dynamic history kept per edge.
        max_gap_s: largest time between two samples that is interpolated.
    """

    def __init__(self, cache_s: float = 30.0, max_gap_s: float = 1.0) -> None:
        self.cache_ns = int(cache_s * 1e9)
        self.max_gap_ns = int(max_gap_s * 1e9)
        self._static: dict[str, tuple[str, np.ndarray]] = {}
        self._dynamic: dict[str, _Edge] = {}

    def add(self, transform: StampedTransform, static: bool) -> None:
        """Add one transform (static: valid at all times)."""
        if static:
            self._static[transform.child] = (transform.parent, transform.matrix)
            return
        edge = self._dynamic.setdefault(transform.child, _Edge(transform.parent))
        edge.parent = transform.parent
        i = bisect.bisect_left(edge.stamps, transform.stamp_ns)
        q = matrix_to_quaternion(transform.matrix[:3, :3])
        if i < len(edge.stamps) and edge.stamps[i] == transform.stamp_ns:
            edge.quaternions[i], edge.translations[i] = q, transform.matrix[:3, 3].copy()
            return
        edge.stamps.insert(i, transform.stamp_ns)
        edge.quaternions.insert(i, q)
        edge.translations.insert(i, transform.matrix[:3, 3].copy())
        cut = bisect.bisect_left(edge.stamps, edge.stamps[-1] - self.cache_ns)
        if cut:
            del edge.stamps[:cut], edge.quaternions[:cut], edge.translations[:cut]

    def add_message(self, msg: Any, static: bool) -> int:
        """Add every transform of a ``tf2_msgs/TFMessage``; returns how many were unusable
        (non-finite or zero quaternions, a frame that is its own parent), which are skipped."""
        bad = 0
        for item in msg.transforms:
            try:
                self.add(transform_from_msg(item), static)
            except ValueError:
                bad += 1
        return bad

    def _edge(self, child: str, stamp_ns: int) -> tuple[str, np.ndarray] | None:
        """(parent, child-to-parent 4x4) at ``stamp_ns``, or None when unknown at that time."""
        if child in self._static:
            return self._static[child]
        edge = self._dynamic.get(child)
        if edge is None or not edge.stamps:
            return None
        i = bisect.bisect_left(edge.stamps, stamp_ns)
        if i < len(edge.stamps) and edge.stamps[i] == stamp_ns:
            return edge.parent, make_transform(quaternion_to_matrix(edge.quaternions[i]), edge.translations[i])
        if i == 0 or i == len(edge.stamps):
            return None
        t0, t1 = edge.stamps[i - 1], edge.stamps[i]
        if t1 - t0 > self.max_gap_ns:
            return None
        fraction = (stamp_ns - t0) / (t1 - t0)
        q = _slerp(edge.quaternions[i - 1], edge.quaternions[i], fraction)
        translation = (1.0 - fraction) * edge.translations[i - 1] + fraction * edge.translations[i]
        return edge.parent, make_transform(quaternion_to_matrix(q), translation)

    def _parent(self, frame: str) -> str | None:
        if frame in self._static:
            return self._static[frame][0]
        edge = self._dynamic.get(frame)
        return edge.parent if edge is not None else None

    def _ancestors(self, frame: str) -> list[str]:
        """``frame``, its parent, ... up to the root; empty on a loop."""
        chain, seen = [frame], {frame}
        while (parent := self._parent(chain[-1])) is not None:
            if parent in seen:
                return []
            chain.append(parent)
            seen.add(parent)
        return chain

    def _along(self, chain: list[str], stamp_ns: int) -> np.ndarray | None:
        """chain[0]-to-chain[-1] 4x4 at ``stamp_ns`` (each frame's parent is the next one)."""
        matrix = np.eye(4)
        for child in chain[:-1]:
            link = self._edge(child, stamp_ns)
            if link is None:
                return None
            matrix = link[1] @ matrix
        return matrix

    def lookup(self, target: str, source: str, stamp_ns: int) -> np.ndarray | None:
        """4x4 mapping ``source`` coordinates to ``target`` coordinates at ``stamp_ns`` (the
        pose of ``source`` in ``target``), or None when the frames are not connected then.
        Only the links up to the frames' nearest common ancestor are evaluated."""
        target, source = _frame(target), _frame(source)
        if target == source:
            return np.eye(4)
        up_source, up_target = self._ancestors(source), self._ancestors(target)
        common = next((f for f in up_source if f in set(up_target)), None)
        if common is None:
            return None
        a = self._along(up_source[: up_source.index(common) + 1], stamp_ns)
        b = self._along(up_target[: up_target.index(common) + 1], stamp_ns)
        if a is None or b is None:
            return None
        return invert_transform(b) @ a
