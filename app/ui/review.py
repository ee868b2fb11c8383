"""ReviewController: review mode, accepting frames, doubtful-frame navigation, and the guard that stops a
re-propagation from silently replacing masks a person reviewed.

Review mode steps through the frames that hold a mask without a current review (or only the doubtful
ones): Accept (Y) records every visible object's mask on the frame as reviewed and moves on; editing
a mask there first (click, box, brush) records it as "fixed". Accepts are undoable like any edit.
Before a propagation runs over reviewed frames the user chooses to keep them or let them be replaced;
afterwards a dialog lists every reviewed mask the engine would have changed (or did), with its IoU.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.review import ReviewedChange, ReviewGuard
from app.domain.review_commands import ReviewFrame
from app.domain.tracking import PropagationRequest
from app.ui.quality_model import QualityModel
from app.ui.review_panel import MAX_DOUBT_ROWS, ReviewPanel
from app.ui.timeline import Timeline

log = logging.getLogger(__name__)


def ask_reviewed_policy(parent: QWidget | None, count: int) -> str | None:
    """Ask what to do with ``count`` reviewed masks in a propagation's range: "keep", "replace" or None."""
    box = QMessageBox(QMessageBox.Icon.Question, "Reviewed frames ahead",
                      f"This propagation runs over {count} reviewed mask(s).\n\n"
                      "Keep them as reviewed (the engine's different answers are listed afterwards), or "
                      "let the engine replace them (their reviews then lapse)?", parent=parent)
    keep = box.addButton("Keep reviewed", QMessageBox.ButtonRole.AcceptRole)
    replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    box.exec()
    clicked = box.clickedButton()
    return "keep" if clicked is keep else "replace" if clicked is replace else None


def request_frames(request: PropagationRequest, num_frames: int) -> range:
    """The frames a propagation request writes (the start frame included)."""
    limit = num_frames if request.max_frames is None else request.max_frames
    if request.reverse:
        return range(max(request.start - limit, 0), request.start + 1)
    return range(request.start, min(request.start + limit, num_frames - 1) + 1)


