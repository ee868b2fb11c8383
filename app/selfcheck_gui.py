"""Drive the real main window offscreen: the GUI step of ``--self-check`` and the README screenshot.

Everything goes through the window's public entry points (``open_path``, ``window.session``,
``window.viewer``) and waits on the event loop, as a user's clicks would; settings go to a private
folder so neither the self-check nor the screenshot touches the user's recent files or geometry.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

READY_TIMEOUT_S = 60.0

log = logging.getLogger(__name__)
_previous_handlers: dict[int, Any] = {}  # window -> the Qt message handler to restore on close


def _qt_message(mode: Any, context: Any, message: str) -> None:
    # Offscreen platform chatter ("does not support propagateSizeHints()") belongs in the log file.
    log.debug("Qt: %s", message)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Run the Qt event loop until ``condition()`` holds; TimeoutError naming ``what`` otherwise."""
    from PySide6.QtCore import QCoreApplication, QEventLoop

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.002)


def open_window(settings_dir: Path, *, size: tuple[int, int] = (1400, 860)) -> Any:
    """A shown MainWindow with the no-weights engine loaded, settings kept in ``settings_dir``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QSettings, qInstallMessageHandler
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from app.resources import app_icon_path
    from app.ui.worker import EngineSpec

    previous = qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    QCoreApplication.setOrganizationName("Masklet")
    QCoreApplication.setApplicationName("Masklet")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    app.setWindowIcon(QIcon(str(app_icon_path(256))))  # type: ignore[union-attr]
    from app.ui.main_window import MainWindow

    window = MainWindow(engine=EngineSpec(None, None, "cpu"))
    _previous_handlers[id(window)] = previous
    window.resize(*size)
    window.show()
    wait_until(lambda: bool(window.tracking.engine_name), READY_TIMEOUT_S, "the engine to load")
    return window


def close_window(window: Any) -> None:
    window.tracking.cancel()
    wait_until(lambda: not window.tracking.running, READY_TIMEOUT_S, "the worker to stop")
    window.close()
    window.deleteLater()
    from PySide6.QtCore import qInstallMessageHandler

    qInstallMessageHandler(_previous_handlers.pop(id(window), None))


def prompt_and_wait(window: Any, frame: int, obj_id: int, *, box: Sequence[float] | None = None,
                    points: Sequence[tuple[float, float, bool]] = ()) -> np.ndarray:
    """Give ``obj_id`` a box and/or clicks (x, y, positive) on ``frame`` through the session, as the
    canvas does, waiting for the engine's answer after each; returns the final mask."""
    session = window.session
    window.viewer.show_frame(frame)
    if session.object_info(obj_id) is None:
        raise ValueError(f"no object {obj_id} in the open project")
    session.select_object(obj_id)
    edits: list[Callable[[], None]] = []
    if box is not None:
        edits.append(lambda: session.set_box(frame, tuple(float(v) for v in box)))
    for x, y, positive in points:
        edits.append(lambda x=x, y=y, positive=positive: session.add_point(frame, x, y, positive))
    if not edits:
        raise ValueError("prompt_and_wait needs a box or a point")
    for edit in edits:
        edit()  # the session marks the prompt as waiting before it returns, so no answer is missed
        wait_until(lambda: not session.waiting_for_engine and session.project.mask(frame, obj_id) is not None,
                   READY_TIMEOUT_S, f"the mask of object {obj_id} on frame {frame}")
    return session.project.mask(frame, obj_id)


def propagate_and_wait(window: Any, frm: int, to: int) -> None:
    from app.domain.tracking import Direction

    window.viewer.show_frame(frm)
    direction = Direction.FORWARD if to >= frm else Direction.BACKWARD
    if not window.session.propagate(direction, target=to):
        raise RuntimeError(f"the window refused to propagate from frame {frm} to {to}")
    wait_until(lambda: not window.tracking.running, 10 * READY_TIMEOUT_S, "the propagation to finish")


def check_window(project_path: Path, *, settings_dir: Path, gt: list[np.ndarray], frame: int,
                 min_j: float) -> str:
    """Open the self-check's project in the window, check what is shown, prompt, propagate."""
    from sam3core.eval.metrics import region_similarity

    window = open_window(settings_dir)
    try:
        if not window.open_path(project_path):
            raise RuntimeError(f"the window could not open {project_path}: {window.errors}")
        if project_path.name not in window.windowTitle():
            raise RuntimeError(f"window title {window.windowTitle()!r} does not name the project")
        session = window.session
        objects = [o.id for o in session.objects]
        if not objects or any(not session.mask_frames.get(o) for o in objects):
            raise RuntimeError("the window shows no stored masks for the project's objects")
        # Shown frame: each object's pixels are tinted in its colour, the rest of the frame is not.
        window.viewer.show_frame(frame)
        shown = window.viewer.renderer.render(session.project, frame, session.objects)
        raw = session.project.video[frame]
        tinted = np.any(shown != raw, axis=2)
        masks = session.project.masks_on_frame(frame)
        union = np.any(np.stack(list(masks.values())), axis=0) if masks else np.zeros(raw.shape[:2], bool)
        inside = float(tinted[union].mean()) if union.any() else 0.0
        outside = float(tinted[~union].mean())
        if inside < 0.5 or outside > 0.2:
            raise RuntimeError(f"frame {frame} shows {inside:.0%} of the mask pixels tinted and "
                               f"{outside:.0%} of the others")
        # A box on a later frame, answered by the engine in the worker thread.
        later = min(frame + 8, session.project.num_frames - 4)
        obj_id = max(objects, key=lambda o: int((gt[later] == o).sum()))
        ys, xs = np.nonzero(gt[later] == obj_id)
        box = (xs.min() - 3.0, ys.min() - 3.0, xs.max() + 3.0, ys.max() + 3.0)
        mask = prompt_and_wait(window, later, obj_id, box=box)
        j = region_similarity(mask, gt[later] == obj_id)
        if j < min_j:
            raise RuntimeError(
                f"a box around object {obj_id} on frame {later} gave J={j:.2f}, expected >= {min_j}")
        propagate_and_wait(window, later, later + 3)
        missing = [f for f in range(later, later + 4) if f not in session.mask_frames.get(obj_id, set())]
        if missing:
            raise RuntimeError(f"propagation in the window left frames {missing} without a mask")
        if window.errors:
            raise RuntimeError(f"the window reported errors: {window.errors}")
        image = window.grab().toImage()
        if image.isNull() or image.width() < 800:
            raise RuntimeError("the window could not be rendered")
        return (f"title {window.windowTitle()!r}; box on frame {later} J={j:.2f}; propagated "
                f"{later}..{later + 3} in the worker thread; rendered {image.width()}x{image.height()}")
    finally:
        close_window(window)
