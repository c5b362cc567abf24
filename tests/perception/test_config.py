"""Config loading: presets load, YAML round trip, clear errors for bad keys and values."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from perception.config import (
    Config,
    ConfigError,
    config_from_dict,
    load_config,
    save_config,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name", ["tiny", "base"])
def test_preset_round_trip(name: str, tmp_path: Path) -> None:
    config = load_config(CONFIGS / f"{name}.yaml")
    assert isinstance(config, Config)
    out = save_config(config, tmp_path / "c.yaml")
    assert load_config(out) == config


def test_presets_have_expected_grids() -> None:
    tiny = load_config(CONFIGS / "tiny.yaml").model
    base = load_config(CONFIGS / "base.yaml").model
    assert tiny.bev.grid.shape == (128, 128)
    assert base.bev.grid.shape == (180, 180)
    assert (base.image.height, base.image.width, len(base.cameras)) == (256, 704, 6)
    assert base.view_transform.depth_bins == 118


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  image:\n    backbone: resnet18\n    bakbone: x\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: model.image.bakbone: unknown key"):
        load_config(path)


def test_wrong_type_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"model.view_transform.depth_bins: expected an integer"):
        config_from_dict({"model": {"view_transform": {"depth_bins": "many"}}})
    with pytest.raises(ConfigError, match=r"model.lidar.voxel_size: expected a list of 3 values"):
        config_from_dict({"model": {"lidar": {"voxel_size": [0.2, 0.2]}}})


def test_cross_field_validation() -> None:
    with pytest.raises(ConfigError, match="point_range"):
        config_from_dict({"model": {"lidar": {"point_range": [-40, -40, -5, 40, 40, 3]}}})
    with pytest.raises(ConfigError, match="power of two"):
        config_from_dict({"model": {"lidar": {"voxel_size": [0.3, 0.3, 8.0]}}})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml")


def test_sharing_from_spec():
    from perception.config import SharingConfig, sharing_from_spec

    assert sharing_from_spec("routing") == SharingConfig(kind="routing")
    base = SharingConfig(soft_weight=0.5)
    assert sharing_from_spec("soft+adapters", base) == SharingConfig(kind="soft", soft_weight=0.5, image_adapters=True)
    both = SharingConfig(kind="sluice", image_adapters=True, depth_distribution="own")
    assert sharing_from_spec("sluice+adapters+own_depth") == both
    with pytest.raises(ValueError, match=r"in the order \+adapters\+own_depth\+free_lift \('sluice\+adapters\+own_depth'\)"):
        sharing_from_spec("sluice+own_depth+adapters")
    with pytest.raises(ValueError, match="once each"):
        sharing_from_spec("hard+adapters+adapters")
    # options the spec does not name are off, whatever the base says
    assert sharing_from_spec("hard", both) == SharingConfig()
    with pytest.raises(ValueError, match="unknown sharing 'hard-adapters'"):
        sharing_from_spec("hard-adapters")
    assert not sharing_from_spec("hard+own_depth+free_lift").lift_supervision
    assert sharing_from_spec("hard+own_depth").lift_supervision
    with pytest.raises(ValueError, match=r"unknown sharing option '\+own' in 'hard\+own'"):
        sharing_from_spec("hard+own")
    with pytest.raises(ValueError, match=r"\+free_lift needs \+own_depth"):
        sharing_from_spec("hard+free_lift")
    with pytest.raises(ValueError, match="lift_supervision: false needs depth_distribution: own"):
        SharingConfig(lift_supervision=False)


def test_extends_merges_mappings_and_replaces_other_values(tmp_path: Path) -> None:
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "parent.yaml").write_text(
        "model:\n  cameras: [CAM_FRONT, CAM_BACK]\n  image: {height: 64, width: 176}\n"
        "train: {lr: 0.002, steps: 10}\n")
    (tmp_path / "child.yaml").write_text(
        "extends: presets/parent.yaml\nmodel:\n  cameras: [CAM_FRONT]\n  image: {width: 352}\ntrain: {steps: 20}\n")
    (tmp_path / "grandchild.yaml").write_text("extends: child.yaml\ntrain: {seed: 7}\n")
    default = Config()
    expected = dataclasses.replace(
        default,
        model=dataclasses.replace(default.model, cameras=("CAM_FRONT",),
                                  image=dataclasses.replace(default.model.image, height=64, width=352)),
        train=dataclasses.replace(default.train, lr=0.002, steps=20),
    )
    assert load_config(tmp_path / "child.yaml") == expected
    assert load_config(tmp_path / "grandchild.yaml") == dataclasses.replace(
        expected, train=dataclasses.replace(expected.train, seed=7))


def test_extends_replaces_free_form_mappings_and_checks_values_merged(tmp_path: Path) -> None:
    (tmp_path / "weighted.yaml").write_text(
        "train: {strategy: static, strategy_options: {weights: {segmentation: 8.0, depth: 2.0}}}\n")
    (tmp_path / "cleared.yaml").write_text("extends: weighted.yaml\ntrain: {strategy: equal, strategy_options: {}}\n")
    (tmp_path / "reweighted.yaml").write_text(
        "extends: weighted.yaml\ntrain: {strategy_options: {weights: {segmentation: 4.0}}}\n")
    assert load_config(tmp_path / "cleared.yaml").train.strategy_options == {}
    assert load_config(tmp_path / "reweighted.yaml").train.strategy_options == {"weights": {"segmentation": 4.0}}
    # a file valid only with what extends it: the value checks run on the merged config
    (tmp_path / "free_lift.yaml").write_text("model:\n  sharing: {lift_supervision: false}\n")
    (tmp_path / "own_depth.yaml").write_text("extends: free_lift.yaml\nmodel:\n  sharing: {depth_distribution: own}\n")
    sharing = load_config(tmp_path / "own_depth.yaml").model.sharing
    assert sharing.depth_distribution == "own" and not sharing.lift_supervision
    with pytest.raises(ConfigError, match="lift_supervision: false needs depth_distribution: own"):
        load_config(tmp_path / "free_lift.yaml")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.yaml": "extends: a.yaml\n"}, r"a.yaml: extends: 'a.yaml' extends this file again \(a loop\)"),
        ({"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"},
         r"a.yaml: extends: .*b.yaml: extends: 'a.yaml' extends this file again"),
        ({"a.yaml": "extends: missing.yaml\n"}, r"a.yaml: extends: .*missing.yaml: cannot read config: file does not exist"),
        ({"a.yaml": "extends: [b.yaml]\n"}, r"a.yaml: extends: expected the path of a config file, got \['b.yaml'\]"),
        ({"a.yaml": "extends: b.yaml\n", "b.yaml": "model:\n  bakbone: x\n"},
         r"a\.yaml: extends: .*/b\.yaml: model\.bakbone: unknown key"),
        ({"a.yaml": "extends: b.yaml\n", "b.yaml": "model:\n  view_transform: {depth_bins: many}\n"},
         r"a\.yaml: extends: .*/b\.yaml: model\.view_transform\.depth_bins: expected an integer"),
        ({"a.yaml": "- model\n"}, r"a.yaml: top level: expected a mapping of sections, got list"),
    ],
)
def test_extends_errors_name_the_file(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "a.yaml")


@pytest.mark.parametrize(
    ("name", "base", "train"),
    [
        ("mtl_controls/static_map4_depth2", "mtl_small", {"segmentation": 4.0, "depth": 2.0}),
        ("mtl_controls/static_map8_depth2", "mtl_small", {"segmentation": 8.0, "depth": 2.0}),
        ("mtl_controls/tiny_static_map8_depth2", "tiny", {"segmentation": 8.0, "depth": 2.0}),
        ("tiny_map_weighted", "tiny", {"segmentation": 2.0}),
    ],
)
def test_static_weight_configs_change_only_the_strategy(name: str, base: str, train: dict[str, float]) -> None:
    parent = load_config(CONFIGS / f"{base}.yaml")
    assert load_config(CONFIGS / f"{name}.yaml") == dataclasses.replace(
        parent, train=dataclasses.replace(parent.train, strategy="static", strategy_options={"weights": train}))


def test_depth_bin_control_changes_only_the_bin_weight() -> None:
    parent = load_config(CONFIGS / "mtl_small.yaml")
    heads = dataclasses.replace(parent.model.heads, depth=dataclasses.replace(parent.model.heads.depth, bin_weight=1.0))
    assert parent.model.heads.depth.bin_weight == 0.5
    assert load_config(CONFIGS / "mtl_controls" / "depth_bins_x2.yaml") == dataclasses.replace(
        parent, model=dataclasses.replace(parent.model, heads=heads))
