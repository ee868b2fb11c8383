"""The main window: composes the canvas, timeline, objects panel and status bar, and wires actions.

All behaviour lives in the controllers (session, tracking, viewer, files); this file only connects
signals to them. Programmatic entry points for tests and the self-check: :meth:`open_path`,
``window.session`` (prompts, propagation), ``window.tracking`` and ``window.files`` (export/import).
"""

from __future__ import annotations

import logging
from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.domain.tracking import Direction
from app.ui import dialogs
from app.ui import first_run as first_run_offer
from app.ui.actions import ACTIONS, MENUS, ShortcutsDialog, X, build_actions
from app.ui.busy import BusyIndicator
from app.ui.canvas import Canvas, Tool
from app.ui.evaluation import EvaluationDialog
from app.ui.files import FileController, is_openable
from app.ui.objects_panel import ObjectsPanel
from app.ui.outline_tool import OutlineEditor
from app.ui.quality_model import QualityModel
from app.ui.review import ReviewController, ReviewedChangesDialog
from app.ui.review_panel import ReviewPanel
from app.ui.session import SessionController
from app.ui.statusbar import StatusPanel
from app.ui.timeline import Timeline
from app.ui.tracking import TrackingController
from app.ui.undo_view import UndoKeys, UndoNavigator
from app.ui.viewer import FrameViewController
from app.ui.worker import EngineFactory, EngineSpec, default_engine_factory

log = logging.getLogger(__name__)

ENGINE_FALLBACK_MS = 1000  # the first engine loads after the first paint, or after this

# Actions that need an open project.
PROJECT_ACTIONS = ("save", "save_as", "save_copy", "import", "export_coco", "export_davis", "export_ytvis",
                   "export_mots", "export_yolo", "export_sav",
                   "export_overlay", "propagate_forward", "propagate_backward", "propagate_both",
                   "propagate_next_prompt", "propagate_prev_prompt", "propagate_to_frame", "add_object",
                   "clear_prompt", "review_mode", "review_accept", "review_accept_object", "review_clear",
                   "review_next", "review_prev", "doubt_next", "doubt_prev", "evaluate", "clear_evaluation")

# Actions that change annotations: disabled while a propagation writes into the project.
EDIT_ACTIONS = ("undo", "redo", "clear_prompt", "delete_object", "import", "open_video", "open_folder",
                "open_project", "open_sample", "save_as", "propagate_forward", "propagate_backward",
                "propagate_both", "propagate_next_prompt", "propagate_prev_prompt", "propagate_to_frame",
                "engine", "get_model", "review_accept", "review_accept_object", "review_clear", "evaluate")


