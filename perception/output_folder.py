"""The output folder of a command: created, and checked to be writable before any work starts."""
from __future__ import annotations

import tempfile
from pathlib import Path


def writable_folder(path: str | Path, option: str = "--out") -> Path:
    """Create the folder ``path`` if missing and check that a file can be written in it.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``path`` is a file, or cannot be created or written; one line naming the
            option, the path and the reason (for example a parent that is a file, no permission,
            a read-only or full file system).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ValueError(f"{option} {path}: cannot write there ({error.strerror or error})") from None
    return path
