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

Whole output folders (a dataset, a recording, an evaluation) are written with :func:`atomic_dir`:
inside a hidden temporary sibling folder, renamed over the target at the end. An interrupted run
(Ctrl-C, an error) removes its temporary folder; one killed outright (SIGKILL, power cut) leaves
it behind, and the next :func:`atomic_dir` on the same target removes it.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_MODES = ("w", "wb")
#: What follows ``.<name>.`` in the temporaries of this module: ``tmp-<tag>`` / ``old-<random>``
#: (folders) and ``<8 random characters of tempfile>.tmp<suffix>`` (files and write probes).
_STALE = re.compile(r"(?:tmp|old)-.+|[a-z0-9_]{8}\.tmp.*")


def _current_umask() -> int:
    """The process umask (reading it requires setting it; it is restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _naming(error: OSError, path: Path, action: str) -> OSError:
    """``error`` (same class and errno) reworded to name the target ``path`` instead of a temporary."""
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    reason = f"{ancestor} is a file" if not ancestor.is_dir() else error.strerror or str(error)
    return type(error)(error.errno, f"{action} ({reason})", str(path))


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on a clean exit it replaces ``path``.

    For libraries that write by file name (``torch.save``, ``cv2.imwrite``, ``PIL.Image.save``,
    ``np.save``): ``with atomic_path(out) as tmp: torch.save(obj, tmp)``. The temporary file
    exists (empty) when yielded and ends in ``path``'s suffix. Whatever is at the temporary path
    on exit becomes ``path``, so the caller must write there and nowhere else.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    except OSError as error:
        raise _naming(error, path, "cannot create the file") from None
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


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def check_output_dir(path: str | Path, is_previous_output: Callable[[Path], bool], what: str = "output folder") -> Path:
    """Refuse an output folder that cannot be written or would clobber something else, before any work.

    ``path`` may be absent, an empty folder, or a folder for which ``is_previous_output(path)``
    is true (a previous output of the same command, which the new one replaces).

    Raises:
        FileExistsError: ``path`` is a file, or a folder holding something else (nothing is touched).
        NotADirectoryError: a parent of ``path`` is a file.
        OSError (e.g. PermissionError): no file can be created in the nearest existing parent
            folder (probed by creating and removing one), naming ``path``.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(errno.EEXIST, f"is a file where the {what} should go", str(path))
    if path.is_dir() and not _is_empty_dir(path) and not is_previous_output(path):
        raise FileExistsError(
            errno.EEXIST, f"{what} already holds other files; refusing to replace it (choose another or empty it)",
            str(path),
        )
    _probe_parent(path, what)
    return path


def check_output_file(path: str | Path, what: str = "output file") -> Path:
    """Refuse an output file that cannot be written, before any work: a folder, or an unwritable place.

    Raises:
        IsADirectoryError: ``path`` is a folder.
        NotADirectoryError, PermissionError, OSError: its folder cannot be created or written
            (naming ``path``).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"is a folder where the {what} should go", str(path))
    _probe_parent(path, what)
    return path


def _probe_parent(path: Path, what: str) -> None:
    """Check that ``path`` can be created: its nearest existing parent is a folder that accepts a file.

    Writes and removes an empty probe file there (permission bits alone mislead: root ignores
    them, and a read-only or full file system does not show in them).
    """
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{parent} is a file, so the {what} cannot be created", str(path))
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp-probe")
    except OSError as error:
        raise _naming(error, path, f"cannot create the {what} in {parent}") from None
    os.close(fd)
    os.unlink(probe)


def remove_stale_temporaries(path: str | Path, keep: Path | None = None) -> list[Path]:
    """Remove the temporaries that writes of ``path`` left behind when killed; returns what was removed.

    Matches the names :func:`atomic_path` (``.<name>.<random>.tmp<suffix>``) and :func:`atomic_dir`
    (``.<name>.tmp-<tag>``, ``.<name>.old-<random>``) give them, next to ``path``; ``keep`` is spared.
    Only call it when no other process is writing ``path``.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    for entry in path.parent.glob(f".{path.name}.*"):
        if entry == keep or not _STALE.fullmatch(entry.name[len(path.name) + 2:]):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


@contextmanager
def atomic_dir(
    path: str | Path, is_previous_output: Callable[[Path], bool] | None = None, *,
    what: str = "output folder", tag: str | None = None, commit: bool = True,
) -> Iterator[Path]:
    """Yield a path for a new folder; on a clean exit that folder replaces ``path``.

    The yielded path has ``path``'s name inside a hidden temporary folder next to ``path``
    (``.<name>.<random>.tmp``, or ``.<name>.tmp-<tag>``) and does not exist yet: create it, or let
    the writer do so. On a clean exit it is renamed to ``path``; a folder already at ``path`` is
    first moved into the temporary folder and deleted with it, so ``path`` is missing only between
    two renames. On any exception, ``KeyboardInterrupt`` included, the temporary folder is deleted
    and ``path`` is left untouched. Temporaries of an earlier run killed outright are removed.

    Args:
        path: the output folder.
        is_previous_output: if given, ``path`` is checked first with :func:`check_output_dir`
            (absent, empty, or a previous output of the same command; never a file or a folder of
            something else). None: whether an existing ``path`` may be replaced is the caller's
            decision (check before).
        what: what the folder is, for error messages.
        tag: fixed part of the temporary name, so that several processes of one run (``torchrun``
            ranks) write into the same folder; default: a fresh random name.
        commit: False for processes that only add files (the ranks other than 0): they neither
            check, clean, rename nor remove anything.

    Raises:
        FileExistsError, NotADirectoryError, OSError: see :func:`check_output_dir`; OSError naming
            ``path`` when the temporary folder cannot be created.
        FileNotFoundError: the writer created nothing at the yielded path (``path`` is left as it was).
    """
    path = Path(os.path.abspath(path))  # "." and "out/.." have a usable name and parent this way
    if not commit:
        if tag is None:
            raise ValueError("atomic_dir: commit=False needs a shared tag")
        yield path.parent / f".{path.name}.tmp-{tag}" / path.name
        return
    if is_previous_output is not None:
        check_output_dir(path, is_previous_output, what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if tag is None:
            staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        else:
            staging = path.parent / f".{path.name}.tmp-{tag}"
            staging.mkdir(exist_ok=True)
    except OSError as error:
        raise _naming(error, path, f"cannot create the {what}") from None
    remove_stale_temporaries(path, keep=staging)
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
