"""Pure parts of benchmarks/mtl_experiment.py: Delta_m, run plan, labelled subsets, the tables with seeds."""
from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from perception.config import load_config

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


mtl = _load("mtl_experiment")


def test_delta_m_hand_computed_with_lower_is_better_sign():
    # detection +10 %, depth AbsRel 0.20 -> 0.15 is a 25 % improvement (lower is better)
    multi = {"detection": 0.55, "depth": 0.15}
    single = {"detection": 0.50, "depth": 0.20}
    lower = {"detection": False, "depth": True}
    assert mtl.delta_m(multi, single, lower) == pytest.approx((10.0 + 25.0) / 2)
    # a worse AbsRel counts against the multi-task model
    assert mtl.delta_m({"depth": 0.25}, {"depth": 0.20}, {"depth": True}) == pytest.approx(-25.0)
    assert mtl.delta_m({"a": 0.4}, {"a": 0.5}, {"a": False}) == pytest.approx(-20.0)


def test_delta_m_four_tasks():
    multi = {"detection": 0.45, "segmentation": 0.66, "depth": 0.12, "driver": 0.88}
    single = {"detection": 0.50, "segmentation": 0.60, "depth": 0.15, "driver": 0.80}
    lower = {"detection": False, "segmentation": False, "depth": True, "driver": False}
    expected = (-10.0 + 10.0 + 20.0 + 10.0) / 4
    assert mtl.delta_m(multi, single, lower) == pytest.approx(expected)


@pytest.mark.parametrize(
    "multi, single, message",
    [({}, {"a": 1.0}, "no multi-task value"), ({"a": 1.0}, {"a": 0.0}, "zero single-task baseline"),
     ({"a": float("nan")}, {"a": 1.0}, "non-finite")],
)
def test_delta_m_rejects_bad_input(multi, single, message):
    with pytest.raises(ValueError, match=message):
        mtl.delta_m(multi, single, {"a": False})


@pytest.mark.parametrize("task", mtl.TASKS)
def test_single_task_config_has_exactly_one_head(task):
    base = load_config(TINY)
    config = mtl.single_task_config(base, task)
    heads = config.model.heads
    assert [t for t in mtl.TASKS if getattr(heads, t).enabled] == [task]
    assert mtl.enabled_tasks(config) == (task,)
    # everything else is unchanged: data, training and the other heads' settings
    assert config.data == base.data and config.train == base.train
    assert config.model.bev == base.model.bev and config.model.image == base.model.image
    if task == "driver":
        assert not config.model.use_camera
    if task == "depth":
        assert config.model.use_camera and not config.model.use_lidar


def test_single_task_config_builds_a_model_with_that_head_only():
    from perception.model import FusionModel

    model = FusionModel(mtl.single_task_config(load_config(TINY), "driver").model)
    assert model.tasks == ("driver",)
    assert model.view_transform is None and model.fuser is None


def test_single_task_config_rejects_unknown_task():
    with pytest.raises(ValueError, match="unknown task 'gaze'"):
        mtl.single_task_config(load_config(TINY), "gaze")


def test_plan_runs_seed_major_with_every_protocol():
    runs = mtl.plan_runs(load_config(TINY), [("hard", "equal"), ("routing", "pcgrad")], [0, 1],
                         ("full", "scarce", "depth"), ("detection",), (0.1,))
    rows = ["single-detection", "single-segmentation", "single-depth", "single-driver", "joint-hard-equal",
            "joint-routing-pcgrad", "scarce-detection-10pct-single", "scarce-detection-10pct-joint-hard-equal",
            "camera-detection", "camera-detection+depth"]
    assert [r.row for r in runs] == rows * 2
    assert [r.seed for r in runs] == [0] * len(rows) + [1] * len(rows)
    assert all(r.config.train.seed == r.seed for r in runs)
    by_row = {r.row: r for r in runs if r.seed == 1}
    joint = by_row["joint-routing-pcgrad"]
    assert joint.config.train.strategy == "pcgrad" and joint.config.model.sharing.kind == "routing"
    assert mtl.enabled_tasks(joint.config) == mtl.TASKS
    single = by_row["scarce-detection-10pct-single"]
    assert single.subset_only and single.scarce_task == "detection" and single.fraction == 0.1
    assert mtl.enabled_tasks(single.config) == ("detection",)
    scarce_joint = by_row["scarce-detection-10pct-joint-hard-equal"]
    assert not scarce_joint.subset_only and mtl.enabled_tasks(scarce_joint.config) == mtl.TASKS
    cam = by_row["camera-detection+depth"].config.model
    assert not cam.use_lidar and mtl.enabled_tasks(by_row["camera-detection+depth"].config) == ("detection", "depth")
    assert by_row["camera-detection"].folder == "camera-detection/seed1"
    with pytest.raises(ValueError, match="unknown protocols"):
        mtl.plan_runs(load_config(TINY), [("hard", "equal")], [0], ("everything",))


