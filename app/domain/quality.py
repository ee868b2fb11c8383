"""Where each stored mask came from and how sure the engine was: provenance, confidence, reviews. Qt-free.

Three kinds of record live beside the masks (tables ``mask_info`` and ``reviews``, schema 2, see
docs/formats.md):

- :class:`Origin` — who made the mask of (frame, object): ``prompted`` (the engine's answer to
  clicks / a box), ``painted`` (brush, eraser), ``imported`` (another tool's file) or ``tracked``
  (propagated by an engine from a prompted frame); by which engine and model, when.
- :class:`FrameScore` — the engine's own confidence in that mask: the object-score logit (> 0 means
  "present"), the predicted IoU of the mask (SAM decoders), SAM 3's memory-selection score, and an
  engine-specific confidence in 0..1 where an engine has one. :attr:`FrameScore.confidence` folds them
  into one number in 0..1 that the timeline shows and "doubtful" thresholds.
- :class:`Review` — a person's verdict on the mask (accepted as it was, or fixed), tied to the exact
  mask reviewed by a checksum of its RLE: when the mask changes later the review no longer counts.

Writing a mask through the Project forgets its old :class:`MaskInfo` (an edit the caller does not
describe never keeps a stale provenance); whoever knows the origin stores it in the same transaction.
This module holds the records and their SQL; it takes a connection, never a Project (no cycle).
"""

from __future__ import annotations

import math
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

KINDS = ("prompted", "painted", "imported", "tracked")
HUMAN_KINDS = ("prompted", "painted", "imported")
VERDICTS = ("accepted", "fixed")
# Frames whose confidence is below this are "doubtful" unless the user picks another threshold.
DEFAULT_DOUBT_THRESHOLD = 0.6

INFO_COLUMNS = ("frame", "obj_id", "kind", "engine", "model", "source_frame", "at", "detail",
                "object_score", "iou", "memory_score", "engine_confidence", "confidence")


