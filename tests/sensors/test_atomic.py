"""Atomic writes: the target is replaced whole or left as it was, and no temporary file stays behind."""
import csv
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sensors.atomic import (
    atomic_dir,
    atomic_path,
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
)


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_text_write_replaces_previous_file(tmp_path: Path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    assert atomic_write(path, lambda f: f.write("new\nlines é")) == path
    assert path.read_text(encoding="utf-8") == "new\nlines é"
    assert _entries(tmp_path) == ["out.txt"]


def test_binary_write_and_bytes_helper(tmp_path: Path):
    atomic_write(tmp_path / "a.bin", lambda f: f.write(b"\x00\xff"), "wb")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\xff"
    assert atomic_write_bytes(tmp_path / "b.bin", b"xyz") == tmp_path / "b.bin"
    assert (tmp_path / "b.bin").read_bytes() == b"xyz"


def test_csv_newline_option_is_passed_through(tmp_path: Path):
    path = tmp_path / "log.csv"
    atomic_write(path, lambda f: csv.writer(f).writerows([["a", "b"], ["1", "2"]]), newline="")
    assert path.read_bytes() == b"a,b\r\n1,2\r\n"  # csv's own line ends, not translated


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path: Path, error: BaseException):
    path = tmp_path / "out.json"
    path.write_text("previous")

    def write(f):
        f.write("half of the new cont")
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, write)
    assert path.read_text() == "previous"
    assert _entries(tmp_path) == ["out.json"]


def test_failed_write_of_a_new_file_creates_nothing(tmp_path: Path):
    with pytest.raises(ValueError, match="boom"):
        with atomic_path(tmp_path / "new.pt") as tmp:
            tmp.write_bytes(b"partial")
            raise ValueError("boom")
    assert _entries(tmp_path) == []


def test_text_encoding_error_writes_nothing(tmp_path: Path):
    path = tmp_path / "label.txt"
    path.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, "Car é", encoding="ascii")
    assert path.read_text() == "old" and _entries(tmp_path) == ["label.txt"]
    atomic_write_text(path, "Car 0.00\n", encoding="ascii")
    assert path.read_bytes() == b"Car 0.00\n"


def test_temp_path_is_hidden_in_the_same_folder_and_keeps_the_suffix(tmp_path: Path):
    path = tmp_path / "image.png"
    with atomic_path(path) as tmp:
        assert tmp.parent == path.parent  # same file system: os.replace is atomic
        assert tmp.name.startswith(".image.png.") and tmp.suffix == ".png"
        assert tmp.exists() and not path.exists()  # the target appears only on success
        Image.fromarray(np.full((4, 6, 3), 200, np.uint8)).save(tmp)  # format chosen by extension
    assert Image.open(path).format == "PNG"
    assert _entries(tmp_path) == ["image.png"]


def test_np_save_by_name_does_not_append_a_second_suffix(tmp_path: Path):
    path = tmp_path / "arr.npy"
    with atomic_path(path) as tmp:
        np.save(tmp, np.arange(5))
    np.testing.assert_array_equal(np.load(path), np.arange(5))
    assert _entries(tmp_path) == ["arr.npy"]


def test_suffixless_target(tmp_path: Path):
    with atomic_path(tmp_path / "README") as tmp:
        assert tmp.name.endswith(".tmp")
        tmp.write_text("x")
    assert (tmp_path / "README").read_text() == "x"


def test_missing_parent_folders_are_created(tmp_path: Path):
    path = tmp_path / "a" / "b" / "c.txt"
    atomic_write_text(path, "deep")
    assert path.read_text() == "deep"


def test_target_that_is_a_folder_fails_and_leaves_no_temp(tmp_path: Path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(OSError):
        atomic_write_bytes(tmp_path / "taken", b"x")
    assert _entries(tmp_path) == ["taken"] and (tmp_path / "taken").is_dir()


def test_new_file_mode_follows_the_umask(tmp_path: Path):
    path = tmp_path / "c.pt"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    previous = os.umask(0o027)
    try:
        atomic_write_bytes(path, b"new")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_unknown_mode_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="mode must be one of"):
        atomic_write(tmp_path / "x", lambda f: None, "a")
    assert _entries(tmp_path) == []