class ReviewController(QObject):
    frame_requested = Signal(int)
    object_requested = Signal(int)
    mode_changed = Signal(bool)
    message = Signal(str)
    changes_found = Signal(object)  # list[ReviewedChange] of the run that just ended

    def __init__(self, session, model: QualityModel, parent: QObject | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.session = session
        self.model = model
        self.active = False
        self.doubtful_only = False
        self.guard: ReviewGuard | None = None
        self._edited: dict[int, set[int]] = {}
        model.mask_written.connect(self._on_mask_written)
        session.project_changed.connect(self._on_project_changed)
        session.tracking.finished.connect(self._on_run_finished)

    # -- views --------------------------------------------------------------------------------------
    def attach_views(self, timeline: Timeline, panel: ReviewPanel) -> None:
        """Keep the timeline's lanes and the review panel showing the model (the panel at most ~3/s)."""
        self._timeline, self._panel = timeline, panel
        self._panel_timer = QTimer(self)
        self._panel_timer.setSingleShot(True)
        self._panel_timer.setInterval(300)
        self._panel_timer.timeout.connect(self.refresh_panel)
        self.model.changed.connect(self.refresh_timeline)
        self.model.changed.connect(self._panel_timer.start)
        self.session.objects_changed.connect(self._panel_timer.start)
        panel.set_threshold(self.model.threshold)
        panel.threshold_changed.connect(self.model.set_threshold)
        panel.doubtful_only_changed.connect(self.set_doubtful_only)
        panel.frame_requested.connect(self.frame_requested)
        panel.object_requested.connect(self.object_requested)
        self.message.connect(lambda _text: panel.set_mode_text(self.mode_text()))
        panel.set_mode_text("")

    @Slot()
    def refresh_timeline(self) -> None:
        m = self.model
        caption = m.scores_label or (f"lanes: confidence, doubtful < {m.threshold:.2f}" if m.project else "")
        self._timeline.set_layers(m.layers())
        self._timeline.set_heat(threshold=m.threshold, show_scores=m.showing_scores, caption=caption)

    @Slot()
    def refresh_panel(self) -> None:
        objects = self.session.objects
        self._panel.set_threshold(self.model.threshold)
        self._panel.set_counts(objects, self.model.counts(), self.model.frame_counts())
        doubts, total = self.model.doubtful(limit=MAX_DOUBT_ROWS)
        self._panel.set_doubts(doubts, total, {o.id: o.name for o in objects})
        self._panel.set_mode_text(self.mode_text())

    # -- review mode ------------------------------------------------------------------------------
    def set_mode(self, on: bool) -> None:
        if on == self.active:
            return
        self.active = on
        self._edited.clear()
        self.mode_changed.emit(on)
        if on and self.session.project is not None:
            frame = self.session.current_frame
            if not self._todo_on(frame):
                self._advance(frame, announce_end=True)
        self.message.emit(self.mode_text())

    def mode_text(self) -> str:
        if not self.active:
            return ""
        counts = self.model.counts()
        left = sum(c.masked - c.reviewed for c in counts.values())
        which = "doubtful frames" if self.doubtful_only else "frames"
        return (f"Review mode ({which}): Y accepts this frame, Shift+Y the active object; edit a mask to "
                f"fix it first · {left} mask(s) left to review")

    def set_doubtful_only(self, on: bool) -> None:
        self.doubtful_only = on
        self.message.emit(self.mode_text())

    def _idle(self) -> bool:
        return self.session.project is not None and self.session.idle("review")

    def _visible_ids(self) -> list[int]:
        return [o.id for o in self.session.objects if not o.hidden]

    def _todo_on(self, frame: int) -> bool:
        states = self.model.reviewed_on(frame)
        return any(states.get(o, 1) != 1 for o in self._visible_ids())

    def _advance(self, frame: int, *, announce_end: bool = False) -> bool:
        target = self.model.next_unreviewed(frame, 1, self._visible_ids(), doubtful_only=self.doubtful_only)
        if target is None:
            if announce_end:
                self.message.emit("Nothing left to review after this frame" +
                                  (" (doubtful only)" if self.doubtful_only else ""))
            return False
        self.frame_requested.emit(target)
        return True

    def accept(self, *, active_only: bool = False) -> bool:
        """Record the current frame's masks (all visible objects, or the active one) as reviewed."""
        s = self.session
        project = s.project
        if project is None or not self._idle():
            return False
        frame = s.current_frame
        self.model.flush()  # an edit just made must count as "fixed"
        stored = self.model.reviewed_on(frame)
        ids = [s.active_id] if active_only else self._visible_ids()
        ids = [o for o in ids if o in stored]
        if not ids:
            self.message.emit(f"Frame {frame}: no mask to accept" + (" for the active object" if active_only
                                                                      else ""))
            return False
        command = ReviewFrame(frame, ids, self._edited.get(frame, set()) & set(ids))
        if s.push(command) is None:
            return False
        self._edited.pop(frame, None)
        self.model.flush()
        verdicts = ", ".join(f"{r.obj_id} {r.verdict}" for r in command.written)
        self.message.emit(f"Frame {frame}: {verdicts}")
        if self.active:
            self._advance(frame, announce_end=True)
        return True

    def clear(self) -> None:
        """Withdraw the reviews of the current frame (visible objects)."""
        from app.domain.review import unreview

        s = self.session
        if not self._idle():
            return
        unreview(s.project, s.current_frame, self._visible_ids())
        self.model.flush()

    def skip(self, step: int) -> None:
        target = self.model.next_unreviewed(self.session.current_frame, step, self._visible_ids(),
                                            doubtful_only=self.doubtful_only)
        if target is None:
            self.message.emit("No unreviewed frame " + ("after" if step > 0 else "before") + " this one")
        else:
            self.frame_requested.emit(target)

    def jump_doubtful(self, step: int) -> bool:
        """Go to the next (step > 0) or previous doubtful frame of any visible object."""
        target = self.model.next_doubtful(self.session.current_frame, step, self._visible_ids())
        if target is None:
            self.message.emit(f"No doubtful frame {'after' if step > 0 else 'before'} this one "
                              f"(confidence < {self.model.threshold:.2f})")
            return False
        self.frame_requested.emit(target)
        return True

    @Slot(int, object)
    def _on_mask_written(self, frame: int, obj_id: int | None) -> None:
        if self.active and not self.session.tracking.running and obj_id is not None:
            self._edited.setdefault(frame, set()).add(int(obj_id))

    # -- re-propagation over reviewed frames ----------------------------------------------------
    def prepare_propagation(self, requests: list[PropagationRequest], parent: QWidget | None) -> bool:
        """Before a run: ask about reviewed masks in its range; False cancels. Sets :attr:`guard`."""
        self.guard = None
        project = self.session.project
        if project is None:
            return True
        frames = set()
        for request in requests:
            frames.update(request_frames(request, project.num_frames))
        self.model.flush()
        count = self.model.reviewed_in(frames)
        if count == 0:
            return True
        policy = ask_reviewed_policy(parent, count)
        if policy is None:
            self.message.emit("Propagation cancelled: reviewed frames left as they are")
            return False
        self.guard = ReviewGuard(project, policy)
        return True

    def filter_frame(self, frame: int, masks: dict) -> dict:
        """Runs in the worker thread before each propagated frame is stored."""
        guard = self.guard
        return masks if guard is None else guard.filter(frame, masks)

    def follow_frame(self, frame: int, masks: dict) -> dict:
        """Runs in the worker thread: under "keep", the reviewed masks the engine departed from on
        ``frame``, which it then tracks on from (so the next frames follow the review)."""
        guard = self.guard
        return {} if guard is None else guard.to_follow(frame, masks)

    @Slot(int, bool)
    def _on_run_finished(self, _done: int, _cancelled: bool) -> None:
        guard, self.guard = self.guard, None
        if guard is not None and guard.changes:
            self.changes_found.emit(list(guard.changes))
        self.model.flush()

    @Slot()
    def _on_project_changed(self) -> None:
        self.guard = None
        self._edited.clear()
        self.model.set_project(self.session.project)


class ReviewedChangesDialog(QDialog):
    """What a propagation did to reviewed masks; double-click a row to go to the frame."""

    frame_requested = Signal(int)

    def __init__(self, changes: list[ReviewedChange], names: dict[int, str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Reviewed frames the tracker changed")
        kept = sum(1 for c in changes if c.kept)
        text = (f"The engine's answer differed on {len(changes)} reviewed mask(s): {kept} kept as reviewed, "
                f"{len(changes) - kept} replaced (their reviews lapsed). IoU: new mask vs the reviewed one.")
        label = QLabel(text, self)
        label.setWordWrap(True)
        self.table = QTableWidget(len(changes), 5, self)
        self.table.setHorizontalHeaderLabels(["Frame", "Object", "IoU", "Changed px", "Result"])
        for r, c in enumerate(changes):
            for col, value in enumerate((c.frame, f"{c.obj_id}  {names.get(c.obj_id, '')}", round(c.iou, 3),
                                         c.changed_pixels, "kept reviewed" if c.kept else "replaced")):
                item = QTableWidgetItem()
                item.setData(Qt.ItemDataRole.DisplayRole, value)
                self.table.setItem(r, col, item)
        self.table.setSortingEnabled(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.cellDoubleClicked.connect(
            lambda row, _col: self.frame_requested.emit(int(self.table.item(row, 0).data(
                Qt.ItemDataRole.DisplayRole))))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(560, 360)
