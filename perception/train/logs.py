"""Training logs: a CSV file and TensorBoard scalars of losses, weights, lr, grad norm and conflicts."""
from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import IO

from torch.utils.tensorboard import SummaryWriter

from sensors.atomic import atomic_write


#: Column prefixes added after logs were first written; a log without them resumes (empty cells).
ADDED_COLUMN_PREFIXES = ("shared_grad_norm/",)


def csv_columns(task_names: Sequence[str]) -> list[str]:
    """Column names of ``train_log.csv`` for these tasks, in order.

    ``step`` (optimisation steps done), ``epoch``, ``lr`` (first param group), ``grad_norm``
    (global L2 norm before clipping), ``loss`` (sum of the present tasks' losses), ``skipped``
    (non-finite steps skipped so far), then ``loss/<task>``, ``weight/<task>`` per task and
    ``cos/<a>/<b>`` per task pair (cosine similarity of their gradients on the shared parameters)
    and ``shared_grad_norm/<task>`` (L2 norm of the task's gradient on the shared parameters); the
    last two where per-task gradients were computed (diagnostic steps, every step of the gradient
    strategies). A task absent from the logged step, or a quantity not computed, is an empty cell.
    """
    names = list(task_names)
    return [
        "step", "epoch", "lr", "grad_norm", "loss", "skipped",
        *(f"loss/{n}" for n in names),
        *(f"weight/{n}" for n in names),
        *(f"cos/{a}/{b}" for a, b in combinations(names, 2)),
        *(f"shared_grad_norm/{n}" for n in names),
    ]


class TrainLogger:
    """Appends one row per logged step to ``<out_dir>/train_log.csv`` and to TensorBoard.

    On resume from step S, rows of a crashed run past S are dropped first, so the file holds each
    step once.
    """

    def __init__(self, out_dir: str | Path, task_names: Sequence[str], resume_step: int | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.columns = csv_columns(task_names)
        self.csv_path = self.out_dir / "train_log.csv"
        if resume_step is None or not self.csv_path.exists():
            self._rewrite([])
        else:
            self._truncate_after(resume_step)
        self._writer = SummaryWriter(log_dir=str(self.out_dir / "tensorboard"), purge_step=resume_step)

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        def write(handle: IO[str]) -> None:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(rows)

        atomic_write(self.csv_path, write, newline="")

    def _truncate_after(self, step: int) -> None:
        with self.csv_path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            # a log written before the shared_grad_norm columns existed resumes with them empty
            older = [c for c in self.columns if not c.startswith(ADDED_COLUMN_PREFIXES)]
            if reader.fieldnames not in (self.columns, older):
                raise ValueError(
                    f"{self.csv_path}: columns {reader.fieldnames} do not match this run's {self.columns}"
                )
            rows = [row for row in reader if int(row["step"]) <= step]
        self._rewrite(rows)

    def log(self, values: Mapping[str, float | int | None]) -> None:
        """Write one row; keys must be columns (missing ones stay empty); None and NaN are allowed."""
        unknown = set(values) - set(self.columns)
        if unknown:
            raise KeyError(f"not log columns: {sorted(unknown)}")
        row = {k: "" if v is None else repr(float(v)) if isinstance(v, float) else str(v) for k, v in values.items()}
        with self.csv_path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.columns).writerow(row)
        step = int(values["step"])  # type: ignore[arg-type]
        for key, value in values.items():
            if key != "step" and value is not None and math.isfinite(float(value)):
                self._writer.add_scalar(f"train/{key}", float(value), step)

    def close(self) -> None:
        """Flush and close TensorBoard."""
        self._writer.close()