def test_atomic_dir_replaces_a_folder_whole_or_not_at_all(tmp_path: Path):
    target = tmp_path / "bag"
    with atomic_dir(target) as new:
        assert not new.exists() and new.name == "bag" and new.parent.parent == tmp_path
        new.mkdir()
        (new / "a.mcap").write_bytes(b"1")
        assert not target.exists()  # nothing visible before the end
    assert _entries(tmp_path) == ["bag"] and _entries(target) == ["a.mcap"]
    with pytest.raises(RuntimeError), atomic_dir(target) as new:
        new.mkdir()
        (new / "b.mcap").write_bytes(b"2")
        raise RuntimeError("writer failed")
    assert _entries(tmp_path) == ["bag"] and _entries(target) == ["a.mcap"]  # the old folder, untouched
    with pytest.raises(FileNotFoundError, match="created nothing"), atomic_dir(target):
        pass
    assert _entries(tmp_path) == ["bag"] and _entries(target) == ["a.mcap"]
    with atomic_dir(target) as new:  # an existing folder is replaced, not merged
        new.mkdir()
        (new / "c.mcap").write_bytes(b"3")
    assert _entries(tmp_path) == ["bag"] and _entries(target) == ["c.mcap"]


# -- whole folders ---------------------------------------------------------------------------------
def test_atomic_dir_replaces_a_previous_output_and_leaves_nothing_else(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("old")
    with atomic_dir(out, lambda p: (p / "metrics.json").exists()) as new:
        new.mkdir()
        (new / "metrics.json").write_text("new")
        assert (out / "metrics.json").read_text() == "old"  # nothing visible before the end
    assert (out / "metrics.json").read_text() == "new" and _entries(tmp_path) == ["out"]


def test_atomic_dir_interrupted_keeps_the_previous_output_and_removes_its_temporary(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_dir(out, lambda p: True) as new:
        new.mkdir()
        (new / "a.txt").write_text("half")
        raise KeyboardInterrupt
    assert _entries(tmp_path) == ["out"] and (out / "a.txt").read_text() == "old"


def test_atomic_dir_refuses_a_file_or_a_foreign_folder_before_writing(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file where the output folder should go"), \
            atomic_dir(tmp_path / "file", lambda p: False):
        pass
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("x")
    with pytest.raises(FileExistsError, match="already holds other files"), atomic_dir(tmp_path / "theirs", lambda p: False):
        pass
    assert _entries(tmp_path) == ["file", "theirs"] and _entries(tmp_path / "theirs") == ["notes.txt"]


def test_atomic_dir_removes_the_temporaries_of_a_killed_run(tmp_path):
    for stale in (".out.tmp-abc123", ".out.k2j4x9q1.tmp"):
        (tmp_path / stale).mkdir()
        (tmp_path / stale / "half.json").write_text("{")
    (tmp_path / ".out.metrics.json.q1w2.tmp.json").write_text("{")  # of another target: spared
    (tmp_path / ".outer.tmp-1").mkdir()
    with atomic_dir(tmp_path / "out") as new:
        new.mkdir()
        (new / "x").write_text("1")
    assert _entries(tmp_path) == [".out.metrics.json.q1w2.tmp.json", ".outer.tmp-1", "out"]


def test_shared_tag_lets_other_processes_add_files_without_committing(tmp_path):
    with atomic_dir(tmp_path / "out", tag="run7", commit=False) as worker:
        worker.mkdir(parents=True)
        (worker / "rank1.png").write_text("1")
    assert not (tmp_path / "out").exists()
    with atomic_dir(tmp_path / "out", tag="run7") as main:
        assert main == worker
        main.mkdir(exist_ok=True)
        (main / "rank0.png").write_text("0")
    assert _entries(tmp_path / "out") == ["rank0.png", "rank1.png"] and _entries(tmp_path) == ["out"]