def test_row_selected():
    assert mtl.row_selected("single-depth", ["joint-*", "single-*"])
    assert not mtl.row_selected("scarce-detection-10pct-single", ["single-*"])
    assert mtl.row_selected("joint-hard+own_depth-equal", ["*"])


def test_parse_joint():
    assert mtl.parse_joint("hard:equal, soft:pcgrad,uncertainty") == [
        ("hard", "equal"), ("soft", "pcgrad"), ("hard", "uncertainty")]
    assert mtl.parse_joint("cross_stitch+adapters:equal") == [("cross_stitch+adapters", "equal")]
    with pytest.raises(ValueError, match="unknown sharing 'shared'"):
        mtl.parse_joint("shared:equal")
    with pytest.raises(ValueError, match="unknown sharing 'hard-adapters'"):
        mtl.parse_joint("hard-adapters:equal")
    with pytest.raises(ValueError, match="unknown sharing option"):
        mtl.parse_joint("hard+own:equal")


def test_joint_config_sets_the_sharing_kind_and_the_image_adapters():
    base = load_config(TINY)
    plain = mtl.joint_config(base, "routing", "pcgrad")
    assert plain.model.sharing.kind == "routing" and not plain.model.sharing.image_adapters
    assert plain.train.strategy == "pcgrad"
    adapted = mtl.joint_config(base, "routing+adapters", "equal").model.sharing
    assert adapted.kind == "routing" and adapted.image_adapters and adapted.depth_distribution == "shared"
    own = mtl.joint_config(base, "hard+own_depth", "equal").model.sharing
    assert own.kind == "hard" and own.depth_distribution == "own" and not own.image_adapters


def test_scarce_runs_train_on_the_labelled_frames():
    import dataclasses

    from perception.train.data import PartialLabels, labelled_subset

    class Frames:
        def __len__(self):
            return 20

        def __getitem__(self, i):
            return dataclasses.make_dataclass("S", ["i", "has_boxes", "has_bev_map"])(i, True, True)

    runs = mtl.plan_runs(load_config(TINY), [("hard", "equal")], [3], ("scarce",), ("detection",), (0.25,))
    assert [r.row for r in runs[:4]] == [f"single-{t}" for t in mtl.TASKS]  # the baselines of the other tasks
    single, joint = runs[4:]
    labelled = labelled_subset(20, 0.25, mtl.SUBSET_SEED)
    assert len(labelled) == 5 and labelled == labelled_subset(20, 0.25, 0)
    subset = mtl.run_dataset(single, Frames())
    assert len(subset) == 5 and [subset[k].i for k in range(5)] == labelled
    partial = mtl.run_dataset(joint, Frames())
    assert isinstance(partial, PartialLabels) and len(partial) == 20
    assert [i for i in range(20) if partial[i].has_boxes] == labelled
    assert all(partial[i].has_bev_map for i in range(20))


def _summary(nds, miou, abs_rel, gaze, map_=0.4):
    return {"nds": nds, "map": map_, "miou": miou, "abs_rel": abs_rel, "gaze_acc": gaze}


