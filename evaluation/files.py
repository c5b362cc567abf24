"""Strict JSON results files, written atomically (:mod:`sensors.atomic`)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sensors.atomic import atomic_write


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats replaced by None, numpy scalars/arrays by Python types, keys as str."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as strict JSON (NaN written as null), atomically."""
    return atomic_write(path, lambda f: json.dump(json_safe(data), f, indent=2, allow_nan=False))
