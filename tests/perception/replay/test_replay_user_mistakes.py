"""Mistakes a new user makes with ``perception replay``: a config from another model, a misspelled
config key, an output folder that cannot be written. Each is one line on stderr, exit status 2,
and nothing written."""
from __future__ import annotations

from pathlib import Path

import pytest
from replay_setup import TINY

from perception.cli import main

REPO = Path(__file__).resolve().parents[3]


def _one_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("perception replay: error:"), err
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


def test_config_of_another_model(sim_bag, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["replay", str(sim_bag), "--checkpoint", str(TINY), "--config", str(REPO / "configs" / "base.yaml"),
                 "--out", str(out), "--quiet"]) == 2
    _one_line(capsys, str(TINY), "different config", "model.")
    assert not out.exists()


@pytest.mark.parametrize("typo, key", [("model:", "modle"), ("fpn_channels:", "fpn_chanels")])
def test_misspelled_config_key(sim_bag, tmp_path, capsys, typo, key):
    text = (REPO / "configs" / "tiny.yaml").read_text()
    assert typo in text
    config = tmp_path / "typo.yaml"
    config.write_text(text.replace(typo, f"{key}:", 1))
    out = tmp_path / "out"
    assert main(["replay", str(sim_bag), "--checkpoint", str(TINY), "--config", str(config), "--out", str(out),
                 "--quiet"]) == 2
    _one_line(capsys, str(config), key, "unknown key")
    assert not out.exists()


def test_output_folder_that_cannot_be_written(sim_bag, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep")
    for out in (blocker, blocker / "out"):
        assert main(["replay", str(sim_bag), "--checkpoint", str(TINY), "--out", str(out), "--quiet"]) == 2
        _one_line(capsys, str(out))
    assert blocker.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
