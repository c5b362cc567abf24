"""The JSON tables of one nuScenes version, loaded once and indexed by token.

Every access that can fail on bad data raises a :mod:`sensors.errors` exception naming the table
file and the row: a missing file or field (:class:`MissingDataError`), invalid JSON
(:class:`CorruptDataError`), a token that points nowhere (:class:`DanglingReferenceError`) or a
value of the wrong type or shape (:class:`InvalidValueError`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sensors.errors import (
    CorruptDataError,
    DanglingReferenceError,
    InvalidValueError,
    MissingDataError,
)
from sensors.geometry import transform_from_quaternion
from sensors.reading import read_bytes


class NuScenesTables:
    """Token-indexed tables of ``<root>/<version>/``.

    Args:
        table_dir: the version folder holding ``<table>.json`` files.
        required: tables that must exist; other tables are loaded on demand by :meth:`optional`.
    """

    def __init__(self, table_dir: Path, required: tuple[str, ...]) -> None:
        self.table_dir = table_dir
        self._rows: dict[str, list[dict]] = {}
        self._index: dict[str, dict[str, dict]] = {}
        for name in required:
            self._rows[name] = self._load(name)
            self._index[name] = self._make_index(name)

    def path(self, table: str) -> Path:
        return self.table_dir / f"{table}.json"

    def rows(self, table: str) -> list[dict]:
        """All rows of a loaded table, in file order."""
        return self._rows[table]

    def optional(self, table: str) -> list[dict]:
        """Rows of a table that may be absent (our extras): empty when the file does not exist."""
        if table not in self._rows:
            self._rows[table] = self._load(table) if self.path(table).exists() else []
        return self._rows[table]

    def get(self, table: str, token: str, referrer: str = "") -> dict:
        """The row of ``table`` with ``token``; ``referrer`` says who points to it (for the error)."""
        try:
            return self._index[table][token]
        except (KeyError, TypeError):
            where = f" (referenced by {referrer})" if referrer else ""
            raise DanglingReferenceError(self.path(table), f"no row with token {token!r}{where}") from None

    def field(self, table: str, row: dict, key: str) -> Any:
        """``row[key]`` of a row of ``table``, MissingDataError if the field is absent."""
        try:
            return row[key]
        except KeyError:
            raise MissingDataError(self.path(table), f"row {row.get('token', '?')!r} has no field {key!r}") from None

    def text(self, table: str, row: dict, key: str) -> str:
        value = self.field(table, row, key)
        if not isinstance(value, str):
            raise InvalidValueError(self.path(table), f"row {row.get('token', '?')!r}: {key} must be a string")
        return value

    def integer(self, table: str, row: dict, key: str) -> int:
        value = self.field(table, row, key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValueError(self.path(table), f"row {row.get('token', '?')!r}: {key} must be an integer")
        return value

    def array(self, table: str, row: dict, key: str, shape: tuple[int, ...]) -> np.ndarray:
        """``row[key]`` as a finite float64 array of ``shape``."""
        value = self.field(table, row, key)
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is None or array.shape != shape or not np.all(np.isfinite(array)):
            raise InvalidValueError(
                self.path(table), f"row {row.get('token', '?')!r}: {key} must be {shape} finite numbers, got {value!r}"
            )
        return array

    def transform(self, table: str, row: dict) -> np.ndarray:
        """4x4 transform of a row with ``rotation`` (w, x, y, z) and ``translation`` (metres)."""
        rotation = self.array(table, row, "rotation", (4,))
        if not 0.9 < np.linalg.norm(rotation) < 1.1:
            raise InvalidValueError(self.path(table), f"row {row.get('token', '?')!r}: rotation is not a unit quaternion")
        return transform_from_quaternion(rotation, self.array(table, row, "translation", (3,)))

    def _load(self, name: str) -> list[dict]:
        path = self.path(name)
        data = read_bytes(path, "table file")
        try:
            rows = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CorruptDataError(path, f"invalid JSON ({error})") from None
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise CorruptDataError(path, "table must be a JSON list of objects")
        return rows

    def _make_index(self, name: str) -> dict[str, dict]:
        index: dict[str, dict] = {}
        for row in self._rows[name]:
            token = row.get("token")
            if not isinstance(token, str):
                raise InvalidValueError(self.path(name), f"row without a string token: {str(row)[:80]}")
            if token in index:
                raise CorruptDataError(self.path(name), f"duplicate token {token!r}")
            index[token] = row
        return index
