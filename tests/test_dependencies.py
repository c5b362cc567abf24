"""pyproject's runtime dependencies: each is imported by the project, and a CPU install needs no CuPy."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
#: distribution name -> the module the code imports
MODULES = {"opencv-python-headless": "cv2", "pyyaml": "yaml", "pillow": "PIL", "tensorboard": "torch.utils.tensorboard",
           "markdown-it-py": "markdown_it"}
#: dependencies listed for a reason other than an import (the reason is the comment in pyproject.toml)
NOT_IMPORTED = {"torchvision"}


def test_every_runtime_dependency_is_imported_by_the_project() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    code = "\n".join(p.read_text() for top in ("perception", "kernels", "sensors", "evaluation")
                     for p in (REPO / top).rglob("*.py"))
    unused = sorted(
        name for name in names - NOT_IMPORTED
        if not re.search(rf"^\s*(import|from) {re.escape(MODULES.get(name, name))}\b", code, re.MULTILINE)
    )
    assert unused == []


def test_cpu_import_does_not_need_cupy() -> None:
    """With ``import cupy`` failing (as on a pure-CPU install), the project still imports and builds."""
    code = ("import sys; sys.modules['cupy'] = None; import kernels, perception.cli, perception.inference; "
            "from perception.config import load_config; from perception.model import FusionModel; "
            "FusionModel(load_config('configs/tiny.yaml').model)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
