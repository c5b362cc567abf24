"""What the repository itself must keep true: the virtual environment stays out of git whatever
form it takes (a folder made by `make`, or a link to another checkout's, which `git add -A` would
otherwise commit and a later checkout would put in place of the real folder)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("form", ["folder", "link"])
def test_venv_is_never_added(tmp_path: Path, form: str) -> None:
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    repo.mkdir(), (elsewhere / "bin").mkdir(parents=True)
    (elsewhere / "bin" / "python").write_text("")
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    _git("init", "-q", cwd=repo)
    if form == "folder":
        shutil.copytree(elsewhere, repo / ".venv")
    else:
        (repo / ".venv").symlink_to(elsewhere)
    _git("add", "-A", cwd=repo)
    assert _git("ls-files", cwd=repo).split() == [".gitignore"]
