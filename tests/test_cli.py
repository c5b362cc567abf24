"""The ``perception`` command: the main job and one-line user errors."""
import subprocess
import sys
from pathlib import Path

from perception.cli import main


def test_demo_runs_and_round_trips(tmp_path: Path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--frames", "1"]) == 0
    out = capsys.readouterr().out
    assert "read back" in out
    assert (tmp_path / "preview.png").stat().st_size > 10_000
    assert (tmp_path / "nuscenes" / "v1.0-mini" / "sample.json").exists()


def test_user_error_is_one_line_and_exit_2(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "perception.cli", "demo", "--out", str(tmp_path), "--frames", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--frames must be at least 1" in lines[0]
    assert "Traceback" not in result.stderr
