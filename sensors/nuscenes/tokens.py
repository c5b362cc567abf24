"""nuScenes tokens: 32 lowercase hex characters, derived deterministically from names."""
from __future__ import annotations

import hashlib
import re

_TOKEN = re.compile(r"[0-9a-f]{32}")


def is_token(value: str) -> bool:
    """True if ``value`` already has the nuScenes token format (32 lowercase hex characters)."""
    return bool(_TOKEN.fullmatch(value))


def make_token(*parts: object) -> str:
    """A 32-hex token that depends only on ``parts`` (MD5 of their ``/``-joined text)."""
    return hashlib.md5("/".join(str(p) for p in parts).encode()).hexdigest()


def instance_token(scene: str, track_id: str) -> str:
    """Instance token of the object with ``track_id`` in ``scene``.

    A track id that already is a token (e.g. read back from nuScenes) is kept unchanged;
    any other id is hashed together with the scene name, so equal ids in different scenes are
    different instances.
    """
    return track_id if is_token(track_id) else make_token("instance", scene, track_id)


def sample_token(scene: str, frame_token: str) -> str:
    """Sample token of a frame: its own token if it is one, else a hash of scene and token."""
    return frame_token if is_token(frame_token) else make_token("sample", scene, frame_token)
