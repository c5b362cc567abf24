"""Two gloo processes on a split batch train exactly like one process on the whole batch."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import torch
from ddp_worker import PER_RANK_BATCH, STEPS
from train_toy import make_trainer, toy_config

STRATEGIES = ["equal", "uncertainty", "pcgrad", "gradnorm"]
REPO = Path(__file__).resolve().parents[3]


def test_two_gloo_processes_equal_single_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
        str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path / "ddp"), *STRATEGIES,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]

    for name in STRATEGIES:
        config = toy_config(steps=STEPS, batch_size=2 * PER_RANK_BATCH, strategy=name, checkpoint_every=0)
        single = make_trainer(tmp_path / "single" / name, config, dropout=0.0, diagnostics_every=2)
        single.fit()
        distributed = torch.load(tmp_path / "ddp" / f"{name}.pt", weights_only=True)
        start = make_trainer(tmp_path / "init", config, dropout=0.0).model.state_dict()
        for key, value in single.model.state_dict().items():
            assert not torch.allclose(value, start[key]), f"{name}: {key} did not train"
            torch.testing.assert_close(distributed[key], value, rtol=1e-5, atol=1e-6, msg=f"{name}: {key}")
        # The logged global quantities agree too (AdamW is nearly scale-invariant, so a gradient
        # off by a constant factor would show in grad_norm rather than in the parameters).
        ddp_rows = list(csv.DictReader((tmp_path / "ddp" / name / "train_log.csv").open()))
        one_rows = list(csv.DictReader((tmp_path / "single" / name / "train_log.csv").open()))
        for ddp_row, one_row in zip(ddp_rows, one_rows, strict=True):
            for column in ("loss/a", "loss/b", "cos/a/b", "weight/a", "grad_norm"):
                if one_row[column] == "":  # cosines only on diagnostics steps of loss-weighting methods
                    assert ddp_row[column] == "", (name, column)
                else:
                    assert abs(float(ddp_row[column]) - float(one_row[column])) < 1e-4, (name, column)
