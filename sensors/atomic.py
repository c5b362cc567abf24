"""Atomic file writes: a temporary file in the target's folder, then ``os.replace`` over the target
(and :func:`atomic_dir` for outputs that are folders: datasets, rosbag2 recordings).

Readers see either the previous file or the whole new one, never a part: ``os.replace`` is atomic
on POSIX and Windows when source and target are on the same file system, which a temporary file in
the same folder guarantees. Shared by every writer of the code base (``sensors``, ``evaluation``,
``perception``), so it depends on the standard library only.

Conventions, the same for every function here:

* The parent folder of ``path`` is created if missing (``mkdir(parents=True)``).
* The temporary file is ``.<name>.<random>.tmp<suffix>`` next to ``path`` (hidden, and ending in
  the target's own suffix, so a library that picks the format from the extension still works).
* On any exception, ``KeyboardInterrupt`` included, the temporary file is removed and the
  previous file at ``path`` (if any) is left untouched; the exception propagates.
* The new file gets the mode of a file created by ``open()``: ``0o666`` less the umask
  (``0o644`` with the usual umask), as results, exports and checkpoints are meant to be shared.
* No ``fsync``: the write survives a crash of the process, not necessarily a power cut.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_MODES = ("w", "wb")


def _current_umask() -> int:
    """The process umask (reading it requires setting it; it is restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on a clean exit it replaces ``path``.

    For libraries that write by file name (``torch.save``, ``cv2.imwrite``, ``PIL.Image.save``,
    ``np.save``): ``with atomic_path(out) as tmp: torch.save(obj, tmp)``. The temporary file
    exists (empty) when yielded and ends in ``path``'s suffix. Whatever is at the temporary path
    on exit becomes ``path``, so the caller must write there and nowhere else.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_current_umask())
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(
    path: str | Path, write: Callable[[IO[Any]], object], mode: str = "w", *,
    encoding: str = "utf-8", newline: str | None = None,
) -> Path:
    """Call ``write(file)`` on a temporary file opened with ``mode``, then rename it to ``path``.

    Args:
        path: target file.
        write: writes the content to the open file it is given (its return value is ignored).
        mode: ``"w"`` (text, ``encoding`` and ``newline`` as for :func:`open`) or ``"wb"`` (bytes).
        encoding: text encoding (text mode only).
        newline: newline translation (text mode only; ``""`` for the :mod:`csv` module).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``mode`` is not ``"w"`` or ``"wb"``.
    """
    if mode not in _MODES:
        raise ValueError(f"{path}: atomic_write mode must be one of {_MODES}, got {mode!r}")
    path = Path(path)
    with atomic_path(path) as tmp:
        if mode == "wb":
            with open(tmp, "wb") as file:
                write(file)
        else:
            with open(tmp, "w", encoding=encoding, newline=newline) as file:
                write(file)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    return atomic_write(path, lambda file: file.write(data), "wb")


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically in ``encoding`` (no newline translation); returns ``path``.

    Raises:
        UnicodeEncodeError: ``text`` has a character ``encoding`` cannot store (nothing is written).
    """
    return atomic_write_bytes(path, text.encode(encoding))


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a path for a new folder; on a clean exit that folder replaces ``path``.

    For writers that create a folder (a dataset, a rosbag2 recording): the yielded path lies in a
    hidden temporary folder ``.<name>.<random>.tmp`` next to ``path``, has ``path``'s name and does
    not exist yet (create it, or let the writer do so). On a clean exit it is renamed to ``path``;
    a folder or file already at ``path`` is first moved into the temporary folder and deleted with
    it afterwards, so ``path`` is missing only between two renames. On any exception the
    temporary folder is deleted and ``path`` is left untouched. Whether an existing ``path`` may
    be replaced is the caller's decision (check before).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        new = staging / path.name
        yield new
        if not new.exists():
            raise FileNotFoundError(f"{path}: the writer created nothing at {new}; {path} is left as it was")
        if path.exists() or path.is_symlink():
            os.replace(path, staging / f".{path.name}.old")
        os.replace(new, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
