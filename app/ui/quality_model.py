"""QualityModel: per-frame confidence, provenance and review state of every object, kept as arrays.

It listens to the open Project (events arrive queued on the UI thread, also when the worker writes),
re-reads only the frames that changed, at most every ``FLUSH_MS``, and feeds the timeline's lanes. It
answers the questions navigation and the review panel ask: the next doubtful frame, the doubtful
frames sorted, "N of M frames reviewed". The evaluation's per-frame J lives here too while shown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QSettings, QTimer, Signal, Slot

from app.domain import quality
from app.domain.project import Project
from app.ui.strip_render import KIND_CODES, RowLayers

log = logging.getLogger(__name__)

FLUSH_MS = 150
THRESHOLD_KEY = "review/doubt_threshold"
KIND_NAMES = {code: name for name, code in KIND_CODES.items()}


class _Bridge(QObject):
    """Project listener -> queued Qt signal (the worker thread writes propagated frames)."""

    changed = Signal(str, object, object)

    def __call__(self, kind: str, frame: int | None, obj_id: int | None) -> None:
        self.changed.emit(kind, frame, obj_id)


@dataclass(frozen=True)
class Doubt:
    frame: int
    obj_id: int
    confidence: float
    kind: str
    reviewed: bool


@dataclass(frozen=True)
class ReviewCount:
    obj_id: int
    reviewed: int   # masks with a current review
    masked: int     # frames with a stored mask (present or absent)
    stale: int      # reviewed masks that changed since
    doubtful: int


class QualityModel(QObject):
    changed = Signal()  # layers, counts or doubtful frames changed
    mask_written = Signal(int, object)  # frame, obj_id (None: several): a mask was stored
    count_known = Signal(object)  # a video's exact frame count is known (emitted from its index thread)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self._bridge = _Bridge()
        self._bridge.changed.connect(self._on_event)
        self.count_known.connect(self._on_count_known)
        self._n = 0
        self._stored: dict[int, np.ndarray] = {}
        self._layers: dict[int, RowLayers] = {}
        self._dirty: set[int] = set()
        self._full = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        try:
            self.threshold = float(QSettings().value(THRESHOLD_KEY, quality.DEFAULT_DOUBT_THRESHOLD))
        except (TypeError, ValueError):
            self.threshold = quality.DEFAULT_DOUBT_THRESHOLD
        self.scores_label = ""

    # -- lifecycle ------------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        if self.project is not None:
            self.project.unsubscribe(self._bridge)
        self.project = project
        self._stored, self._layers = {}, {}
        self.scores_label = ""
        if project is not None:
            project.subscribe(self._bridge)
            # A long video's exact count comes from its frame index a moment after it opened: size the
            # arrays by the container's estimate now (the first frame is shown meanwhile), resize then.
            self._n, exact = project.video.frame_count_hint()
            self._reload_all()
            if not exact:
                project.video.on_index_ready(self.count_known.emit)
        self.changed.emit()

    @Slot(object)
    def _on_count_known(self, video: object) -> None:
        if self.project is None or self.project.video is not video:
            return  # another project was opened meanwhile
        self._n = self.project.num_frames
        self._stored, self._layers = {}, {}  # sized by the estimate: rebuilt at the exact count
        self._reload_all()
        self.changed.emit()

    def set_threshold(self, threshold: float) -> None:
        threshold = float(min(1.0, max(0.0, threshold)))
        if threshold != self.threshold:
            self.threshold = threshold
            QSettings().setValue(THRESHOLD_KEY, threshold)
            self.changed.emit()

    # -- reading --------------------------------------------------------------------------------
    def _arrays(self, obj_id: int) -> tuple[np.ndarray, RowLayers]:
        layers = self._layers.get(obj_id)
        if layers is None:
            layers = self._layers[obj_id] = RowLayers.empty(self._n)
            self._stored[obj_id] = np.zeros(self._n, bool)
        return self._stored[obj_id], layers

    def _reload_all(self) -> None:
        p = self.project
        assert p is not None
        scores = {o: layer.scores for o, layer in self._layers.items() if layer.scores is not None}
        self._stored, self._layers = {}, {}
        for obj in p.objects():
            self._arrays(obj.id)
        self._apply(None)
        for obj_id, values in scores.items():
            if obj_id in self._layers:
                self._layers[obj_id].scores = values

    def _apply(self, frames: list[int] | None) -> None:
        """Re-read ``frames`` (None: all) from the store into the arrays."""
        p = self.project
        assert p is not None
        with p.sql() as conn:
            stored = quality.stored_keys(conn, frames)
            infos = quality.layer_rows(conn, frames)
            reviews = quality.review_states(conn, frames)
        if frames is not None:
            idx = np.asarray(frames, np.int64)
            for obj_id in self._layers:
                mask_rows, layers = self._arrays(obj_id)
                mask_rows[idx] = False
                layers.confidence[idx] = np.nan
                layers.kinds[idx] = 0
                layers.reviewed[idx] = 0
        for frame, obj_id, _area in stored:
            if obj_id in self._layers:
                self._stored[obj_id][frame] = True
        for frame, obj_id, kind, confidence in infos:
            layers = self._layers.get(obj_id)
            if layers is not None:
                layers.kinds[frame] = KIND_CODES.get(kind, 0)
                layers.confidence[frame] = np.nan if confidence is None else confidence
        for frame, obj_id, valid in reviews:
            layers = self._layers.get(obj_id)
            if layers is not None:
                layers.reviewed[frame] = 1 if valid else 2

    @Slot(str, object, object)
    def _on_event(self, kind: str, frame: int | None, obj_id: int | None) -> None:
        if self.project is None or kind in ("engine", "prompt"):
            return
        if kind == "mask" and frame is not None:
            self.mask_written.emit(int(frame), obj_id)
        if kind in ("mask", "review") and frame is not None and not self._full:
            self._dirty.add(int(frame))
        elif kind == "object" and obj_id is not None and self.project.has_object(obj_id) == \
                (obj_id in self._layers):
            return  # renamed, recoloured, hidden: nothing this model shows changed
        else:  # objects added/removed, imports, restores: everything may have changed
            self._full = True
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def flush(self) -> None:
        """Apply what changed since the last flush (tests call it instead of waiting)."""
        if self.project is None:
            return
        if self._full:
            self._reload_all()
        elif self._dirty:
            self._apply(sorted(self._dirty))
        else:
            return
        self._full, self._dirty = False, set()
        self.changed.emit()

    # -- answers --------------------------------------------------------------------------------
    def layers(self) -> dict[int, RowLayers]:
        return self._layers

    def stored(self, obj_id: int) -> np.ndarray:
        return self._stored.get(obj_id, np.zeros(self._n, bool))

    def confidence(self, frame: int, obj_id: int) -> float | None:
        layers = self._layers.get(obj_id)
        if layers is None or not 0 <= frame < self._n or np.isnan(layers.confidence[frame]):
            return None
        return float(layers.confidence[frame])

    def _doubt_mask(self, obj_ids: list[int] | None) -> np.ndarray:
        """(num_frames,) True where any of ``obj_ids`` (None: all) is doubtful."""
        out = np.zeros(self._n, bool)
        for obj_id, layers in self._layers.items():
            if obj_ids is None or obj_id in obj_ids:
                with np.errstate(invalid="ignore"):
                    out |= layers.confidence < self.threshold  # NaN compares False: unscored is no doubt
        return out

    def next_doubtful(self, frame: int, step: int, obj_ids: list[int] | None = None) -> int | None:
        """The nearest doubtful frame after (step > 0) or before (step < 0) ``frame``, or None."""
        doubt = np.flatnonzero(self._doubt_mask(obj_ids))
        if step > 0:
            later = doubt[doubt > frame]
            return int(later[0]) if len(later) else None
        earlier = doubt[doubt < frame]
        return int(earlier[-1]) if len(earlier) else None

    def next_unreviewed(self, frame: int, step: int, obj_ids: list[int] | None = None, *,
                        doubtful_only: bool = False) -> int | None:
        """The nearest frame holding a stored mask without a current review (only doubtful ones if asked)."""
        todo = np.zeros(self._n, bool)
        for obj_id, layers in self._layers.items():
            if obj_ids is None or obj_id in obj_ids:
                todo |= self._stored[obj_id] & (layers.reviewed != 1)
        if doubtful_only:
            todo &= self._doubt_mask(obj_ids)
        frames = np.flatnonzero(todo)
        if step > 0:
            later = frames[frames > frame]
            return int(later[0]) if len(later) else None
        earlier = frames[frames < frame]
        return int(earlier[-1]) if len(earlier) else None

    def doubtful(self, obj_ids: list[int] | None = None, limit: int | None = None) -> tuple[list[Doubt], int]:
        """The doubtful (frame, object) pairs, least confident first (at most ``limit``), and their number."""
        frames, objects, values = [], [], []
        for obj_id, layers in self._layers.items():
            if obj_ids is not None and obj_id not in obj_ids:
                continue
            with np.errstate(invalid="ignore"):
                found = np.flatnonzero(layers.confidence < self.threshold)
            frames.append(found)
            objects.append(np.full(len(found), obj_id, np.int64))
            values.append(layers.confidence[found])
        if not frames:
            return [], 0
        frame_arr, obj_arr, conf_arr = np.concatenate(frames), np.concatenate(objects), np.concatenate(values)
        order = np.lexsort((obj_arr, frame_arr, conf_arr))[:limit]
        out = []
        for k in order.tolist():
            f, o = int(frame_arr[k]), int(obj_arr[k])
            layers = self._layers[o]
            out.append(Doubt(f, o, float(conf_arr[k]), KIND_NAMES.get(int(layers.kinds[f]), "unknown"),
                             bool(layers.reviewed[f] == 1)))
        return out, len(frame_arr)

    def counts(self) -> dict[int, ReviewCount]:
        out = {}
        for obj_id, layers in self._layers.items():
            with np.errstate(invalid="ignore"):
                doubtful = int(np.count_nonzero(layers.confidence < self.threshold))
            stored = self._stored[obj_id]
            reviewed = int(np.count_nonzero(stored & (layers.reviewed == 1)))
            stale = int(np.count_nonzero(layers.reviewed == 2))
            out[obj_id] = ReviewCount(obj_id, reviewed, int(np.count_nonzero(stored)), stale, doubtful)
        return out

    def frame_counts(self) -> tuple[int, int]:
        """(frames whose every stored mask has a current review, frames holding any stored mask)."""
        if not self._layers:
            return 0, 0
        any_mask = np.zeros(self._n, bool)
        open_mask = np.zeros(self._n, bool)
        for obj_id, layers in self._layers.items():
            stored = self._stored[obj_id]
            any_mask |= stored
            open_mask |= stored & (layers.reviewed != 1)
        return int(np.count_nonzero(any_mask & ~open_mask)), int(np.count_nonzero(any_mask))

    def reviewed_in(self, frames: set[int] | range) -> int:
        """How many masks with a current review lie on ``frames`` (all objects)."""
        idx = np.fromiter((f for f in frames if 0 <= f < self._n), np.int64)
        return sum(int(np.count_nonzero(layers.reviewed[idx] == 1)) for layers in self._layers.values())

    def reviewed_on(self, frame: int) -> dict[int, int]:
        """obj_id -> 1 reviewed / 2 changed since review / 0 not, for objects with a mask on ``frame``."""
        return {o: int(layers.reviewed[frame]) for o, layers in self._layers.items()
                if self._stored[o][frame]}

    # -- evaluation overlay -------------------------------------------------------------------
    def set_scores(self, per_object: dict[int, tuple[list[int], list[float]]], label: str) -> None:
        """Show per-frame J ({obj_id: (frames, values)}) in the lanes' heat band."""
        for obj_id, layers in self._layers.items():
            values = np.full(self._n, np.nan, np.float32)
            frames, js = per_object.get(obj_id, ([], []))
            if frames:
                values[np.asarray(frames, np.int64)] = np.asarray(js, np.float32)
            layers.scores = values
        self.scores_label = label
        self.changed.emit()

    def clear_scores(self) -> None:
        for layers in self._layers.values():
            layers.scores = None
        self.scores_label = ""
        self.changed.emit()

    @property
    def showing_scores(self) -> bool:
        return bool(self.scores_label)
