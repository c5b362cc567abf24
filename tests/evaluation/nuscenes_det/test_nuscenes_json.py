"""Typed JSON decoding of nuScenes files: strict JSON and Python's NaN literals give the same records."""
from __future__ import annotations

import gc
import json
import math

import msgspec
import pytest

from evaluation.nuscenes_det.json_records import (
    collector_paused,
    convert_records,
    read_records,
)


class _Pose(msgspec.Struct):
    token: str
    translation: tuple[float, float, float]


def test_strict_and_nan_files_decode_alike(tmp_path):
    records = [{"token": "a", "translation": [1.0, 2.0, 3.5], "unused": {"x": [1, 2]}},
               {"token": "b", "translation": [-1, 0, 1e-3]}]
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps(records))
    decoded = read_records(strict, list[_Pose])
    assert decoded == [_Pose("a", (1.0, 2.0, 3.5)), _Pose("b", (-1.0, 0.0, 1e-3))]

    records[1]["translation"][2] = math.nan
    loose = tmp_path / "nan.json"
    loose.write_text(json.dumps(records))  # writes the literal NaN, as the devkit's json does
    assert "NaN" in loose.read_text()
    with_nan = read_records(loose, list[_Pose])
    assert with_nan[0] == decoded[0] and with_nan[1].translation[:2] == (-1.0, 0.0)
    assert math.isnan(with_nan[1].translation[2])


def test_bad_files_name_file_and_field(tmp_path):
    with pytest.raises(ValueError, match="missing.json: table missing"):
        read_records(tmp_path / "missing.json", list[_Pose], missing="table missing")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"token": "a", "translation": [1, 2, 3]}')
    with pytest.raises(ValueError, match="broken.json: not valid JSON"):
        read_records(broken, list[_Pose])
    short = tmp_path / "short.json"
    short.write_text('[{"token": "a", "translation": [1, 2, 3]}, {"token": "b", "translation": [1, 2]}]')
    with pytest.raises(ValueError, match=r"short.json: Expected `array` of length 3 - at `\$\[1\]\.translation`"):
        read_records(short, list[_Pose])
    # The NaN path validates too.
    short.write_text('[{"token": 5, "translation": [NaN, 2, 3]}]')
    with pytest.raises(ValueError, match=r"short.json: Expected `str`, got `int` - at `\$\[0\]\.token`"):
        read_records(short, list[_Pose])
    with pytest.raises(ValueError, match=r"^poses: Object missing required field `translation` - at `\$\[0\]`"):
        convert_records([{"token": "a"}], list[_Pose], "poses")


def test_collector_paused_restores_the_collector(tmp_path):
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    (tmp_path / "bad.json").write_text("[")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_records(tmp_path / "bad.json", list[_Pose])  # pauses inside, fails, must still restore
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a collector disabled by the caller stays disabled
    finally:
        gc.enable()
