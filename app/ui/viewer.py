"""Keeps the canvas, the timeline and the objects panel showing the session's current state.

Moving in time, repainting when the Project changes, markers of the prompts, the per-object strips
and following a running propagation all live here, so the main window only wires things together.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.ui.canvas import Canvas, Marker
from app.ui.objects_panel import ObjectsPanel
from app.ui.render import FrameRenderer
from app.ui.session import SessionController
from app.ui.timeline import StripRow, Timeline
from sam3core.video import VideoError

log = logging.getLogger(__name__)

MIN_REPAINT_S = 0.04


class FrameViewController(QObject):
    # The video's exact frame count, emitted from its indexing thread once the index is built; the
    # queued connection brings it to the GUI thread. Until then the timeline uses the container's estimate.
    count_known = Signal(object, int)
    # The canvas now shows session.current_frame as it is stored (after a seek or an edit): overlays that
    # read the stored masks themselves (the outline tool) follow it.
    frame_shown = Signal(int)

    def __init__(self, session: SessionController, canvas: Canvas, timeline: Timeline,
                 objects_panel: ObjectsPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.canvas = canvas
        self.timeline = timeline
        self.panel = objects_panel
        self.renderer = FrameRenderer()
        self.follow = True  # jump along with a running propagation until the user moves
        self.render_count = 0
        # Changes arrive in bursts (a propagated frame touches masks and strips): coalesce repaints.
        self._strip_timer = QTimer(self)
        self._strip_timer.setSingleShot(True)
        self._strip_timer.setInterval(60)
        self._strip_timer.timeout.connect(self.refresh_strips)
        self._frame_dirty = False
        session.project_changed.connect(self._on_project_changed)
        session.frame_changed.connect(self._on_frame_changed)
        session.strips_changed.connect(self._strip_timer.start)
        session.objects_changed.connect(self.refresh_objects)
        session.active_object_changed.connect(self._on_active_changed)
        session.tracking.running_changed.connect(self._on_running)
        session.frame_masks_ready.connect(self._on_mask_ready)
        self._last_render = 0.0
        timeline.frame_requested.connect(self.user_seek)
        canvas.zoom_changed.connect(self._on_zoom)
        self._rendered_scale = 1.0
        self.count_known.connect(self._on_count_known)

    # -- navigation ---------------------------------------------------------------------------
    @property
    def frame(self) -> int:
        return self.session.current_frame

    def user_seek(self, frame: int) -> None:
        """A move the user asked for; it stops following a running propagation."""
        if self.session.tracking.running:
            self.follow = False
        self.show_frame(frame)

    def step(self, delta: int) -> None:
        self.user_seek(self.frame + delta)

    def show_frame(self, frame: int) -> None:
        project = self.session.project
        if project is None:
            return
        count, _exact = project.video.frame_count_hint()  # never waits for the frame index
        frame = max(0, min(count - 1, int(frame)))
        self.session.current_frame = frame
        self.timeline.set_frame(frame)
        self.refresh_frame()

    # -- repaint ------------------------------------------------------------------------------
    def refresh_frame(self) -> None:
        project = self.session.project
        if project is None:
            return
        scale = self.canvas.display_scale()
        try:
            image = self.renderer.render(project, self.frame, self.session.objects, scale)
        except Exception as exc:  # an undecodable frame must not break navigation
            if not isinstance(exc, VideoError):
                log.exception("cannot show frame %d", self.frame)
            self.session.status.emit(f"Frame {self.frame} cannot be shown: {exc}")
            # Never leave the previous frame's picture under this frame's number: a flat placeholder.
            placeholder = np.full((2, 2, 3), 48, np.uint8)
            self.canvas.set_image(placeholder, (project.video.width, project.video.height))
            self.canvas.set_markers([])
            self.frame_shown.emit(self.frame)
            return
        self.render_count += 1
        self._rendered_scale = scale
        self.canvas.set_image(image, (project.video.width, project.video.height))
        self.canvas.brush_color = self._active_color()
        self.refresh_markers()
        self.frame_shown.emit(self.frame)

    def refresh_markers(self) -> None:
        markers = []
        for prompt in self.session.prompt_keys_on(self.frame):
            info = self.session.object_info(prompt.obj_id)
            if info is None or info.hidden:
                continue
            points = tuple((x, y, label > 0) for (x, y), label in zip(prompt.points, prompt.labels))
            markers.append(Marker(points, prompt.box, info.color, info.id == self.session.active_id))
        self.canvas.set_markers(markers)

    def refresh_strips(self) -> None:
        rows = [StripRow(o.color, frozenset(self.session.mask_frames.get(o.id, ())),
                         tuple(self.session.prompt_frames(o.id)), o.hidden, o.id == self.session.active_id,
                         o.id)
                for o in self.session.objects]
        self.timeline.set_rows(rows)
        counts = {o.id: len(self.session.mask_frames.get(o.id, ())) for o in self.session.objects}
        self.panel.set_objects(self.session.objects, self.session.active_id, counts)

    def refresh_objects(self) -> None:
        self.refresh_strips()
        self.refresh_frame()

    def _on_zoom(self, _zoom: float) -> None:
        # Re-compose when the view now shows noticeably more (or far fewer) pixels than were composed.
        scale = self.canvas.display_scale()
        if scale > self._rendered_scale * 1.1 or scale < self._rendered_scale * 0.6:
            self._schedule_frame_refresh()

    def set_opacity(self, opacity: float) -> None:
        self.renderer.options.opacity = opacity
        self.refresh_frame()

    def set_outline(self, outline: bool) -> None:
        self.renderer.options.outline = outline
        self.refresh_frame()

    def _active_color(self) -> str:
        info = self.session.object_info(self.session.active_id)
        return info.color if info else "#ffffff"

    # -- session events -----------------------------------------------------------------------
    @Slot()
    def _on_project_changed(self) -> None:
        self.renderer.invalidate()
        project = self.session.project
        if project is None:
            self.timeline.set_video(1, 30.0)
            self.timeline.set_rows([])
            self.panel.set_objects([], 0, {})
            self.canvas.clear()
            return
        # The first frame is shown before the frame index of a long video is complete.
        count, _exact = project.video.frame_count_hint()
        self.timeline.set_video(count, project.video.fps)
        project.video.on_index_ready(lambda video: self.count_known.emit(video, video.frame_count_hint()[0]))
        self.refresh_strips()
        self.show_frame(self.session.current_frame)
        self.canvas.fit()

    @Slot(object, int)
    def _on_count_known(self, video: object, count: int) -> None:
        project = self.session.project
        if project is None or project.video is not video:
            return  # another video was opened meanwhile
        self.timeline.set_video(count, project.video.fps)
        self.timeline.set_frame(min(self.frame, count - 1))
        self.refresh_strips()

    @Slot(int)
    def _on_frame_changed(self, frame: int) -> None:
        self.renderer.invalidate(frame)
        if frame < 0 or frame == self.frame:
            self._schedule_frame_refresh()

    def _schedule_frame_refresh(self) -> None:
        if not self._frame_dirty:
            self._frame_dirty = True
            # At most ~25 repaints/s while frames stream in: the event loop keeps time for the user.
            wait_ms = max(0, int(MIN_REPAINT_S * 1000 - (time.perf_counter() - self._last_render) * 1000))
            QTimer.singleShot(wait_ms, self._flush_frame)

    def _flush_frame(self) -> None:
        self._frame_dirty = False
        self._last_render = time.perf_counter()
        self.refresh_frame()

    @Slot(int)
    def _on_active_changed(self, obj_id: int) -> None:
        self.panel.set_active(obj_id)
        self.canvas.brush_color = self._active_color()
        self.refresh_markers()
        self._strip_timer.start()

    @Slot(bool)
    def _on_running(self, running: bool) -> None:
        self.canvas.interactive = not running
        if running:
            self.follow = True

    @Slot(int, object)
    def _on_mask_ready(self, frame: int, masks: dict) -> None:
        self.renderer.put(frame, masks)
        if self.follow and frame != self.frame:
            self.session.current_frame = frame
            self.timeline.set_frame(frame)
            self._schedule_frame_refresh()
        elif frame == self.frame:
            self._schedule_frame_refresh()
