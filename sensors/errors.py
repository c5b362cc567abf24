"""Errors raised by every reader and writer in :mod:`sensors`.

Every error names the file (or table row) at fault and the reason, so that the CLI can print
one line and exit non-zero instead of a traceback.
"""
from __future__ import annotations

from pathlib import Path


class SensorDataError(Exception):
    """Base class: sensor data that cannot be used, with the file and the reason.

    The errors pickle with their source and reason (``multiprocessing``, ``torch.distributed``).
    A PyTorch ``DataLoader`` worker re-raises an error in the main process by calling its class
    with one argument, a text ending in the original traceback; that form is accepted too and
    keeps only the last line, the original one-line message.

    Args:
        source: the file, folder or table (``"sample_annotation.json"``) at fault; may be ``None``
            for in-memory data.
        reason: what is wrong, in a few words a user can act on.
    """

    def __init__(self, source: str | Path | None, reason: str | None = None) -> None:
        if reason is None:  # rebuilt from a message alone (DataLoader worker re-raise)
            source, reason = None, _original_message(str(source))
        self.source = None if source is None else str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}" if self.source else reason)

    def __reduce__(self) -> tuple[type, tuple[str | None, str]]:
        return type(self), (self.source, self.reason)


def _original_message(text: str) -> str:
    """The message of the last line of a re-raise text ``...Traceback...\nmodule.Class: message``."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return text
    last = lines[-1]
    head, sep, message = last.partition(": ")
    return message if sep and head.rsplit(".", 1)[-1].endswith("Error") and len(lines) > 1 else last


class MissingDataError(SensorDataError):
    """A file, folder, table or table row that the layout requires is absent."""


class CorruptDataError(SensorDataError):
    """A file exists but cannot be decoded (truncated binary, broken image, bad JSON...)."""


class InvalidValueError(SensorDataError):
    """Decoded values that violate the data model (NaN points, negative box size, bad shape...)."""


class DanglingReferenceError(SensorDataError):
    """A token or id that points to a record that does not exist."""


class UnknownLayoutError(SensorDataError):
    """A path whose layout matches none of the supported dataset formats."""


def warn(source: str | Path | None, reason: str) -> None:
    """Say in one line on stderr that usable data lacks something and what is done instead
    (``warning: <source>: <reason>``); for documented fallbacks, not for errors."""
    import sys

    print(f"warning: {source}: {reason}" if source else f"warning: {reason}", file=sys.stderr)