class MainWindow(QMainWindow):
    def __init__(self, *, engine: EngineSpec | None = None,
                 engine_factory: EngineFactory | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Masklet")
        self.setAcceptDrops(True)
        self.errors: list[tuple[str, str]] = []
        self._close_when_idle = False
        self.tracking = TrackingController(engine_factory or default_engine_factory, self)
        self.session = SessionController(self.tracking, self)
        self.canvas = Canvas(self)
        self.timeline = Timeline(self)
        self.objects_panel = ObjectsPanel(self)
        self.viewer = FrameViewController(self.session, self.canvas, self.timeline, self.objects_panel, self)
        self.outline_editor = OutlineEditor(self.session, self.canvas, self)
        self.files = FileController(self, self.session)
        self.quality = QualityModel(self)
        self.review = ReviewController(self.session, self.quality, self)
        self.actions = build_actions(self)
        self.undo_view = UndoNavigator(self.session, self.viewer, self)
        self.review_panel = ReviewPanel(self.actions, self)
        self.review.attach_views(self.timeline, self.review_panel)
        self.evaluation: EvaluationDialog | None = None
        self.model_offer: first_run_offer.ModelOfferDialog | None = None
        self._build_layout()
        self._build_menus()
        self._build_toolbar()
        self.status = StatusPanel(self.statusBar(), self.actions["cancel"], self)
        # Ctrl+Z undoes the annotation also while the frame number (or brush size) box has focus.
        self.undo_keys = UndoKeys((self.actions["undo"], self.actions["redo"]), self)
        self.undo_keys.watch(self.findChildren(QAbstractSpinBox))
        self.busy = BusyIndicator(self.canvas, self.status, self)
        self._connect()
        self._set_running(False)
        self._update_title()
        settings = QSettings()
        geometry = settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        # Specs asked for and not yet answered (in order), and the one the engine in use was built from:
        # the engine dialog shows that one, not a request that failed or is still loading.
        self._engine_requests: list[EngineSpec] = []
        self.engine_in_use: EngineSpec | None = None
        self.engine_spec = engine or self._remembered_engine()
        # After the canvas's first paint: building an engine imports torch in the worker thread, whose
        # C part holds the GIL for about a second and would freeze this thread before the first frame
        # is on screen. (A window never shown loads it after ENGINE_FALLBACK_MS.)
        self.canvas.viewport().installEventFilter(self)
        QTimer.singleShot(ENGINE_FALLBACK_MS, self._load_first_engine)

    # -- composition --------------------------------------------------------------------------
    def _build_layout(self) -> None:
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.timeline)
        self.setCentralWidget(central)
        dock = QDockWidget("Objects", self)
        dock.setObjectName("objects_dock")
        dock.setWidget(self.objects_panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.review_dock = QDockWidget("Review", self)
        self.review_dock.setObjectName("review_dock")
        self.review_dock.setWidget(self.review_panel)
        self.review_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable |
                                     QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.review_dock)
        self.review_dock.hide()
        self.timeline.add_buttons(self.actions[n] for n in (
            "first_frame", "prev_10", "prev_frame", "play", "next_frame", "next_10", "last_frame"))

    def _build_menus(self) -> None:
        bar = self.menuBar()
        menus = {title: bar.addMenu(title) for title in (MENUS[0], X, *MENUS[1:])}
        for spec in ACTIONS:
            if spec.menu:
                menus[spec.menu].addAction(self.actions[spec.name])
            if spec.name == "open_project":
                self.recent_menu = menus[spec.menu].addMenu("Open &recent")
                self.recent_menu.aboutToShow.connect(lambda: self.files.fill_recent_menu(self.recent_menu))
                menus[spec.menu].addSeparator()
            if spec.name in ("import", "redo", "tool_outline", "zoom_out", "outline", "propagate_to_frame"):
                menus[spec.menu].addSeparator()

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", self)
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        groups = (("open_video", "open_project", "save"), ("undo", "redo"),
                  ("tool_prompt", "tool_brush", "tool_eraser", "tool_outline"))
        for group in groups:
            for name in group:
                bar.addAction(self.actions[name])
            bar.addSeparator()
        self.brush_size = QSpinBox(self)
        self.brush_size.setRange(1, 300)
        self.brush_size.setValue(int(self.canvas.brush_radius))
        self.brush_size.setSuffix(" px")
        self.brush_size.setToolTip("Brush / eraser radius in video pixels ( [ and ] )")
        bar.addWidget(QLabel(" Brush ", self))
        bar.addWidget(self.brush_size)
        bar.addSeparator()
        bar.addWidget(QLabel(" Propagate ", self))
        for name in ("propagate_backward", "propagate_both", "propagate_forward", "cancel"):
            bar.addAction(self.actions[name])
        bar.addSeparator()
        for name in ("zoom_fit", "zoom_100", "outline"):
            bar.addAction(self.actions[name])
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(self.viewer.renderer.options.opacity * 100))
        self.opacity.setMaximumWidth(120)
        self.opacity.setToolTip("Mask opacity")
        bar.addWidget(QLabel(" Opacity ", self))
        bar.addWidget(self.opacity)
        bar.addSeparator()
        # The button shows the action's icon text: a text set on the button itself was replaced by the
        # long menu text whenever the action was disabled (each propagation), resizing the toolbar.
        self.actions["engine"].setIconText("Engine…")
        bar.addAction(self.actions["engine"])
        engine_button = bar.widgetForAction(self.actions["engine"])
        if engine_button is not None:
            engine_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools = QActionGroup(self)
        for name in ("tool_prompt", "tool_brush", "tool_eraser", "tool_outline"):
            tools.addAction(self.actions[name])
        self.actions["tool_prompt"].setChecked(True)

    def _connect(self) -> None:
        a, s, v, f = self.actions, self.session, self.viewer, self.files
        handlers = {
            "open_video": f.open_video_dialog, "open_folder": f.open_folder_dialog,
            "open_project": f.open_project_dialog, "open_sample": self.open_sample,
            "save": f.save, "save_as": f.save_as_dialog, "save_copy": f.save_copy_dialog,
            "import": f.import_dialog, "quit": self.close,
            "export_coco": lambda: f.export_dialog("coco"), "export_davis": lambda: f.export_dialog("davis"),
            "export_ytvis": lambda: f.export_dialog("ytvis"),
            "export_mots": lambda: f.export_dialog("mots"), "export_yolo": lambda: f.export_dialog("yolo"),
            "export_sav": lambda: f.export_dialog("sav"),
            "export_overlay": lambda: f.export_dialog("video"),
            "undo": self.undo_view.undo, "redo": self.undo_view.redo,
            "clear_prompt": lambda: s.clear_prompt(v.frame),
            "tool_prompt": lambda: self.canvas.set_tool(Tool.PROMPT),
            "tool_brush": lambda: self.canvas.set_tool(Tool.BRUSH),
            "tool_eraser": lambda: self.canvas.set_tool(Tool.ERASER),
            "tool_outline": lambda: self.canvas.set_tool(Tool.OUTLINE),
            "brush_bigger": lambda: self.brush_size.setValue(int(self.brush_size.value() * 1.25) + 1),
            "brush_smaller": lambda: self.brush_size.setValue(int(self.brush_size.value() / 1.25)),
            "zoom_fit": self.canvas.fit, "zoom_100": self.canvas.zoom_100,
            "zoom_in": lambda: self.canvas.zoom_by(1.25), "zoom_out": lambda: self.canvas.zoom_by(0.8),
            "next_frame": lambda: v.step(1), "prev_frame": lambda: v.step(-1),
            "next_10": lambda: v.step(10), "prev_10": lambda: v.step(-10),
            "first_frame": lambda: v.user_seek(0), "last_frame": lambda: v.user_seek(10**9),
            "add_object": s.add_object, "toggle_hidden": self._toggle_hidden,
            "delete_object": lambda: self._delete_object(s.active_id),
            "propagate_forward": lambda: s.propagate(Direction.FORWARD),
            "propagate_backward": lambda: s.propagate(Direction.BACKWARD),
            "propagate_both": lambda: s.propagate(Direction.BOTH),
            "propagate_next_prompt": lambda: s.propagate(Direction.FORWARD, until_prompt=True),
            "propagate_prev_prompt": lambda: s.propagate(Direction.BACKWARD, until_prompt=True),
            "propagate_to_frame": self._propagate_to_frame, "cancel": self.tracking.cancel,
            "engine": self._engine_dialog, "get_model": self.offer_model,
            "shortcuts": lambda: ShortcutsDialog(self).exec(),
            "review_accept": self.review.accept,
            "review_accept_object": lambda: self.review.accept(active_only=True),
            "review_clear": self.review.clear, "review_next": lambda: self.review.skip(1),
            "review_prev": lambda: self.review.skip(-1), "doubt_next": lambda: self.review.jump_doubtful(1),
            "doubt_prev": lambda: self.review.jump_doubtful(-1), "evaluate": self._evaluate_dialog,
            "clear_evaluation": self.quality.clear_scores,
            "about": self._about,
        }
        for k in range(1, 10):
            handlers[f"select_object_{k}"] = lambda k=k: s.select_object(self.objects_panel.object_at(k - 1))
        for name, handler in handlers.items():
            a[name].triggered.connect(lambda _=False, h=handler: h())
        a["outline"].toggled.connect(v.set_outline)
        a["review_mode"].toggled.connect(self._review_mode)
        a["review_panel"].toggled.connect(self.review_dock.setVisible)
        self.review_dock.visibilityChanged.connect(a["review_panel"].setChecked)
        r = self.review
        r.mode_changed.connect(a["review_mode"].setChecked)
        r.frame_requested.connect(v.user_seek)
        r.object_requested.connect(s.select_object)
        r.message.connect(lambda text: text and self.statusBar().showMessage(text, 10000))
        r.changes_found.connect(self._show_reviewed_changes)
        self.tracking.before_run = lambda requests: r.prepare_propagation(requests, self)
        self.tracking.store_filter = r.filter_frame
        self.tracking.follow_filter = r.follow_frame
        a["play"].toggled.connect(self.timeline.set_playing)
        self.timeline.playing_changed.connect(self._on_playing)
        self.opacity.valueChanged.connect(lambda value: v.set_opacity(value / 100.0))
        self.brush_size.valueChanged.connect(self.canvas.set_brush_radius)
        s.undo_stack.canUndoChanged.connect(a["undo"].setEnabled)
        s.undo_stack.canRedoChanged.connect(a["redo"].setEnabled)
        s.undo_stack.undoTextChanged.connect(lambda t: a["undo"].setText(f"&Undo {t}".strip()))
        s.undo_stack.redoTextChanged.connect(lambda t: a["redo"].setText(f"&Redo {t}".strip()))
        a["undo"].setEnabled(False)
        a["redo"].setEnabled(False)
        # canvas and panel requests
        self.canvas.point_clicked.connect(lambda x, y, pos: s.add_point(v.frame, x, y, pos))
        self.canvas.box_drawn.connect(lambda x0, y0, x1, y1: s.set_box(v.frame, (x0, y0, x1, y1)))
        self.canvas.stroke_finished.connect(lambda pts, r, erase: s.paint(v.frame, pts, r, erase=erase))
        self.canvas.play_toggle_requested.connect(a["play"].toggle)
        v.frame_shown.connect(lambda _frame: self.outline_editor.refresh())
        v.frame_shown.connect(self.status.set_cursor_frame)
        self.canvas.cursor_moved.connect(lambda x, y: self.status.set_cursor(x, y, v.frame))
        p = self.objects_panel
        p.add_requested.connect(s.add_object)
        p.selected.connect(s.select_object)
        p.delete_requested.connect(self._delete_object)
        p.rename_requested.connect(lambda i, name: s.update_object(i, name=name))
        p.category_requested.connect(lambda i, cat: s.update_object(i, category=cat))
        p.color_requested.connect(lambda i, color: s.update_object(i, color=color))
        p.hidden_requested.connect(lambda i, hidden: s.update_object(i, hidden=hidden))
        # session and tracking feedback
        s.error.connect(self.show_error)
        s.status.connect(lambda text: self.statusBar().showMessage(text, 10000))
        s.project_changed.connect(self._update_title)
        s.project_saved.connect(self._update_title)
        self.tracking.engine_ready.connect(self._on_engine_ready)
        self.tracking.engine_failed.connect(self._on_engine_failed)
        self.tracking.failed.connect(lambda msg: self.show_error("Tracking failed", msg))
        self.tracking.progress.connect(self.status.set_progress)
        self.tracking.cancelling.connect(self.status.set_cancelling)
        s.editing.waiting_changed.connect(self.busy.set_waiting)
        self.tracking.running_changed.connect(self._set_running)
        self.tracking.finished.connect(self._on_finished)

    # -- public API ---------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> bool:
        return self.files.open_path(path)

    def open_sample(self) -> bool:
        from app.resources import sample_video_path

        return self.open_path(sample_video_path())

    @Slot(str, str)
    def show_error(self, title: str, text: str) -> None:
        """A non-blocking warning dialog; the app stays usable behind it."""
        log.warning("%s: %s", title, text)
        self.errors.append((title, text))
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def load_engine(self, spec: EngineSpec) -> None:
        self.engine_spec = spec
        self._engine_requests.append(spec)
        self.status.set_engine_problem("loading…")
        self.session.load_engine(spec)

    def offer_model(self, *, first_run: bool = False) -> first_run_offer.ModelOfferDialog | None:
        """Tracking ▸ Get a model…; with ``first_run`` only when no model was ever there or offered."""
        if first_run and not first_run_offer.should_offer():
            return None
        dialog = first_run_offer.ModelOfferDialog(self)
        dialog.model_ready.connect(lambda path: self.load_engine(EngineSpec(None, path, None)))
        self.model_offer = dialog
        dialog.open()
        return dialog

    # -- handlers -----------------------------------------------------------------------------
    def _update_title(self) -> None:
        project = self.session.project
        for name in PROJECT_ACTIONS:
            self.actions[name].setEnabled(project is not None and not self.tracking.running)
        if project is None:
            self.setWindowTitle("Masklet")
            return
        saved = project.path.name if project.path else "not saved"
        read_only = " [read-only]" if project.read_only else ""
        self.setWindowTitle(f"{project.video_path.name} ({saved}){read_only} — Masklet")

    def _set_running(self, running: bool) -> None:
        has_project = self.session.project is not None
        for name in EDIT_ACTIONS:
            self.actions[name].setEnabled(not running and (name not in ("undo", "redo") or
                                                           self._can_undo_redo(name))
                                          and (name not in PROJECT_ACTIONS or has_project))
        self.actions["cancel"].setEnabled(running)
        self.status.set_running(running)

    def _can_undo_redo(self, name: str) -> bool:
        stack = self.session.undo_stack
        return stack.canUndo() if name == "undo" else stack.canRedo()

    def _on_finished(self, done: int, cancelled: bool) -> None:
        text = (f"Cancelled after {done} frames; those frames are kept" if cancelled
                else f"Propagated {done} frames")
        self.statusBar().showMessage(text, 10000)
        if self._close_when_idle:
            self.close()

    def _on_playing(self, playing: bool) -> None:
        action = self.actions["play"]
        action.blockSignals(True)
        action.setChecked(playing)
        action.blockSignals(False)
        action.setIcon(qta.icon("mdi6.pause" if playing else "mdi6.play"))

    def _on_engine_ready(self, name: str, device: str) -> None:
        spec = self._engine_requests.pop(0) if self._engine_requests else self.engine_spec
        self.engine_in_use = spec
        self.status.set_engine(name, device, note=spec.checkpoint or "")
        settings = QSettings()
        settings.setValue("engine/checkpoint", spec.checkpoint or "")
        settings.setValue("engine/device", spec.device or "")
        if spec.checkpoint and name != "classical":
            dialogs.remember_checkpoint(name, spec.checkpoint)
        self.statusBar().showMessage(f"Engine ready: {name} on {device}", 5000)

    def _on_engine_failed(self, message: str) -> None:
        failed = self._engine_requests.pop(0) if self._engine_requests else self.engine_spec
        self.show_error("Cannot load the engine", message)
        if self.engine_in_use is not None and not self._engine_requests:
            self.engine_spec = self.engine_in_use  # the previous engine stays in use
        if not self.tracking.engine_name and (failed.checkpoint or failed.name not in (None, "classical")
                                              or failed.remote is not None):
            self.load_engine(EngineSpec(None, None, "cpu"))  # nothing loaded yet: fall back to classical
        elif self.tracking.engine_name:
            self.status.set_engine(self.tracking.engine_name, self.tracking.device)
        else:
            self.status.set_engine_problem("none (see the error)")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.Paint and watched is self.canvas.viewport():
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self._load_first_engine)  # once this paint is done
        return super().eventFilter(watched, event)

    def _load_first_engine(self) -> None:
        if not self.tracking.engine_name and not self.tracking.engine_loading:  # none asked for meanwhile
            self.load_engine(self.engine_spec)

    def _remembered_engine(self) -> EngineSpec:
        settings = QSettings()
        checkpoint = str(settings.value("engine/checkpoint", "") or "") or None
        device = str(settings.value("engine/device", "") or "") or "cpu"
        if checkpoint and not Path(checkpoint).is_file():
            checkpoint = None
        # without a checkpoint it is the classical engine, which runs on the CPU only
        return EngineSpec(None, checkpoint, device if checkpoint else "cpu")

    def _engine_dialog(self) -> None:
        dialog = dialogs.EngineDialog(self.engine_in_use or self.engine_spec, self,
                                      in_use=(self.tracking.engine_name, self.tracking.device))
        if dialog.exec():
            self.load_engine(dialog.spec())

    def _propagate_to_frame(self) -> None:
        project = self.session.project
        if project is None:
            return
        target = dialogs.ask_frame(self, self.viewer.frame, project.num_frames - 1)
        if target is not None:
            self.session.propagate(Direction.FORWARD, target=target)

    def _toggle_hidden(self) -> None:
        info = self.session.object_info(self.session.active_id)
        if info is not None:
            self.session.update_object(info.id, hidden=not info.hidden)

    def _delete_object(self, obj_id: int) -> None:
        info = self.session.object_info(obj_id)
        if info is None:
            return
        frames = len(self.session.mask_frames.get(obj_id, ()))
        if dialogs.confirm(self, "Delete object",
                           f"Delete “{info.name}” and its masks on {frames} frames?\n"
                           "(Edit ▸ Undo brings it back.)"):
            self.session.delete_object(obj_id)

    def _review_mode(self, on: bool) -> None:
        if on:
            self.review_dock.show()
        self.review.set_mode(on)

    def _evaluate_dialog(self) -> None:
        project = self.session.project
        if project is None:
            return
        if self.evaluation is None or self.evaluation.project is not project:
            self.evaluation = EvaluationDialog(project, self)
            self.evaluation.show_scores.connect(self.quality.set_scores)
            self.evaluation.clear_scores.connect(self.quality.clear_scores)
        self.evaluation.show()
        self.evaluation.raise_()

    def _show_reviewed_changes(self, changes: list) -> None:
        dialog = ReviewedChangesDialog(changes, {o.id: o.name for o in self.session.objects}, self)
        dialog.frame_requested.connect(self.viewer.user_seek)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.reviewed_changes = dialog
        dialog.open()

    def _about(self) -> None:
        QMessageBox.about(self, "About Masklet", dialogs.about_text())

    # -- drag and drop, closing ---------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and is_openable(Path(urls[0].toLocalFile())):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            self.open_path(urls[0].toLocalFile())

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.tracking.running:
            # Stop between frames, let the last frame be stored, then close (nothing computed is lost).
            self._close_when_idle = True
            self.tracking.cancel()
            self.statusBar().showMessage("Stopping propagation before closing…")
            event.ignore()
            return
        if not self.files.confirm_discard():
            event.ignore()
            return
        QSettings().setValue("window/geometry", self.saveGeometry())
        self.timeline.set_playing(False)
        self.tracking.shutdown()
        # Tasks with their own threads read or write the project: they end before it closes.
        self.files.stop_task()
        if self.evaluation is not None:
            self.evaluation.stop()
        self.session.close_project()
        super().closeEvent(event)

