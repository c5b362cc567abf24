"""The evaluation's KITTI label reader checks the integer and range columns and names the right
line of the file (a file that is not what its name says)."""
from __future__ import annotations

import pytest

from evaluation.kitti.labels import read_labels

CAR = "Car 0.00 0 -1.58 587.0 173.3 614.1 200.1 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59"


def _with(column: int, value: str) -> str:
    fields = CAR.split()
    fields[column] = value
    return " ".join(fields)


def test_errors_name_the_line_of_the_file_counting_blank_lines(tmp_path):
    # blank lines 1, 2 and 4; the bad car is on line 5 of the file (it was reported as line 2)
    path = tmp_path / "000003.txt"
    path.write_text("\n\n" + CAR + " 0.9\n\n" + _with(8, "-1.65") + " 0.8\n")
    with pytest.raises(ValueError, match=r"000003\.txt: line 5: non-positive size"):
        read_labels(path)


@pytest.mark.parametrize("column, value, reason", [
    (2, "1.5", "occluded 1.5 is not an integer in 0..3"),  # was read as 1, silently
    (2, "7", "occluded 7 is not an integer in 0..3"),
    (1, "2.00", r"truncated 2.00 outside \[0, 1\]"),
    (1, "-0.5", r"truncated -0.5 outside \[0, 1\]"),
])
def test_out_of_range_state_columns_are_errors(tmp_path, column, value, reason):
    path = tmp_path / "000004.txt"
    path.write_text(CAR + "\n" + _with(column, value) + "\n")
    with pytest.raises(ValueError, match=rf"000004\.txt: line 2: {reason}"):
        read_labels(path)


def test_the_minus_one_placeholders_are_accepted(tmp_path):
    # DontCare regions of the real labels, and predictions written with "-1 -1" state columns
    path = tmp_path / "000005.txt"
    path.write_text("DontCare -1 -1 -10 503.89 169.71 590.74 190.13 -1 -1 -1 -1000 -1000 -1000 -10\n"
                    + _with(2, "-1").replace("Car 0.00", "Car -1") + " 0.7\n"
                    + _with(2, "3").replace("Car 0.00", "Car 1.00") + "\n")
    labels = read_labels(path)
    assert labels.truncated.tolist() == [-1.0, -1.0, 1.0]
    assert labels.occluded.tolist() == [-1, -1, 3]
    assert labels.score.tolist() == [1.0, 0.7, 1.0]
