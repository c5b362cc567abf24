"""Reading a whole input file, with one error per way it can fail, each naming the file.

Shared by every reader (``sensors``, ``evaluation``, ``perception``), so that a missing file, a
folder given where a file is expected and an unreadable file are told apart in one line instead
of all being reported as "missing" or surfacing as an ``IsADirectoryError`` traceback.
"""
from __future__ import annotations

from pathlib import Path

from sensors.errors import CorruptDataError, InvalidValueError, MissingDataError


def check_file(path: str | Path, what: str = "file") -> Path:
    """``path`` as a :class:`Path` if it is an existing regular file.

    Args:
        path: the file.
        what: what the file is, for the message (``"label file"``, ``"checkpoint"``).

    Raises:
        MissingDataError: nothing exists at ``path``.
        InvalidValueError: ``path`` is a folder (or another non-file, e.g. a socket).
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidValueError(path, f"is a folder, expected a {what}")
    if not path.exists():
        raise MissingDataError(path, f"{what} is missing")
    if not path.is_file():
        raise InvalidValueError(path, f"is not a regular file, expected a {what}")
    return path


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """The content of the file ``path``.

    Raises:
        MissingDataError, InvalidValueError: as :func:`check_file`.
        CorruptDataError: the file exists but cannot be read (permissions, I/O error).
    """
    path = check_file(path, what)
    try:
        return path.read_bytes()
    except OSError as error:
        raise CorruptDataError(path, f"{what} cannot be read ({error.strerror or error.__class__.__name__})") from None


def read_text(path: str | Path, what: str = "file", encoding: str = "ascii") -> str:
    """The content of the text file ``path`` in ``encoding``.

    Raises:
        MissingDataError, InvalidValueError, CorruptDataError: as :func:`read_bytes`; also
            CorruptDataError when the bytes are not valid ``encoding`` (a binary file renamed
            ``.txt``), naming the byte offset.
    """
    data = read_bytes(path, what)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise CorruptDataError(path, f"{what} is not {encoding} text (byte {error.start}); a binary file?") from None