def utc_now() -> str:
    """ISO 8601 UTC timestamp with seconds, e.g. ``2026-12-01T22:14:16Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class FrameScore:
    """An engine's confidence in one object's mask on one frame.

    ``object_score``: logit, > 0 = object present (SAM's object-score head; the classical engine maps
    its own confidence to a logit). ``iou``: the decoder's predicted IoU of the chosen mask, 0..1.
    ``memory_score``: SAM 3's memory-selection score (present-ness x IoU). ``engine_confidence``: an
    engine-specific 0..1 confidence where the engine offers one (None elsewhere).
    """

    object_score: float
    iou: float | None = None
    memory_score: float | None = None
    engine_confidence: float | None = None

    def __post_init__(self) -> None:
        # NaN or inf from an engine must never reach the store (SQLite would keep NaN as NULL anyway).
        score = _finite(self.object_score)
        object.__setattr__(self, "object_score", 0.0 if score is None else max(-50.0, min(50.0, score)))
        for name in ("iou", "memory_score", "engine_confidence"):
            value = _finite(getattr(self, name))
            object.__setattr__(self, name, None if value is None else max(0.0, min(1.0, value)))

    @property
    def present(self) -> bool:
        return self.object_score > 0

    @property
    def confidence(self) -> float:
        """0..1: how sure the engine is of this frame's answer.

        Present: (2 sigmoid(score) - 1) x predicted IoU — SAM 3's memory-selection score, so "weakly
        present" and "present but badly outlined" both score low. Absent: 2 sigmoid(-score) - 1 (how
        sure it is that the object is gone; a mask's IoU means nothing there). An engine-specific
        confidence multiplies in where there is one.
        """
        certainty = 2.0 / (1.0 + math.exp(-abs(self.object_score))) - 1.0
        value = certainty * (self.iou if self.present and self.iou is not None else 1.0)
        if self.engine_confidence is not None:
            value *= self.engine_confidence
        return max(0.0, min(1.0, value))


@dataclass(frozen=True)
class Origin:
    """Who made a mask. ``source_frame``: for ``tracked``, the prompted frame it was propagated from."""

    kind: str
    engine: str = ""
    model: str = ""
    source_frame: int | None = None
    at: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown provenance kind {self.kind!r}; one of {', '.join(KINDS)}")
        if not self.at:
            object.__setattr__(self, "at", utc_now())

    @property
    def human(self) -> bool:
        return self.kind in HUMAN_KINDS

    def as_json(self) -> dict:
        """The fields exporters write (``null`` where unknown)."""
        return {"kind": self.kind, "engine": self.engine or None, "model": self.model or None,
                "source_frame": self.source_frame, "at": self.at, "detail": self.detail or None}


@dataclass(frozen=True)
class MaskInfo:
    frame: int
    obj_id: int
    origin: Origin
    score: FrameScore | None = None

    @property
    def confidence(self) -> float | None:
        return None if self.score is None else self.score.confidence

    def with_score(self, score: FrameScore | None) -> MaskInfo:
        return replace(self, score=score)

    def as_row(self) -> tuple:
        o, s = self.origin, self.score
        return (self.frame, self.obj_id, o.kind, o.engine, o.model, o.source_frame, o.at, o.detail,
                None if s is None else s.object_score, None if s is None else s.iou,
                None if s is None else s.memory_score, None if s is None else s.engine_confidence,
                None if s is None else s.confidence)

    @classmethod
    def from_row(cls, row: tuple) -> MaskInfo:
        frame, obj_id, kind, engine, model, source, at, detail, score, iou, memory, engine_conf = row[:12]
        origin = Origin(kind, engine or "", model or "", source, at, detail or "")
        fs = None if score is None else FrameScore(score, iou, memory, engine_conf)
        return cls(int(frame), int(obj_id), origin, fs)

    def as_json(self) -> dict:
        """Provenance and confidence as exporters write them."""
        out = self.origin.as_json()
        s = self.score
        out["confidence"] = None if s is None else round(s.confidence, 4)
        out["object_score"] = None if s is None else round(s.object_score, 4)
        out["predicted_iou"] = None if s is None or s.iou is None else round(s.iou, 4)
        if s is not None and s.memory_score is not None:
            out["memory_score"] = round(s.memory_score, 4)
        return out


def mask_checksum(counts: bytes) -> int:
    """Identifies the exact mask a review saw: CRC-32 of its compressed RLE counts (deterministic)."""
    return zlib.crc32(bytes(counts)) & 0xFFFFFFFF


@dataclass(frozen=True)
class Review:
    frame: int
    obj_id: int
    verdict: str
    mask_crc: int
    at: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown review verdict {self.verdict!r}; one of {', '.join(VERDICTS)}")
        if not self.at:
            object.__setattr__(self, "at", utc_now())


# -- SQL (the caller holds the project's lock; writes run inside its transaction) -------------------
def _missing_table(exc: sqlite3.OperationalError) -> bool:
    # A schema-1 project opened read-only is never migrated: its missing tables mean "no data".
    return "no such table" in str(exc)


def _select(conn: sqlite3.Connection, sql: str, args: Iterable = ()) -> list[tuple]:
    try:
        return conn.execute(sql, tuple(args)).fetchall()
    except sqlite3.OperationalError as exc:
        if _missing_table(exc):
            return []
        raise


def write_infos(conn: sqlite3.Connection, infos: Iterable[MaskInfo]) -> None:
    conn.executemany(f"INSERT OR REPLACE INTO mask_info ({', '.join(INFO_COLUMNS)}) "
                     f"VALUES ({', '.join('?' * len(INFO_COLUMNS))})", [i.as_row() for i in infos])


def forget_infos(conn: sqlite3.Connection, keys: Iterable[tuple[int, int]]) -> None:
    """Drop the records of (frame, obj_id) masks that were just rewritten by someone who did not say how."""
    try:
        conn.executemany("DELETE FROM mask_info WHERE frame = ? AND obj_id = ?", list(keys))
    except sqlite3.OperationalError as exc:
        if not _missing_table(exc):
            raise


def read_infos(conn: sqlite3.Connection, *, frame: int | None = None,
               obj_id: int | None = None) -> list[MaskInfo]:
    where, args = [], []
    if frame is not None:
        where.append("frame = ?")
        args.append(frame)
    if obj_id is not None:
        where.append("obj_id = ?")
        args.append(obj_id)
    sql = f"SELECT {', '.join(INFO_COLUMNS)} FROM mask_info" + \
        (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY obj_id, frame"
    return [MaskInfo.from_row(r) for r in _select(conn, sql, args)]


def info_rows(conn: sqlite3.Connection, obj_id: int) -> list[tuple]:
    """Raw rows of one object (for object snapshots / undo of a deletion)."""
    return _select(conn, f"SELECT {', '.join(INFO_COLUMNS)} FROM mask_info WHERE obj_id = ?", (obj_id,))


def review_rows(conn: sqlite3.Connection, obj_id: int) -> list[tuple]:
    return _select(conn, "SELECT frame, obj_id, verdict, mask_crc, at FROM reviews WHERE obj_id = ?",
                   (obj_id,))


def restore_rows(conn: sqlite3.Connection, infos: Iterable[tuple], reviews: Iterable[tuple]) -> None:
    conn.executemany(f"INSERT OR REPLACE INTO mask_info ({', '.join(INFO_COLUMNS)}) "
                     f"VALUES ({', '.join('?' * len(INFO_COLUMNS))})", list(infos))
    conn.executemany("INSERT OR REPLACE INTO reviews (frame, obj_id, verdict, mask_crc, at) "
                     "VALUES (?, ?, ?, ?, ?)", list(reviews))


def write_reviews(conn: sqlite3.Connection, reviews: Iterable[Review]) -> None:
    conn.executemany("INSERT OR REPLACE INTO reviews (frame, obj_id, verdict, mask_crc, at) "
                     "VALUES (?, ?, ?, ?, ?)",
                     [(r.frame, r.obj_id, r.verdict, r.mask_crc, r.at) for r in reviews])


def delete_reviews(conn: sqlite3.Connection, keys: Iterable[tuple[int, int]]) -> None:
    conn.executemany("DELETE FROM reviews WHERE frame = ? AND obj_id = ?", list(keys))


def read_reviews(conn: sqlite3.Connection, *, frame: int | None = None,
                 obj_id: int | None = None) -> list[Review]:
    where, args = [], []
    if frame is not None:
        where.append("frame = ?")
        args.append(frame)
    if obj_id is not None:
        where.append("obj_id = ?")
        args.append(obj_id)
    sql = "SELECT frame, obj_id, verdict, mask_crc, at FROM reviews" + \
        (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY obj_id, frame"
    return [Review(int(f), int(o), v, int(c), a) for f, o, v, c, a in _select(conn, sql, args)]


def current_reviews(conn: sqlite3.Connection, *, obj_id: int | None = None) -> Iterator[tuple[Review, bool]]:
    """Every review with whether it still holds (the stored mask is the one reviewed)."""
    sql = ("SELECT r.frame, r.obj_id, r.verdict, r.mask_crc, r.at, m.counts FROM reviews r "
           "LEFT JOIN masks m ON m.frame = r.frame AND m.obj_id = r.obj_id")
    args: tuple = ()
    if obj_id is not None:
        sql, args = sql + " WHERE r.obj_id = ?", (obj_id,)
    for f, o, v, crc, at, counts in _select(conn, sql + " ORDER BY r.obj_id, r.frame", args):
        review = Review(int(f), int(o), v, int(crc), at)
        yield review, counts is not None and mask_checksum(counts) == review.mask_crc


def _frame_chunks(frames: Iterable[int] | None) -> Iterator[tuple[str, tuple]]:
    """(" WHERE frame IN (?, ...)", args) in chunks SQLite accepts; one unfiltered query for None."""
    if frames is None:
        yield "", ()
        return
    frames = sorted(set(frames))
    for k in range(0, len(frames), 500):
        chunk = tuple(frames[k:k + 500])
        yield f" WHERE {{col}} IN ({', '.join('?' * len(chunk))})", chunk


def layer_rows(conn: sqlite3.Connection, frames: Iterable[int] | None = None) -> list[tuple]:
    """(frame, obj_id, kind, confidence or None) of every record (on ``frames``): what the timeline draws."""
    out: list[tuple] = []
    for where, args in _frame_chunks(frames):
        sql = "SELECT frame, obj_id, kind, confidence FROM mask_info" + where.format(col="frame")
        out += _select(conn, sql, args)
    return out


def stored_keys(conn: sqlite3.Connection, frames: Iterable[int] | None = None) -> list[tuple]:
    """(frame, obj_id, area) of every stored mask (on ``frames``), without reading the masks."""
    out: list[tuple] = []
    for where, args in _frame_chunks(frames):
        out += _select(conn, "SELECT frame, obj_id, area FROM masks" + where.format(col="frame"), args)
    return out


def review_states(conn: sqlite3.Connection, frames: Iterable[int] | None = None) -> list[tuple]:
    """(frame, obj_id, still valid) of every review (on ``frames``)."""
    out: list[tuple] = []
    for where, args in _frame_chunks(frames):
        sql = ("SELECT r.frame, r.obj_id, r.mask_crc, m.counts FROM reviews r LEFT JOIN masks m "
               "ON m.frame = r.frame AND m.obj_id = r.obj_id" + where.format(col="r.frame"))
        out += [(int(f), int(o), counts is not None and mask_checksum(counts) == int(crc))
                for f, o, crc, counts in _select(conn, sql, args)]
    return out