def test_summary_and_tables_with_seeds():
    metrics = {"nuscenes_detection": {"nd_score": 0.5, "mean_ap": 0.4}, "bev_segmentation": {"miou": 0.6},
               "depth": {"per_image": {"abs_rel": 0.2}}, "driver": {"frames": {"gaze": {"accuracy": 0.8}}}}
    full = mtl.summarize_metrics(metrics)
    assert full == _summary(0.5, 0.6, 0.2, 0.8)
    assert mtl.summarize_metrics({"depth": {"per_image": {"abs_rel": 0.3}}})["nds"] is None
    results = {}
    for seed, scale in ((0, 1.0), (1, 1.1)):
        for task in mtl.TASKS:
            results[f"single-{task}/seed{seed}"] = {"fused": _summary(0.5 * scale, 0.6 * scale, 0.2, 0.8)}
    # seed 0: +10 % NDS, +25 % AbsRel gain -> 8.75; seed 1: NDS 0.55 vs 0.55 -> 0 + 0 + 25 + 0 -> 6.25 ... by hand:
    results["joint-hard-equal/seed0"] = {"fused": _summary(0.55, 0.6, 0.15, 0.8),
                                         "lidar-only": _summary(0.3, 0.5, None, 0.8, 0.2)}
    results["joint-hard-equal/seed1"] = {"fused": _summary(0.55, 0.66, 0.15, 0.8)}
    table, deltas = mtl.full_table(results, ["joint-hard-equal"], [0, 1], mtl.TASKS)
    assert deltas["joint-hard-equal"] == [pytest.approx(8.75), pytest.approx(6.25)]
    assert "| single-task (one model per head) | 2 | 0.525 ± 0.035 |" in table
    assert "| joint, hard, equal | 2 | 0.550 ± 0.000 |" in table
    assert "| 7.50 ± 1.77 | yes |" in table  # mean 7.5, sample std 1.77: the gain exceeds the spread
    assert "| joint-hard-equal, lidar-only | 0.300 | 0.200 | 0.500 |" in mtl.modality_table(results, "joint-hard-equal", 0)
    assert mtl.mean_std([1.0, None, 3.0]) == (2.0, pytest.approx(2 ** 0.5), 2)
    assert mtl.mean_std([None]) == (None, None, 0)
    assert mtl._separated([1.0, -1.0]) == "no"


def test_scarce_and_depth_tables():
    runs = mtl.plan_runs(load_config(TINY), [("hard", "equal")], [0, 1], ("scarce", "depth"), ("segmentation",), (0.1,))
    results = {}
    for seed in (0, 1):
        for task in mtl.TASKS:
            results[f"single-{task}/seed{seed}"] = {"fused": _summary(0.5, 0.6, 0.2, 0.8)}
        results[f"scarce-segmentation-10pct-single/seed{seed}"] = {"fused": _summary(None, 0.2, None, None)}
        results[f"scarce-segmentation-10pct-joint-hard-equal/seed{seed}"] = {
            "fused": _summary(0.5, 0.3 if seed == 0 else 0.25, 0.2, 0.8)}
        results[f"camera-detection/seed{seed}"] = {"fused": _summary(0.10, None, None, None)}
        results[f"camera-detection+depth/seed{seed}"] = {"fused": _summary(0.12 if seed else 0.11, None, 0.3, None)}
    table, scarce = mtl.scarce_table(results, runs, [0, 1], mtl.TASKS)
    # mIoU 0.3 / 0.25 against 0.2: +50 % and +25 %; Delta_m against (single NDS, scarce mIoU, ...): 12.5 and 6.25
    assert scarce["scarce-segmentation-10pct"]["task_change"] == [pytest.approx(50.0), pytest.approx(25.0)]
    assert scarce["scarce-segmentation-10pct"]["delta_m"] == [pytest.approx(12.5), pytest.approx(6.25)]
    assert "| segmentation on 10 % | joint, hard, equal | 2 | 0.275 ± 0.035 | 37.5 ± 17.7 | yes |" in table
    depth, change = mtl.depth_table(results, [0, 1])
    assert change == [pytest.approx(10.0), pytest.approx(20.0)]
    assert "| detection + depth head | 2 | 0.115 ± 0.007 | 0.400 ± 0.000 | 0.300 ± 0.000 | 15.0 ± 7.1 | yes |" in depth
    cost = mtl.cost_table({"single-detection": {"params": 1e6, "train_s_per_step": 1.0, "latency_ms": 10.0},
                           "single-depth": {"params": 2e6, "train_s_per_step": 0.5, "latency_ms": 5.0},
                           "joint-hard-equal": {"params": 2.5e6, "train_s_per_step": 1.2, "latency_ms": 12.0}},
                          ["single-detection", "single-depth"])
    assert "| 2 single-task models together | 3.00 | 1.50 | 15 |" in cost
    assert "| joint-hard-equal | 2.50 | 1.20 | 12 |" in cost


