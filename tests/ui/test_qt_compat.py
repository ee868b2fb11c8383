"""The None-refcount workaround for PySide6 6.12 on CPython 3.11 (app/ui/qt_compat.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_long_session_of_void_qt_calls_does_not_abort() -> None:
    # 200,000 void calls: without the workaround the process dies with "none_dealloc" near 60,000.
    script = """
import sys
import app.ui
from PySide6.QtWidgets import QApplication, QWidget
app_ = QApplication([])
widget = QWidget()
before = sys.getrefcount(None)
for _ in range(200_000):
    widget.update()
print('ok', before - sys.getrefcount(None))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok")
