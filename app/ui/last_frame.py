"""Where the user left each project: reopening it shows that frame again, not frame 0.

Kept in the app's settings (QSettings), keyed by the project file (or the video, for a project that lives
only in memory), not in the project: looking at a frame is no change to the annotations, so it must not
write into a project file (nor fail on a read-only one), and the project's schema stays as it is.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QSettings

log = logging.getLogger(__name__)

KEY = "last_frames"
MAX_PROJECTS = 200  # the most recently left projects are remembered


def _load() -> list[list]:
    raw = QSettings().value(KEY, "")
    try:
        items = json.loads(raw) if isinstance(raw, str) and raw else []
    except ValueError:
        log.warning("ignoring unreadable %s in the settings", KEY)
        return []
    return [i for i in items if isinstance(i, list) and len(i) == 2 and isinstance(i[1], int)]


def remembered_frame(where: Path) -> int | None:
    """The frame last shown for ``where`` (a project file or a video), if any."""
    key = str(Path(where).resolve())
    return next((frame for path, frame in _load() if path == key), None)


def remember_frame(where: Path, frame: int) -> None:
    key = str(Path(where).resolve())
    items = [[key, int(frame)]] + [i for i in _load() if i[0] != key]
    QSettings().setValue(KEY, json.dumps(items[:MAX_PROJECTS]))