def test_replace_section_keeps_the_rest():
    replace_section = mtl.replace_section  # benchmarks/doc_sections.py, as the script uses it
    text = "# Experiments\n\n## Protocol\n\nkeep me\n\n## Results\n\nold\n\n## Notes\n\nalso kept\n"
    new = replace_section(text, "## Results\n\nnew table\n")
    assert new == "# Experiments\n\n## Protocol\n\nkeep me\n\n## Results\n\nnew table\n\n## Notes\n\nalso kept\n"
    assert replace_section("# E\n", "## Results\n\nt\n") == "# E\n\n## Results\n\nt\n"


def test_a_section_that_is_not_a_level_two_heading_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        mtl.main(["--section", "Confirmation", "--steps", "1"])
    assert exit_info.value.code == 2
    assert "--section 'Confirmation': must be a '## ' heading" in capsys.readouterr().err


def test_oversampled_repeats_make_the_labelled_frames_half_of_the_epoch():
    from collections import Counter

    for size, labelled in ((120, list(range(0, 120, 10))), (120, list(range(30))), (10, [3])):
        repeats = mtl.oversampled_repeats(size, labelled)
        assert set(repeats) <= set(labelled) and len(set(Counter(repeats).values())) <= 1  # each equally often
        share = (len(labelled) + len(repeats)) / (size + len(repeats))
        assert share == pytest.approx(0.5, abs=0.06), (size, len(labelled))
    assert mtl.oversampled_repeats(4, [0, 1, 2]) == []  # already more than half: nothing repeated
    with pytest.raises(ValueError, match="non-empty subset"):
        mtl.oversampled_repeats(4, [])
    with pytest.raises(ValueError, match="non-empty subset"):
        mtl.oversampled_repeats(4, [4])


def test_balanced_scarce_run_is_planned_tabulated_and_trains_on_oversampled_partial_labels():
    from perception.train.data import PartialLabels

    runs = mtl.plan_runs(load_config(TINY), [("hard", "equal")], [0], ("scarce",), ("detection",), (0.1, 0.25),
                         balanced=(0.1,))
    assert [r.row for r in runs if r.balanced] == ["scarce-detection-10pct-joint-hard-equal-balanced"]
    balanced = next(r for r in runs if r.row == "scarce-detection-10pct-joint-hard-equal-balanced")
    assert balanced.balanced and not balanced.subset_only and balanced.scarce_task == "detection"

    import dataclasses

    @dataclasses.dataclass
    class Labels:  # the flags of a Sample
        index: int
        has_boxes: bool = True
        has_bev_map: bool = True
        has_depth: bool = True
        has_driver: bool = True

    class Frames:
        def __len__(self):
            return 20

        def __getitem__(self, i):
            return Labels(i)

    data = mtl.run_dataset(balanced, Frames())
    first, repeats = data.datasets
    assert isinstance(first, PartialLabels) and len(first) == 20 and len(repeats) > 0
    samples = [data[i] for i in range(len(data))]
    labelled = {s.index for s in samples[:20] if s.has_boxes}
    assert len(labelled) == 2 and first.labelled == labelled  # 10 % of 20 frames
    for s in samples[20:]:  # the repeats: the labelled frames, with the detection labels alone
        assert s.index in labelled and s.has_boxes and not (s.has_bev_map or s.has_depth or s.has_driver)
    assert all(s.has_bev_map and s.has_depth and s.has_driver for s in samples[:20])  # one full pass for the others
    assert sum(s.has_boxes for s in samples) == pytest.approx(len(samples) / 2, abs=2)
    results = {}
    for task in mtl.TASKS:
        results[f"single-{task}/seed0"] = {"fused": _summary(0.5, 0.6, 0.2, 0.8)}
    results["scarce-detection-10pct-single/seed0"] = {"fused": _summary(0.2, None, None, None)}
    results["scarce-detection-10pct-joint-hard-equal/seed0"] = {"fused": _summary(0.1, 0.6, 0.2, 0.8)}
    results["scarce-detection-10pct-joint-hard-equal-balanced/seed0"] = {"fused": _summary(0.3, 0.6, 0.2, 0.8)}
    table, scarce = mtl.scarce_table(results, runs, [0], mtl.TASKS)
    assert scarce["scarce-detection-10pct"]["task_change"] == [pytest.approx(-50.0)]
    assert scarce["scarce-detection-10pct-balanced"]["task_change"] == [pytest.approx(50.0)]
    assert "| detection on 10 % | joint, hard, equal, labelled frames oversampled to half | 1 | 0.300 |" in table
    assert table.count("| detection on 10 % | single-task, labelled frames only") == 1  # one baseline row for both


