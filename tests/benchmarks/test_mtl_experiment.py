"""Pure parts of benchmarks/mtl_experiment.py: Delta_m, single-task configs, the results table."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from perception.config import load_config

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
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


def test_plan_runs_and_joint_strategy():
    runs = mtl.plan_runs(load_config(TINY), ["equal", "pcgrad"])
    assert list(runs) == ["single-detection", "single-segmentation", "single-depth", "single-driver",
                          "joint-equal", "joint-pcgrad"]
    assert runs["joint-pcgrad"].train.strategy == "pcgrad"
    assert mtl.enabled_tasks(runs["joint-pcgrad"]) == mtl.TASKS


def test_summary_baseline_and_table():
    metrics = {"nuscenes_detection": {"nd_score": 0.5, "mean_ap": 0.4}, "bev_segmentation": {"miou": 0.6},
               "depth": {"per_image": {"abs_rel": 0.2}}, "driver": {"frames": {"gaze": {"accuracy": 0.8}}}}
    full = mtl.summarize_metrics(metrics)
    assert full == {"nds": 0.5, "map": 0.4, "miou": 0.6, "abs_rel": 0.2, "gaze_acc": 0.8}
    assert mtl.summarize_metrics({"depth": {"per_image": {"abs_rel": 0.3}}})["nds"] is None
    results = {
        "single-detection": {"fused": {**full, "nds": 0.5}},
        "single-segmentation": {"fused": {**full, "miou": 0.6}},
        "single-depth": {"fused": {**full, "abs_rel": 0.2}},
        "single-driver": {"fused": {**full, "gaze_acc": 0.8}},
        "joint-equal": {"fused": {"nds": 0.55, "map": 0.4, "miou": 0.6, "abs_rel": 0.15, "gaze_acc": 0.8},
                        "lidar-only": {"nds": 0.3, "map": 0.2, "miou": 0.5, "abs_rel": None, "gaze_acc": 0.8}},
    }
    baseline = mtl.single_task_baseline(results)
    assert baseline == full
    assert mtl.delta_m_of(results["joint-equal"]["fused"], baseline, mtl.TASKS) == pytest.approx((10 + 0 + 25 + 0) / 4)
    table = mtl.results_table(results, ["equal"], mtl.TASKS)
    assert "| joint, equal | 0.550 | 0.400 | 0.600 | 0.150 | 0.800 | 8.75 |" in table
    assert "| joint, equal, lidar-only at inference | 0.300 | 0.200 | 0.500 | – | – | – |" in table


def test_replace_section_keeps_the_rest():
    replace_section = mtl.replace_section  # benchmarks/doc_sections.py, as the script uses it
    text = "# Experiments\n\n## Protocol\n\nkeep me\n\n## Results\n\nold\n\n## Notes\n\nalso kept\n"
    new = replace_section(text, "## Results\n\nnew table\n")
    assert new == "# Experiments\n\n## Protocol\n\nkeep me\n\n## Results\n\nnew table\n\n## Notes\n\nalso kept\n"
    assert replace_section("# E\n", "## Results\n\nt\n") == "# E\n\n## Results\n\nt\n"
