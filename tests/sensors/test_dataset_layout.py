"""open_dataset: layout detection and clear refusals."""
from __future__ import annotations

import pytest

from sensors.dataset import detect_layout, open_dataset
from sensors.errors import MissingDataError, SensorDataError, UnknownLayoutError


def test_missing_path(tmp_path) -> None:
    with pytest.raises(MissingDataError, match="does not exist"):
        open_dataset(tmp_path / "nowhere")


def test_unknown_folder_names_the_layouts_it_knows(tmp_path) -> None:
    with pytest.raises(UnknownLayoutError, match="nuScenes.*KITTI"):
        open_dataset(tmp_path)


@pytest.mark.parametrize("make", ["folder", "mcap", "db3", "bag"])
def test_broken_bags_are_recognised_and_refused_in_one_line(tmp_path, make: str) -> None:
    if make == "folder":
        (tmp_path / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
        target = tmp_path
    else:
        target = tmp_path / f"drive.{make}"
        target.write_bytes(b"")
    assert detect_layout(target) == "rosbag"
    with pytest.raises(SensorDataError) as info:
        open_dataset(target)
    assert "\n" not in str(info.value) and str(target) in str(info.value)