def test_balanced_fractions_must_be_among_the_fractions(capsys):
    with pytest.raises(SystemExit) as exit_info:
        mtl.main(["--fractions", "0.1", "--scarce-balanced", "0.25", "--steps", "1"])
    assert exit_info.value.code == 2
    assert "--scarce-balanced 0.25: each fraction must be one of --fractions" in capsys.readouterr().err


def test_staged_row_is_planned_for_the_first_joint_variant():
    config = load_config(TINY)  # train.steps 2000
    runs = mtl.plan_runs(config, [("sluice", "equal"), ("hard", "pcgrad")], [0], ("full",), staged_steps=100)
    staged = [r for r in runs if r.stage_steps is not None]
    assert [r.row for r in staged] == ["joint-sluice-equal-staged100"] and staged[0].stage_steps == 100
    assert staged[0].config.model.sharing.kind == "sluice" and staged[0].config.train.steps == 2000
    assert all(r.stage_steps is None for r in runs if r.row != "joint-sluice-equal-staged100")
    with pytest.raises(ValueError, match="the staged row belongs to the full protocol"):
        mtl.plan_runs(config, [("hard", "equal")], [0], ("scarce",), staged_steps=100)
    with pytest.raises(ValueError, match="with 4 stages leaving the joint run at least one of the 2000 steps"):
        mtl.plan_runs(config, [("hard", "equal")], [0], ("full",), staged_steps=500)


def test_staged_row_is_tabulated_as_a_joint_row():
    results = {f"single-{t}/seed0": {"fused": _summary(0.5, 0.6, 0.2, 0.8)} for t in mtl.TASKS}
    results["joint-hard+own_depth-aligned_mtl-staged30/seed0"] = {"fused": _summary(0.55, 0.6, 0.2, 0.8)}
    rows = ["joint-hard+own_depth-aligned_mtl", "joint-hard+own_depth-aligned_mtl-staged30"]
    table, deltas = mtl.full_table(results, rows, [0], mtl.TASKS)
    assert "| joint, hard+own_depth, aligned_mtl, staged (30 steps per single-task stage first) | 1 | 0.550 |" in table
    assert "aligned_mtl |" not in table  # the plain row has no results
    assert deltas["joint-hard+own_depth-aligned_mtl-staged30"] == [pytest.approx(2.5)]  # +10 % NDS over four tasks


