"""Every user error ends in one line and exit 2, and nothing is left half-written.

The commands run in-process (``perception.cli.main``) with small constructed inputs; interrupts
and full disks are injected where they happen (a frame source that raises ``KeyboardInterrupt``,
``torch.save`` failing with ENOSPC, a process killed by SIGKILL, a file-size limit).
"""
from __future__ import annotations

import errno
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import sensors.sim
from perception.checkpoint import (
    CheckpointError,
    load_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)
from perception.cli import error_line, main
from perception.demo import SHIPPED_CHECKPOINT
from sensors.errors import (
    CorruptDataError,
    DanglingReferenceError,
    InvalidValueError,
    MissingDataError,
    SensorDataError,
    UnknownLayoutError,
)
from sensors.kitti.writer import write_kitti

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny.yaml"
SIM_ARGS = ["--frames", "3", "--size", "90x160", "--no-progress"]


def _one_line_error(capsys, code: int, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and ": error: " in err, err
    for needle in needles:
        assert needle in err, err
    return err


def _tree(folder: Path) -> list[str]:
    """Every path under ``folder`` (hidden ones included), relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


# -- outputs that cannot be written ----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["nuscenes", "kitti"])
def test_simulate_out_that_is_a_file(tmp_path, capsys, fmt):
    out = tmp_path / "out"
    out.write_text("keep me")
    code = main(["simulate", "--out", str(out), "--format", fmt, *SIM_ARGS])
    _one_line_error(capsys, code, f"{out}: is a file where the dataset folder should go")
    assert out.read_text() == "keep me" and _tree(tmp_path) == ["out"]


@pytest.mark.parametrize("argv, needle", [
    (["simulate", "--out", "{blocked}/data", *SIM_ARGS], "{blocked}/data: "),
    (["simulate", "--out", "{tmp}/data", "--preview", "{blocked}/p.png", *SIM_ARGS], "{blocked}/p.png: "),
    (["train", "--config", str(TINY), "--out", "{blocked}/run", "--steps", "1"], "{blocked}/run: "),
    (["evaluate", "--checkpoint", str(SHIPPED_CHECKPOINT), "--data", "sim", "--out", "{blocked}/eval"], "{blocked}/eval: "),
    (["demo", "--out", "{blocked}/demo"], "{blocked}/demo: "),
])
def test_unwritable_output_is_one_line_before_any_work(tmp_path, capsys, argv, needle):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder is needed")  # unwritable whoever runs the test (root too)
    argv = [a.format(blocked=blocked, tmp=tmp_path) for a in argv]
    _one_line_error(capsys, main(argv), needle.format(blocked=blocked), "is a file")
    assert _tree(tmp_path) == ["blocked"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (a folder no one can create files in)")
def test_output_in_a_folder_that_refuses_files(tmp_path, capsys):
    code = main(["simulate", "--out", "/proc/perception-out", *SIM_ARGS])
    _one_line_error(capsys, code, "/proc/perception-out: cannot create the dataset folder in /proc")
    code = main(["simulate", "--out", str(tmp_path / "d"), "--preview", "/proc/p.png", *SIM_ARGS])
    _one_line_error(capsys, code, "/proc/p.png: cannot create the preview picture")
    assert _tree(tmp_path) == []


@pytest.mark.parametrize("argv", [
    ["simulate", "--format", "nuscenes", *SIM_ARGS],
    ["simulate", "--format", "kitti", *SIM_ARGS],
    ["evaluate", "--checkpoint", str(SHIPPED_CHECKPOINT), "--data", "sim"],
    ["demo"],
    ["train", "--config", str(TINY), "--steps", "1"],
])
def test_output_folder_holding_something_else_is_refused(tmp_path, capsys, argv):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("months of work")
    _one_line_error(capsys, main([*argv, "--out", str(out)]), str(out), "already holds other files")
    assert _tree(tmp_path) == ["out", "out/thesis.tex"]


def test_previous_output_of_the_same_command_is_replaced(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["simulate", "--out", str(out), "--frames", "1", "--size", "90x160", "--no-progress"]) == 0
    first = sorted(p.name for p in (out / "samples" / "LIDAR_TOP").iterdir())
    assert main(["simulate", "--out", str(out), "--seed", "1", *SIM_ARGS]) == 0
    second = sorted(p.name for p in (out / "samples" / "LIDAR_TOP").iterdir())
    assert len(first) == 1 and len(second) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no temporary left beside it


# -- interrupts --------------------------------------------------------------------------------------
def _interrupt_after(count: int, monkeypatch) -> None:
    """Make the simulator raise KeyboardInterrupt (as Ctrl-C does) when asked for keyframe ``count``."""
    from sensors.sim import drive

    real = drive.drive_simulator

    def interrupted(*args, **kwargs):
        simulator = real(*args, **kwargs)
        keyframe = simulator.keyframe

        def stop_at(index: int):
            if index == count:
                raise KeyboardInterrupt
            return keyframe(index)

        simulator.keyframe = stop_at
        return simulator

    monkeypatch.setattr(drive, "drive_simulator", interrupted)


@pytest.mark.parametrize("fmt", ["kitti", "nuscenes"])
def test_ctrl_c_during_simulate_leaves_nothing(tmp_path, capsys, monkeypatch, fmt):
    _interrupt_after(2, monkeypatch)
    code = main(["simulate", "--out", str(tmp_path / "data"), "--format", fmt, *SIM_ARGS])
    assert code == 130 and capsys.readouterr().err.strip() == "perception simulate: interrupted"
    assert _tree(tmp_path) == []


def test_ctrl_c_during_kitti_simulate_keeps_the_frames_already_there(tmp_path, monkeypatch):
    root = tmp_path / "kitti"
    assert main(["simulate", "--out", str(root), "--format", "kitti", "--frames", "2", "--size", "90x160",
                 "--no-progress"]) == 0
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert (root / "ImageSets" / "train.txt").read_text() == "000000\n000001\n"
    _interrupt_after(2, monkeypatch)
    assert main(["simulate", "--out", str(root), "--format", "kitti", *SIM_ARGS]) == 130
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["kitti"]


def test_kitti_writer_failing_midway_removes_the_frames_it_moved(tmp_path, monkeypatch):
    from sensors.kitti import writer

    root = tmp_path / "kitti"
    frames = list(sensors.sim.simulate_drive(sensors.sim.SimConfig(image_size=(90, 160)), 0, 2))
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(writer.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        write_kitti(frames, root)
    assert _tree(tmp_path) == []


def test_ctrl_c_during_evaluate_leaves_no_metrics_without_report(tmp_path, capsys, monkeypatch):
    from perception.inference import pipeline, sources

    out = tmp_path / "eval"

    def interrupted(model, config, source, options, *args):
        (options.out_dir / "metrics.json").write_text("{}")  # written, then Ctrl-C before the report
        raise KeyboardInterrupt

    monkeypatch.setattr(sources, "open_eval_source", lambda *args: None)
    monkeypatch.setattr(pipeline, "evaluate_model", interrupted)
    code = main(["evaluate", "--checkpoint", str(SHIPPED_CHECKPOINT), "--data", "sim", "--out", str(out)])
    assert code == 130
    assert _tree(tmp_path) == []
    # a previous complete evaluation in --out survives an interrupted one untouched
    out.mkdir()
    (out / "metrics.json").write_text('{"old": 1}')
    (out / "report.md").write_text("# old")
    assert main(["evaluate", "--checkpoint", str(SHIPPED_CHECKPOINT), "--data", "sim", "--out", str(out)]) == 130
    assert _tree(tmp_path) == ["eval", "eval/metrics.json", "eval/report.md"]
    assert (out / "metrics.json").read_text() == '{"old": 1}'


# -- checkpoints -------------------------------------------------------------------------------------
def test_full_disk_during_a_checkpoint_write(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint({"model": {"w": torch.ones(3)}, "step": 1}, path)
    old = path.read_bytes()

    def full_disk(obj, f):
        Path(f).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError) as info:
        save_checkpoint({"model": {"w": torch.zeros(3)}, "step": 2}, path)
    assert info.value.errno == errno.ENOSPC
    assert error_line(info.value) == f"{path}: cannot write checkpoint (No space left on device); the previous one is intact"
    assert path.read_bytes() == old and _tree(tmp_path) == ["checkpoints", "checkpoints/last.pt"]


@pytest.mark.slow
def test_file_size_limit_during_a_real_torch_save_is_one_line(tmp_path):
    """A real failed write inside torch's zip writer (file-size limit: the kernel refuses like a full disk)."""
    script = textwrap.dedent(f"""
        import resource, signal, sys, torch
        from perception.cli import error_line
        from perception.checkpoint import save_checkpoint
        path = {str(tmp_path / "last.pt")!r}
        save_checkpoint({{"model": {{"w": torch.ones(4)}}}}, path)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            save_checkpoint({{"model": {{"w": torch.zeros(100000)}}}}, path)
        except OSError as error:
            print(error_line(error))
            sys.exit(0)
        sys.exit(1)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"{tmp_path / 'last.pt'}: cannot write checkpoint"), line
    assert torch.load(tmp_path / "last.pt", weights_only=True)["model"]["w"].tolist() == [1.0] * 4
    assert _tree(tmp_path) == ["last.pt"]


def test_stale_temporary_checkpoint_after_sigkill_is_cleaned(tmp_path):
    folder = tmp_path / "checkpoints"
    save_checkpoint({"model": {"w": torch.ones(2)}}, folder / "last.pt")
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from sensors.atomic import atomic_path
        with atomic_path(Path({str(folder / "last.pt")!r})) as tmp:
            tmp.write_bytes(b"PK half written")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert result.returncode == -signal.SIGKILL
    stale = [p.name for p in folder.iterdir() if p.name != "last.pt"]
    assert len(stale) == 1 and stale[0].startswith(".last.pt.") and stale[0].endswith(".tmp.pt")
    assert [p.name for p in remove_stale_temporaries(folder)] == stale
    assert [p.name for p in folder.iterdir()] == ["last.pt"]
    assert load_checkpoint(folder / "last.pt")["model"]["w"].tolist() == [1.0, 1.0]


def test_corrupt_checkpoint_never_suggests_weights_only_false(tmp_path, capsys):
    pickled = tmp_path / "pickled.pt"
    torch.save({"model": {"w": torch.ones(1)}, "code": Path("x")}, pickled)  # a pickled Python object
    text = tmp_path / "text.pt"
    text.write_text("not a checkpoint")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(SHIPPED_CHECKPOINT.read_bytes()[:5000])
    for path in (pickled, text, truncated):
        code = main(["evaluate", "--checkpoint", str(path), "--data", "sim", "--out", str(tmp_path / "o")])
        err = _one_line_error(capsys, code, f"{path}: cannot read checkpoint")
        assert "weights_only" not in err
    assert not (tmp_path / "o").exists()


def test_checkpoint_with_non_finite_weights_is_refused_naming_file_and_tensor(tmp_path, capsys):
    state = torch.load(SHIPPED_CHECKPOINT, weights_only=True)
    key = next(k for k, v in state["model"].items() if v.is_floating_point() and v.numel() > 3)
    state["model"][key].view(-1)[:3] = torch.tensor([float("nan"), float("inf"), 1.0])
    path = tmp_path / "diverged.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=rf"{path}: model weight '{key}' has 2 NaN or Inf values"):
        load_checkpoint(path)
    code = main(["evaluate", "--checkpoint", str(path), "--data", "sim", "--out", str(tmp_path / "o")])
    _one_line_error(capsys, code, str(path), key, "NaN or Inf")
    code = main(["train", "--config", str(TINY), "--out", str(tmp_path / "run"), "--init", str(path)])
    _one_line_error(capsys, code, str(path), "NaN or Inf")


# -- messages ----------------------------------------------------------------------------------------
def test_yaml_error_is_one_line_with_line_and_column(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  use_camera: true\n   use_lidar: [1, 2\n")
    code = main(["train", "--config", str(config), "--out", str(tmp_path / "run")])
    err = _one_line_error(capsys, code, f"{config}: invalid YAML: line 3, column ")
    assert "\n" not in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, needle", [
    (["train", "--config", "{d}", "--out", "{tmp}/run"], "{d}: is a folder, expected a YAML config file"),
    (["evaluate", "--checkpoint", "{d}", "--data", "sim", "--out", "{tmp}/e"], "{d}: is a folder, expected a checkpoint"),
    (["evaluate", "--config", "{d}", "--checkpoint", str(SHIPPED_CHECKPOINT), "--data", "sim", "--out", "{tmp}/e"],
     "{d}: is a folder"),
    (["train", "--config", str(TINY), "--out", "{tmp}/run", "--init", "{d}"], "{d}: is a folder, expected a checkpoint"),
    (["demo", "--checkpoint", "{d}", "--out", "{tmp}/demo"], "{d}: is a folder, expected a checkpoint"),
])
def test_folder_passed_as_a_file_is_reported_as_a_folder(tmp_path, capsys, argv, needle):
    folder = tmp_path / "folder.pt"
    folder.mkdir()
    argv = [a.format(d=folder, tmp=tmp_path) for a in argv]
    err = _one_line_error(capsys, main(argv), needle.format(d=folder))
    assert "does not exist" not in err and "missing" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("argv", [
    ["evaluate", "--checkpoint", str(SHIPPED_CHECKPOINT), "--data", "sim", "--out", "{tmp}/e"],
    ["train", "--config", str(TINY), "--out", "{tmp}/run", "--steps", "1"],
])
def test_device_cuda_without_a_gpu(tmp_path, capsys, argv):
    argv = [a.format(tmp=tmp_path) for a in argv] + ["--device", "cuda"]
    _one_line_error(capsys, main(argv), "--device cuda: no CUDA GPU is available on this machine; use --device cpu")
    assert not (tmp_path / "e").exists()


# -- errors raised in DataLoader workers --------------------------------------------------------------
@pytest.mark.parametrize("cls", [SensorDataError, MissingDataError, CorruptDataError, InvalidValueError,
                                 DanglingReferenceError, UnknownLayoutError])
def test_sensor_errors_pickle_with_source_and_reason(cls):
    error = pickle.loads(pickle.dumps(cls("/data/x.bin", "point 3: intensity 300 outside [0, 255]")))
    assert type(error) is cls and error.source == "/data/x.bin"
    assert str(error) == "/data/x.bin: point 3: intensity 300 outside [0, 255]"


class _BadFile(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> np.ndarray:
        if index == 2:
            raise InvalidValueError("/data/samples/LIDAR_TOP/x.pcd.bin", "point 7: ring index 3.5 is not an integer")
        return np.zeros(2)


def test_sensor_error_raised_in_a_dataloader_worker_reaches_the_main_process_as_itself():
    loader = DataLoader(_BadFile(), batch_size=1, num_workers=1, multiprocessing_context="fork")
    with pytest.raises(InvalidValueError) as info:
        list(loader)
    assert error_line(info.value) == "/data/samples/LIDAR_TOP/x.pcd.bin: point 7: ring index 3.5 is not an integer"


# -- the training cache ---------------------------------------------------------------------------------
def test_truncated_training_cache_sample_is_rebuilt(tmp_path):
    import dataclasses

    from perception.config import load_config
    from perception.train.data import SimulatedSamples

    config = load_config(TINY)
    sim = {"image_size": [90, 160], "num_lidar_beams": 8, "lidar_azimuth_steps": 180, "sweeps_per_keyframe": 1,
           "cabin_size": [60, 80], "num_agents": 5}
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, sim=sim, frames_per_scene=1))
    samples = SimulatedSamples(config, tmp_path, first_seed=3, num_scenes=1)
    first = samples[0]
    path = samples.cache_dir / "000000.pt"
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    again = samples[0]
    assert torch.equal(again.points, first.points) and torch.equal(again.images, first.images)
    assert len(path.read_bytes()) == len(whole)  # rewritten whole (only the archive's inner name differs)


@pytest.mark.slow
def test_train_with_a_bad_file_read_in_a_worker_is_one_line_and_leaves_no_run(tmp_path, capsys):
    """End to end: a SensorDataError raised in a DataLoader worker of ``perception train``."""
    import yaml

    root = tmp_path / "kitti" / "training"
    for name in ("velodyne", "calib", "image_2", "label_2"):
        (root / name).mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.column_stack([rng.uniform(2, 40, (64, 3)), rng.uniform(0, 1, 64)]).astype(np.float32).tofile(
        root / "velodyne" / "000000.bin")
    (root / "calib" / "000000.txt").write_text(
        "P2: 721.5 0 609.6 44.9 0 721.5 172.9 0.2 0 0 1 0.003\nR0_rect: 1 0 0 0 1 0 0 0 1\n"
        "Tr_velo_to_cam: 0 -1 0 0 0 0 -1 -0.08 1 0 0 -0.27\n")
    (root / "label_2" / "000000.txt").write_text("car 0.00 0 -1.57 599 156 629 189 1.73 1.87 4.36 -0.16 1.68 19.32 -1.57\n")
    import cv2

    cv2.imwrite(str(root / "image_2" / "000000.png"), np.zeros((375, 1242, 3), np.uint8))
    config = yaml.safe_load(TINY.read_text())
    config.setdefault("train", {})["num_workers"] = 1
    (tmp_path / "workers.yaml").write_text(yaml.safe_dump(config))
    code = main(["train", "--config", str(tmp_path / "workers.yaml"), "--out", str(tmp_path / "run"),
                 "--data", str(tmp_path / "kitti"), "--steps", "1", "--no-progress"])
    _one_line_error(capsys, code, f"{root / 'label_2' / '000000.txt'}: line 1: unknown KITTI type 'car'")
    assert not (tmp_path / "run").exists()
