"""Read-only commands (status, eval, export, copy) never write the project: not even a schema 1 file
(which a writer would migrate), not when its folder is read-only, and they leave no side files."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hostile import ROOT, cli_command, cli_env, digest, make_video
from PIL import Image

from app.domain.project import Project


def _schema_1_project(folder: Path, video: Path) -> Path:
    path = folder / "old.masklet"
    with Project.create(path, video) as project:
        project.add_object("thing")
        for t in range(10):
            mask = np.zeros((48, 64), bool)
            mask[10:20, 5 + t:15 + t] = True
            project.set_mask(t, 1, mask)
    conn = sqlite3.connect(path, isolation_level=None)  # what Masklet 0.x wrote: no review tables
    conn.execute("DROP TABLE mask_info")
    conn.execute("DROP TABLE reviews")
    conn.execute("UPDATE schema_version SET version = 1")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def _gt(folder: Path) -> Path:
    folder.mkdir()
    for t in range(10):
        labels = np.zeros((48, 64), np.uint8)
        labels[10:20, 5 + t:15 + t] = 1
        Image.fromarray(labels, mode="L").save(folder / f"{t:05d}.png")
    return folder


def _commands(project: Path, out: Path, gt: Path) -> list[tuple[str, ...]]:
    return [("status", str(project)), ("status", str(project), "--json"),
            ("eval", str(project), "--gt", str(gt)), ("export", str(project), "--format", "coco", "--out",
                                                     str(out / "c.json")),
            ("export", str(project), "--format", "davis", "--out", str(out / "d")),
            ("copy", str(project), str(out / "copy.masklet"))]


def _without_root_powers() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only folder binds nobody")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


@pytest.mark.parametrize("folder_mode", ["writable", "read-only"])
def test_read_only_commands_leave_a_schema_1_project_byte_identical(tmp_path: Path, folder_mode: str) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    project = _schema_1_project(folder, make_video(tmp_path / "clip.avi"))
    out = tmp_path / "out"
    out.mkdir()
    gt = _gt(tmp_path / "gt")
    before = digest(folder)  # the project and everything beside it
    prefix = []
    if folder_mode == "read-only":
        prefix = _without_root_powers()
        folder.chmod(0o555)
    try:
        for args in _commands(project, out, gt):
            done = subprocess.run([*prefix, *cli_command(*args)], cwd=ROOT, env=cli_env(),
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, (args, done.stderr)
            assert digest(folder) == before, args
            assert sorted(p.name for p in folder.iterdir()) == ["old.masklet"], args
    finally:
        folder.chmod(0o755)
    with sqlite3.connect(project.as_uri() + "?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone() == (1,)
