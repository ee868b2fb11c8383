"""Reading and writing provenance, confidence and reviews of a Project's masks. Qt-free.

The records are :mod:`app.domain.quality`'s; this module ties them to a :class:`Project`: the reviews of
the masks stored now, per-object tallies ("N of M frames reviewed"), doubtful frames, and the guard a
re-propagation runs so it never silently replaces a mask a person accepted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from app.domain import quality
from app.domain.project import Project
from app.domain.quality import MaskInfo, Review

REVIEW_EVENT = "review"


def mask_infos(project: Project, *, frame: int | None = None, obj_id: int | None = None) -> list[MaskInfo]:
    with project.sql() as conn:
        return quality.read_infos(conn, frame=frame, obj_id=obj_id)


def mask_info(project: Project, frame: int, obj_id: int) -> MaskInfo | None:
    found = mask_infos(project, frame=frame, obj_id=obj_id)
    return found[0] if found else None


def set_infos(project: Project, infos: Iterable[MaskInfo]) -> None:
    """Store records for masks that are stored already (e.g. the engine's scores of a frame)."""
    infos = list(infos)
    with project.batch(), project.sql() as conn:
        quality.write_infos(conn, infos)
        for info in infos:
            project.notify("mask", info.frame, info.obj_id)


def current_reviews(project: Project, *, obj_id: int | None = None) -> dict[tuple[int, int], Review]:
    """Reviews that still hold: the stored mask of (frame, object) is the one that was reviewed."""
    with project.sql() as conn:
        return {(r.frame, r.obj_id): r for r, valid in quality.current_reviews(conn, obj_id=obj_id) if valid}


def stale_reviews(project: Project, *, obj_id: int | None = None) -> dict[tuple[int, int], Review]:
    """Reviews whose mask has changed (or gone) since."""
    with project.sql() as conn:
        return {(r.frame, r.obj_id): r for r, valid in quality.current_reviews(conn, obj_id=obj_id)
                if not valid}


def review(project: Project, frame: int, obj_ids: Iterable[int], verdict: str = "accepted") -> list[Review]:
    """Record that a person checked the stored masks of ``obj_ids`` on ``frame``; objects without a
    stored mask there are skipped (there is nothing to vouch for). Returns the reviews written."""
    wanted = set(obj_ids)
    records = [r for r in project.mask_records(frame) if r.obj_id in wanted]
    reviews = [Review(frame, r.obj_id, verdict, quality.mask_checksum(r.counts)) for r in records]
    if reviews:
        with project.batch(), project.sql() as conn:
            quality.write_reviews(conn, reviews)
            for r in reviews:
                project.notify(REVIEW_EVENT, frame, r.obj_id)
    return reviews


def unreview(project: Project, frame: int, obj_ids: Iterable[int]) -> None:
    keys = [(frame, o) for o in obj_ids]
    with project.batch(), project.sql() as conn:
        quality.delete_reviews(conn, keys)
        for _, obj_id in keys:
            project.notify(REVIEW_EVENT, frame, obj_id)


def restore_reviews(project: Project, frame: int, obj_ids: Iterable[int], reviews: Iterable[Review]) -> None:
    """Put the reviews of ``obj_ids`` on ``frame`` back to exactly ``reviews`` (undo of a review)."""
    obj_ids = list(obj_ids)
    with project.batch(), project.sql() as conn:
        quality.delete_reviews(conn, [(frame, o) for o in obj_ids])
        quality.write_reviews(conn, [r for r in reviews if r.frame == frame and r.obj_id in obj_ids])
        for obj_id in obj_ids:
            project.notify(REVIEW_EVENT, frame, obj_id)


@dataclass
class ObjectTally:
    """One object's review and QA numbers; ``masked`` = frames with a stored mask (present or absent)."""

    obj_id: int
    name: str
    masked: int = 0
    present: int = 0
    reviewed: int = 0
    stale: int = 0
    doubtful: list[int] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    scored: int = 0
    min_confidence: float | None = None

    def as_json(self) -> dict:
        return {"id": self.obj_id, "name": self.name, "frames_with_mask": self.masked,
                "frames_present": self.present, "reviewed": self.reviewed, "changed_since_review": self.stale,
                "doubtful": len(self.doubtful), "doubtful_frames": self.doubtful, "scored": self.scored,
                "min_confidence": self.min_confidence,
                "provenance": {k: self.kinds.get(k, 0) for k in (*quality.KINDS, "unknown")}}


def doubtful(infos: Iterable[MaskInfo], threshold: float) -> list[MaskInfo]:
    """Scored masks whose confidence is below ``threshold``, least confident first."""
    found = [i for i in infos if i.score is not None and i.score.confidence < threshold]
    return sorted(found, key=lambda i: (i.score.confidence, i.frame, i.obj_id))


def tallies(project: Project, threshold: float = quality.DEFAULT_DOUBT_THRESHOLD) -> list[ObjectTally]:
    """Per object: coverage, provenance kinds, doubtful frames (below ``threshold``), reviews."""
    out = []
    reviews = current_reviews(project)
    stale = stale_reviews(project)
    for obj in project.objects():
        tally = ObjectTally(obj.id, obj.name)
        with project.sql() as conn:
            rows = conn.execute("SELECT frame, area FROM masks WHERE obj_id = ?", (obj.id,)).fetchall()
        tally.masked = len(rows)
        tally.present = sum(1 for _, area in rows if area > 0)
        infos = {i.frame: i for i in mask_infos(project, obj_id=obj.id)}
        for frame, _ in rows:
            info = infos.get(frame)
            tally.kinds[info.origin.kind if info else "unknown"] += 1
        scored = [i.score.confidence for i in infos.values() if i.score is not None]
        tally.scored = len(scored)
        tally.min_confidence = round(min(scored), 4) if scored else None
        tally.doubtful = sorted(i.frame for i in doubtful(infos.values(), threshold))
        tally.reviewed = sum(1 for f, o in reviews if o == obj.id)
        tally.stale = sum(1 for f, o in stale if o == obj.id)
        out.append(tally)
    return out


def reviewed_keys(project: Project) -> set[tuple[int, int]]:
    return set(current_reviews(project))


@dataclass(frozen=True)
class ReviewedChange:
    """A propagation's new mask for a frame a person had reviewed, and how far it is from the reviewed one."""

    frame: int
    obj_id: int
    iou: float            # IoU of the new mask with the reviewed one
    changed_pixels: int
    kept: bool            # True: the reviewed mask stayed; False: replaced (the review lapses)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


class ReviewGuard:
    """What a re-propagation does with frames a person reviewed: ``keep`` leaves them as reviewed,
    ``replace`` stores the engine's new mask (the review then lapses). Either way it lists what changed.

    :meth:`filter` runs in the thread that stores each propagated frame, before the store.
    """

    POLICIES = ("keep", "replace")

    def __init__(self, project: Project, policy: str = "keep") -> None:
        if policy not in self.POLICIES:
            raise ValueError(f"policy must be one of {self.POLICIES}, got {policy!r}")
        self.project = project
        self.policy = policy
        self.reviewed = reviewed_keys(project)
        self.changes: list[ReviewedChange] = []

    def to_follow(self, frame: int, masks: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Under ``keep``: the reviewed masks on ``frame`` that the engine's ``masks`` depart from, for the
        engine to condition on from there (:meth:`TrackingSession.propagate`'s ``follow``), so the frames
        after a reviewed one follow it and not the engine's own answer. Empty reviewed masks (accepted
        as absent) are not fed: an absent object cannot be tracked on from."""
        if self.policy != "keep":
            return {}
        out = {}
        for obj_id, new in masks.items():
            if (frame, obj_id) in self.reviewed:
                old = self.project.mask(frame, obj_id)
                if old is not None and old.any() and not np.array_equal(old, np.asarray(new, bool)):
                    out[obj_id] = old
        return out

    def filter(self, frame: int, masks: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """The masks to store for ``frame``: reviewed ones that changed are left out under ``keep``.

        Under ``keep`` the entries of ``masks`` itself are replaced by the reviewed masks, so whoever
        shows the frame next (the UI, from the same dict) shows what is stored.
        """
        out = dict(masks)
        for obj_id, new in masks.items():
            if (frame, obj_id) not in self.reviewed:
                continue
            old = self.project.mask(frame, obj_id)
            if old is None:
                continue
            new = np.asarray(new, bool)
            if np.array_equal(old, new):
                continue
            keep = self.policy == "keep"
            changed = int(np.count_nonzero(old ^ new))
            self.changes.append(ReviewedChange(frame, obj_id, _iou(old, new), changed, keep))
            if keep:
                del out[obj_id]
                masks[obj_id] = old
        return out
