"""sam3core and the app's domain must never import Qt: the tracker and the store run headless."""

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtawesome", "qtpy")


def _qt_free_modules() -> list[str]:
    names = []
    for package in ("sam3core", "app.domain"):
        path = ROOT.joinpath(*package.split("."))
        names.append(package)
        for info in pkgutil.walk_packages([str(path)], prefix=package + "."):
            names.append(info.name)
    return names


def test_sam3core_and_domain_import_without_qt() -> None:
    modules = _qt_free_modules()
    assert "sam3core.video" in modules and "app.domain.model" in modules
    # A fresh interpreter whose import system refuses every Qt binding: any module that pulls Qt in fails.
    script = f"""
import importlib, importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {QT_MODULES!r}:
            raise ImportError('Qt is forbidden here: ' + name)
        return None
sys.meta_path.insert(0, Block())
for name in {modules!r}:
    importlib.import_module(name)
leaked = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]
assert not leaked, leaked
print('ok', len({modules!r}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")


def test_the_guard_itself_catches_qt() -> None:
    script = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'PySide6':
            raise ImportError('blocked')
sys.meta_path.insert(0, Block())
import PySide6.QtCore
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode != 0 and "blocked" in result.stderr
