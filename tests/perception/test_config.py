"""Config loading: presets load, YAML round trip, clear errors for bad keys and values."""
from __future__ import annotations

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