def test_staged_run_trains_each_stage_from_the_previous_one_and_resumes(tmp_path, monkeypatch):
    import dataclasses
    import shutil

    import perception.checkpoint

    import torch
    import yaml

    sys.path.insert(0, str(ROOT / "tests" / "perception" / "train"))
    from fusion_samples import RandomSamples
    from test_train_cli import TINY as SMALL_YAML

    from perception.config import config_from_dict

    config = config_from_dict(yaml.safe_load(SMALL_YAML))
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=6, checkpoint_every=100))
    run = next(r for r in mtl.plan_runs(config, [("hard", "equal")], [0], ("full",), staged_steps=1)
               if r.stage_steps is not None)
    run_dir = tmp_path / run.folder
    data = RandomSamples(config.model)
    inits = []
    load = perception.checkpoint.load_initial_weights

    def recorded(path, model):
        inits.append(path.relative_to(run_dir).parts[1])
        return load(path, model)

    monkeypatch.setattr(perception.checkpoint, "load_initial_weights", recorded)
    checkpoint = mtl.train_staged_run(run, run_dir, data, "cpu", False)
    assert checkpoint == run_dir / "checkpoints" / "last.pt"
    stages = ["stage1-depth", "stage2-segmentation", "stage3-detection", "stage4-driver"]
    assert inits == stages  # stage 1 from scratch, every later part (the joint run last) from the one before
    saved = {s: torch.load(run_dir / "stages" / s / "checkpoints" / "last.pt", weights_only=True) for s in stages}
    joint = torch.load(checkpoint, weights_only=True)
    assert [saved[s]["step"] for s in stages] == [1, 1, 1, 1] and joint["step"] == 2  # 4 + 2 = 6 steps in all

    def head(state, task):
        return {k: v for k, v in state["model"].items() if k.startswith(f"heads.{task}.") and v.is_floating_point()}

    # each stage starts from the previous one: a head no later stage trains carries over unchanged
    for later, task in (("stage2-segmentation", "depth"), ("stage3-detection", "segmentation"),
                        ("stage4-driver", "detection")):
        earlier = stages[stages.index(later) - 1]
        assert all(torch.equal(v, head(saved[later], task)[k]) for k, v in head(saved[earlier], task).items()), later
        trained = later.split("-", 1)[1]  # and its own head did train (RandomSamples may leave the
        if trained != "driver":  # one batch of the driver stage without driver labels)
            assert not all(torch.equal(v, head(saved[earlier], trained)[k])
                           for k, v in head(saved[later], trained).items()), later
    assert "loss/driver" in (run_dir / "train_log.csv").read_text().splitlines()[0]  # the joint run trains all
    assert joint["config"]["train"]["strategy"] == "equal"
    assert json.loads((run_dir / "train_time.json").read_text())["steps"] == 2
    cost = mtl.measure_costs([run], tmp_path, data, 1, "cpu")[run.row]  # the stages' time counts too
    parts = [json.loads(p.read_text()) for p in run_dir.rglob("train_time.json")]
    assert len(parts) == 5 and cost["train_s_per_step"] == pytest.approx(sum(p["seconds"] for p in parts) / 6)
    mtimes = {p: p.stat().st_mtime_ns for p in run_dir.rglob("last.pt")}
    assert mtl.train_staged_run(run, run_dir, data, "cpu", False) == checkpoint  # done: nothing trained again
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("last.pt")} == mtimes
    # interrupted after stage 2: stages 1-2 are kept, stage 3 starts from stage 2
    for stage in stages[2:]:
        shutil.rmtree(run_dir / "stages" / stage)
    for name in ("checkpoints", "tensorboard", "config.yaml", "train_log.csv", "train_time.json"):
        shutil.rmtree(run_dir / name) if (run_dir / name).is_dir() else (run_dir / name).unlink()
    inits.clear()
    mtl.train_staged_run(run, run_dir, data, "cpu", False)
    assert inits == stages[1:]
    for stage in stages[:2]:
        path = run_dir / "stages" / stage / "checkpoints" / "last.pt"
        assert path.stat().st_mtime_ns == mtimes[path]
    # the same folder planned for other steps is refused, not mixed
    longer = dataclasses.replace(run, config=dataclasses.replace(
        run.config, train=dataclasses.replace(run.config.train, steps=7)))
    from perception.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="seed0/checkpoints/last.pt: a run planned for 2 steps, this command plans 3"):
        mtl.train_staged_run(longer, run_dir, data, "cpu", False)


def test_t_test_p_matches_the_closed_form_with_two_degrees_of_freedom():
    # t = 2 / (1 / sqrt 3) for [1, 2, 3]; Student's t with 2 dof: CDF(t) = 1/2 + t / (2 sqrt(2 + t^2))
    t = 2 / (1 / math.sqrt(3))
    assert mtl.t_test_p([1.0, 2.0, None, 3.0]) == pytest.approx(2 * (0.5 - t / (2 * math.sqrt(2 + t * t))))
    assert mtl.t_test_p([1.0, 2.0]) is None and mtl.t_test_p([1.0, 1.0, 1.0]) is None
    assert mtl._separated([1.0, 2.0, 3.0]) == "yes (p 0.07)" and mtl._separated([1.0, 3.0]) == "yes"
    assert mtl._separated([-1.0, 2.0, 0.5]).startswith("no (p 0.")
