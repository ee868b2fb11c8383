"""A Masklet project: one video, its objects, prompts and masks, kept in an SQLite file. Qt-free.

Every public mutation is one committed transaction (or part of an enclosing :meth:`Project.batch`),
so whatever was reported saved survives a crash of the process. Listeners registered with
:meth:`Project.subscribe` are called after the commit as ``callback(kind, frame, obj_id)`` with kind
one of ``"object"`` (added/changed/removed; frame None), ``"prompt"``, ``"mask"`` (obj_id None when a
whole frame changed), ``"engine"`` and ``"reset"`` (many things changed, e.g. after an import).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from app.domain import project_io, quality, rle
from app.domain.lock import ProjectLockedError, WriterLock
from app.domain.model import MAX_OBJECT_ID, ObjectInfo, ObjectSnapshot, Prompt, default_color
from app.domain.project_file import ProjectFile
from app.domain.quality import MaskInfo
from app.domain.rle import MaskRecord
from app.domain.store import (
    ProjectError,
    ProjectReadOnlyError,
    VideoMissingError,
    check_project_file,
    connect,
    connect_readonly,
    initialise,
    migrate,
    read_only_reason,
)
from app.domain.video_compat import Progress, VideoCheck, apply_remap, check_video
from sam3core.errors import FrameIndexError
from sam3core.validate import check_mask, check_prompt
from sam3core.video import VideoError, VideoSource

__all__ = ["ObjectSnapshot", "Project", "ProjectError", "ProjectLockedError", "ProjectReadOnlyError",
           "VideoMissingError"]

log = logging.getLogger(__name__)
Listener = Callable[[str, "int | None", "int | None"], None]
_OBJECT_FIELDS = ("name", "category", "color", "hidden")


class Project:
    """Use :meth:`create`, :meth:`open`, :meth:`open_or_create` or :meth:`in_memory`, not the constructor.

    A project opened for writing holds its file's writer lock (:mod:`app.domain.lock`) until
    :meth:`close`; one opened read-only (on request, in a read-only folder, or beside another writer)
    refuses every change with :class:`ProjectReadOnlyError` and says why in :attr:`read_only_reason`.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None, video: VideoSource, *,
                 writer_lock: WriterLock | None = None, read_only_reason: str | None = None) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._pending: list[tuple[str, int | None, int | None]] = []
        self._listeners: list[Listener] = []
        self._file = ProjectFile(conn, path, guard=self._lock, idle=lambda: self._depth == 0,
                                 writer_lock=writer_lock, read_only_reason=read_only_reason)
        self.video = video
        self.video_path = Path(video.path).resolve()
        self.notes: list[str] = []  # what opening found that the user must know (e.g. renumbered frames)

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._file.conn

    @property
    def path(self) -> Path | None:
        return self._file.path

    @property
    def read_only_reason(self) -> str | None:
        """Why the project is read-only (read-only file or folder, another writer, asked), else None."""
        return self._file.read_only_reason

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, video_path: str | Path, *, engine: str = "classical") -> Project:
        """A new project file for ``video_path``; refuses to overwrite an existing file."""
        path = Path(path).resolve()
        if path.exists():
            raise ProjectError(f"{path}: already exists; open it or choose another name")
        if not path.parent.is_dir():
            raise ProjectError(f"{path.parent}: no such folder")
        lock = WriterLock.acquire(path)
        try:
            return cls._create_locked(path, video_path, engine, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _create_locked(cls, path: Path, video_path: str | Path, engine: str, lock: WriterLock) -> Project:
        video = project_io.open_video(Path(video_path))
        try:
            project_io.create_new(path, project_io.initial_meta(video, engine, path))
            project = cls(connect(path), path, video, writer_lock=lock)
        except BaseException:
            video.close()
            raise
        project._record_count_when_known()
        return project

    @classmethod
    def open_or_create(cls, path: str | Path, video_path: str | Path, *,
                       engine: str = "classical") -> Project:
        """The project at ``path`` for writing: opened if it exists (it must be of ``video_path``), else
        created; decided under the writer lock, so two programs starting at once cannot both create it."""
        path = Path(path).resolve()
        if not path.parent.is_dir():
            raise ProjectError(f"{path.parent}: no such folder")
        lock = WriterLock.acquire(path)
        try:
            if path.exists():
                return cls._open_checked(path, video_path, None, lock)
            return cls._create_locked(path, video_path, engine, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def in_memory(cls, video_path: str | Path, *, engine: str = "classical") -> Project:
        """An unsaved project (SQLite ``:memory:``); :meth:`save_as` gives it a file."""
        video = project_io.open_video(Path(video_path))
        conn = connect(":memory:")
        initialise(conn, project_io.initial_meta(video, engine, None))
        project = cls(conn, None, video)
        project._record_count_when_known()
        return project

    @classmethod
    def open(cls, path: str | Path, *, video_path: str | Path | None = None,
             read_only: bool | str = False, progress: Progress | None = None) -> Project:
        """Open a project. The file is checked read-only first: a foreign or newer file is never modified.

        Opened for writing unless ``read_only`` (True, or the reason to show) or the file or its folder
        is not writable (then it opens read-only and :attr:`read_only_reason` says why). Raises
        :class:`ProjectLockedError` when another program writes it, :class:`VideoMissingError` when the
        video is not where it was (pass ``video_path``), :class:`ProjectError` when ``video_path`` is a
        different video or the file is no project. ``progress``: see :mod:`app.domain.video_compat`.
        """
        path = Path(path).resolve()
        check_project_file(path)
        reason = (read_only if isinstance(read_only, str) else "opened read-only on request") if read_only \
            else read_only_reason(path)
        lock = None
        if reason is None:
            try:
                lock = WriterLock.acquire(path)
            except ProjectLockedError:
                raise
            except ProjectError as exc:  # no lock file can be made there: nobody can write it safely
                reason = str(exc)
        try:
            return cls._open_checked(path, video_path, reason, lock, progress)
        except BaseException:
            if lock is not None:
                lock.release()
            raise

    @classmethod
    def _open_checked(cls, path: Path, video_path: str | Path | None, reason: str | None,
                      lock: WriterLock | None, progress: Progress | None = None) -> Project:
        check_project_file(path)
        meta = project_io.read_meta(path)
        candidate = project_io.locate_video(path, meta, video_path)
        video = project_io.open_video(candidate)
        try:
            # Confirms it is this project's video and maps masks numbered by an older frame reader.
            check = check_video(path, meta, video, progress=progress)
            had_side_files = any(f.exists() for f in project_io.side_files(path)[:2])
            conn = connect(path) if lock is not None else connect_readonly(path)
            try:
                if lock is not None:
                    migrate(conn)  # schema 1 -> 2 adds the provenance/review tables, nothing else
            except BaseException:
                conn.close()
                raise
            project = cls(conn, path, video, writer_lock=lock, read_only_reason=reason)
            project._file.tidy_on_close = lock is None and not had_side_files
        except BaseException:
            video.close()
            raise
        if check.meta or check.remap:
            if project.read_only:
                moved = f" (masks of frames {', '.join(map(str, sorted(check.remap)[:8]))}"
                moved += " ... belong to other frame numbers now)" if len(check.remap) > 8 else \
                    " belong to other frame numbers now)"
                check.notes.append(f"{path.name}: opened read-only, so its masks were not renumbered for "
                                   f"the current frame reader{moved if check.remap else ''}; open it for "
                                   "writing once before trusting or exporting them.")
            else:
                project._adopt_reader(check)
        project.notes = check.notes
        for note in check.notes:
            log.warning("%s", note)
        if Path(candidate).resolve() != Path(meta["video_path"]) and not project.read_only:
            project._set_meta({"video_path": str(project.video_path),
                               "video_relpath": os.path.relpath(project.video_path, path.parent)})
        return project

    def _record_count_when_known(self) -> None:
        def record(video: VideoSource) -> None:
            try:
                if not self._meta("num_frames"):
                    self._set_meta({"num_frames": str(video.num_frames)})
            except (sqlite3.Error, VideoError) as exc:  # closed meanwhile, or the index failed
                log.debug("frame count not recorded: %s", exc)

        self.video.on_index_ready(record)

    def _adopt_reader(self, check: VideoCheck) -> None:
        """Record the frame reader (and renumber masks it numbers differently, after a backup copy)."""
        if check.remap and self.path is not None:
            backup = self.path.with_name(self.path.name + ".before-reader-update")
            project_io.backup_into(self._conn, backup, self.video_path)  # consistent, renamed into place
            check.notes.append(f"The project as it was is kept in {backup}.")
        with self.batch():
            apply_remap(self._conn, check.remap)
            self._set_meta(check.meta)
            self._event("reset", None, None)

    # -- read-only mode, copies, closing --------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self.read_only_reason is not None

    def save_copy(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """A consistent, self-contained copy of the project at ``path`` (SQLite's online backup), taken
        while work goes on; this project keeps its own file. Returns the copy's path."""
        return self._file.save_copy(Path(path).absolute(), self.video_path, overwrite=overwrite)

    def save_as(self, path: str | Path) -> None:
        """Copy the project to ``path`` (replacing it) and continue there, writable (also from read-only)."""
        self._file.save_as(Path(path).resolve(), self.video_path)

    def checkpoint(self) -> None:
        """Fold the WAL into the main file now (after a propagation); never waits for readers."""
        self._file.checkpoint()

    def close(self) -> None:
        self._file.close()
        self.video.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions and events ----------------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group changes into one transaction; listeners hear of them after the commit."""
        with self._lock:
            if self._depth == 0:
                self._file.check_writable()
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.execute("ROLLBACK")
                    self._pending.clear()
                raise
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("COMMIT")
                self._file.committed()
                events, self._pending = self._pending, []
                self._notify(events)

    def subscribe(self, callback: Listener) -> None:
        self._listeners.append(callback)

    def unsubscribe(self, callback: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    @contextlib.contextmanager
    def sql(self) -> Iterator[sqlite3.Connection]:
        """The connection under the project's lock, for domain modules that keep their own tables
        (app/domain/quality.py, review.py). Writes belong inside :meth:`batch`."""
        with self._lock:
            yield self._conn

    def notify(self, kind: str, frame: int | None, obj_id: int | None) -> None:
        """Announce a change made through :meth:`sql` (inside :meth:`batch`) to the listeners."""
        self._event(kind, frame, obj_id)

    def _event(self, kind: str, frame: int | None, obj_id: int | None) -> None:
        if (kind, frame, obj_id) not in self._pending:
            self._pending.append((kind, frame, obj_id))

    def _notify(self, events: list[tuple[str, int | None, int | None]]) -> None:
        for kind, frame, obj_id in events:
            for callback in list(self._listeners):
                try:
                    callback(kind, frame, obj_id)
                except Exception:  # a broken listener must not break storing the user's work
                    log.exception("project listener %r failed on %s", callback, kind)

    # -- metadata -------------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, values: dict[str, str]) -> None:
        with self.batch():
            self._conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())

    @property
    def engine(self) -> str:
        return self._meta("engine") or "classical"

    @engine.setter
    def engine(self, name: str) -> None:
        with self.batch():
            self._set_meta({"engine": name})
            self._event("engine", None, None)

    @property
    def num_frames(self) -> int:
        return self.video.num_frames

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of every frame and mask."""
        return self.video.height, self.video.width

    # -- objects --------------------------------------------------------------------------------
    def objects(self) -> list[ObjectInfo]:
        with self._lock:
            rows = self._conn.execute("SELECT id, name, category, color, hidden FROM objects ORDER BY id")
            return [ObjectInfo(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows.fetchall()]

    def object(self, obj_id: int) -> ObjectInfo:
        with self._lock:
            row = self._conn.execute("SELECT id, name, category, color, hidden FROM objects WHERE id = ?",
                                     (obj_id,)).fetchone()
        if row is None:
            raise KeyError(f"no object with id {obj_id}")
        return ObjectInfo(row[0], row[1], row[2], row[3], bool(row[4]))

    def has_object(self, obj_id: int) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM objects WHERE id = ?", (obj_id,)).fetchone() is not None

    def next_object_id(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM objects").fetchone()[0])

    def add_object(self, name: str | None = None, category: str = "object", color: str | None = None,
                   obj_id: int | None = None, *, hidden: bool = False) -> ObjectInfo:
        with self.batch():
            if obj_id is None:
                obj_id = self.next_object_id()
            elif isinstance(obj_id, bool) or not isinstance(obj_id, int) or not 1 <= obj_id <= MAX_OBJECT_ID:
                raise ValueError(f"object id must be a positive integer (at most {MAX_OBJECT_ID}), "
                                 f"got {obj_id!r}")
            elif self.has_object(obj_id):
                raise ValueError(f"an object with id {obj_id} already exists")
            info = ObjectInfo(obj_id, name or f"Object {obj_id}", category or "object",
                              color or default_color(obj_id), hidden)
            self._conn.execute("INSERT INTO objects (id, name, category, color, hidden) "
                               "VALUES (?, ?, ?, ?, ?)",
                               (info.id, info.name, info.category, info.color, int(info.hidden)))
            self._event("object", None, obj_id)
        return info

    def update_object(self, obj_id: int, **fields: object) -> ObjectInfo:
        unknown = set(fields) - set(_OBJECT_FIELDS)
        if unknown:
            raise ValueError(f"unknown object field(s): {', '.join(sorted(unknown))}")
        with self.batch():
            info = self.object(obj_id).with_changes(**fields)
            self._conn.execute("UPDATE objects SET name = ?, category = ?, color = ?, hidden = ? "
                               "WHERE id = ?",
                               (info.name, info.category, info.color, int(bool(info.hidden)), obj_id))
            self._event("object", None, obj_id)
        return info

    def delete_object(self, obj_id: int) -> None:
        with self.batch():
            self.object(obj_id)
            # Prompts and masks go with the object (ON DELETE CASCADE).
            self._conn.execute("DELETE FROM objects WHERE id = ?", (obj_id,))
            self._event("object", None, obj_id)

    def object_snapshot(self, obj_id: int) -> ObjectSnapshot:
        with self._lock:
            info = self.object(obj_id)
            prompts = self._conn.execute("SELECT frame, obj_id, points, labels, box, mask FROM prompts "
                                         "WHERE obj_id = ?", (obj_id,)).fetchall()
            masks = self._conn.execute("SELECT frame, obj_id, counts, area, x, y, w, h FROM masks "
                                       "WHERE obj_id = ?", (obj_id,)).fetchall()
            infos, reviews = quality.info_rows(self._conn, obj_id), quality.review_rows(self._conn, obj_id)
        return ObjectSnapshot(info, tuple(prompts), tuple(masks), tuple(infos), tuple(reviews))

    def restore_object(self, snapshot: ObjectSnapshot) -> None:
        """Put back an object exactly as :meth:`object_snapshot` saw it (it must not exist now)."""
        info = snapshot.info
        with self.batch():
            self.add_object(info.name, info.category, info.color, info.id, hidden=info.hidden)
            self._conn.executemany("INSERT INTO prompts VALUES (?, ?, ?, ?, ?, ?)", snapshot.prompt_rows)
            self._conn.executemany("INSERT INTO masks VALUES (?, ?, ?, ?, ?, ?, ?, ?)", snapshot.mask_rows)
            quality.restore_rows(self._conn, snapshot.info_rows, snapshot.review_rows)
            self._event("reset", None, info.id)

    # -- prompts --------------------------------------------------------------------------------
    def _prompt_from_row(self, row: tuple) -> Prompt:
        frame, obj_id, points, labels, box, mask = row
        height, width = self.size
        return Prompt(frame, obj_id, tuple(tuple(map(float, p)) for p in json.loads(points)),
                      tuple(int(v) for v in json.loads(labels)),
                      None if box is None else tuple(float(v) for v in json.loads(box)),
                      None if mask is None else rle.decode(mask, height, width))

    def prompt(self, frame: int, obj_id: int) -> Prompt | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM prompts WHERE frame = ? AND obj_id = ?",
                                     (frame, obj_id)).fetchone()
        return None if row is None else self._prompt_from_row(row)

    def prompts(self, *, frame: int | None = None, obj_id: int | None = None) -> list[Prompt]:
        """Prompts ordered by frame, then object id; optionally only one frame's or one object's."""
        where, args = [], []
        if frame is not None:
            where.append("frame = ?")
            args.append(frame)
        if obj_id is not None:
            where.append("obj_id = ?")
            args.append(obj_id)
        sql = "SELECT * FROM prompts" + (" WHERE " + " AND ".join(where) if where else "") + \
            " ORDER BY frame, obj_id"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [self._prompt_from_row(r) for r in rows]

    def set_prompt(self, prompt: Prompt) -> None:
        """Store ``prompt`` for its (frame, object), replacing the previous one; an empty prompt deletes."""
        if prompt.is_empty:
            self.clear_prompt(prompt.frame, prompt.obj_id)
            return
        self._check_frame(prompt.frame)
        height, width = self.size
        mask = None if prompt.mask is None else rle.encode(check_mask(prompt.mask, height=height,
                                                                      width=width))[0]
        if prompt.points or prompt.box is not None:
            # The one prompt check shared with the CLI, the GUI and the engines (PromptError).
            check_prompt(prompt.points or None, prompt.labels or None, prompt.box, width=width,
                         height=height)
        with self.batch():
            self._require_object(prompt.obj_id)
            self._conn.execute(
                "INSERT OR REPLACE INTO prompts VALUES (?, ?, ?, ?, ?, ?)",
                (prompt.frame, prompt.obj_id, json.dumps([list(map(float, p)) for p in prompt.points]),
                 json.dumps([int(v) for v in prompt.labels]),
                 None if prompt.box is None else json.dumps([float(v) for v in prompt.box]), mask))
            self._event("prompt", prompt.frame, prompt.obj_id)

    def clear_prompt(self, frame: int, obj_id: int) -> None:
        with self.batch():
            self._conn.execute("DELETE FROM prompts WHERE frame = ? AND obj_id = ?", (frame, obj_id))
            self._event("prompt", frame, obj_id)

    def prompted_frames(self, obj_id: int | None = None) -> list[int]:
        sql, args = "SELECT DISTINCT frame FROM prompts", ()
        if obj_id is not None:
            sql, args = sql + " WHERE obj_id = ?", (obj_id,)
        with self._lock:
            return [r[0] for r in self._conn.execute(sql + " ORDER BY frame", args).fetchall()]

    # -- masks ----------------------------------------------------------------------------------
    def mask(self, frame: int, obj_id: int) -> np.ndarray | None:
        record = self.mask_record(frame, obj_id)
        return None if record is None else record.decode()

    def masks_on_frame(self, frame: int) -> dict[int, np.ndarray]:
        return {r.obj_id: r.decode() for r in self.mask_records(frame)}

    def mask_record(self, frame: int, obj_id: int) -> MaskRecord | None:
        """The stored mask of (frame, object) still encoded, or None."""
        with self._lock:
            row = self._conn.execute("SELECT frame, obj_id, counts, area, x, y, w, h FROM masks "
                                     "WHERE frame = ? AND obj_id = ?", (frame, obj_id)).fetchone()
        return None if row is None else self._record(row)

    def mask_records(self, frame: int) -> list[MaskRecord]:
        """All stored masks of one frame, encoded, ordered by object id."""
        with self._lock:
            rows = self._conn.execute("SELECT frame, obj_id, counts, area, x, y, w, h FROM masks "
                                      "WHERE frame = ? ORDER BY obj_id", (frame,)).fetchall()
        return [self._record(r) for r in rows]

    def _record(self, row: tuple) -> MaskRecord:
        height, width = self.size
        return MaskRecord(row[0], row[1], height, width, bytes(row[2]), row[3],
                          (row[4], row[5], row[6], row[7]))

    def set_mask(self, frame: int, obj_id: int, mask: np.ndarray | None, *,
                 info: MaskInfo | None = None) -> None:
        """Store one mask; None removes it. An all-empty mask is stored: "tracked, and absent here"."""
        self.set_frame_masks(frame, {obj_id: mask}, infos=() if info is None else (info,))

    def set_frame_masks(self, frame: int, masks: dict[int, np.ndarray | None], *,
                        infos: Iterable[MaskInfo] = ()) -> None:
        """Store several objects' masks of one frame in one transaction.

        Their old provenance/confidence records go; ``infos`` (for masks written here) replace them.
        """
        self._check_frame(frame)
        encoded = {obj_id: None if m is None else rle.encode(self._check_mask(m))
                   for obj_id, m in masks.items()}
        with self.batch():
            for obj_id, value in encoded.items():
                self._require_object(obj_id)
                if value is None:
                    self._conn.execute("DELETE FROM masks WHERE frame = ? AND obj_id = ?", (frame, obj_id))
                else:
                    counts, area, (x, y, w, h) = value
                    self._conn.execute("INSERT OR REPLACE INTO masks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                       (frame, obj_id, counts, area, x, y, w, h))
            self._replace_infos([(frame, obj_id) for obj_id in encoded],
                                [i for i in infos if i.frame == frame and encoded.get(i.obj_id) is not None])
            self._event("mask", frame, next(iter(encoded)) if len(encoded) == 1 else None)

    def write_records(self, records: list[MaskRecord], *, origin: quality.Origin | None = None) -> None:
        """Store already encoded masks (import) without decoding them; ``origin`` says who made them."""
        with self.batch():
            for r in records:
                self._check_frame(r.frame)
                self._require_object(r.obj_id)
                self._conn.execute("INSERT OR REPLACE INTO masks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                   (r.frame, r.obj_id, r.counts, r.area, *r.bbox))
                self._event("mask", r.frame, None)
            infos = [] if origin is None else [MaskInfo(r.frame, r.obj_id, origin) for r in records]
            self._replace_infos([(r.frame, r.obj_id) for r in records], infos)

    def _replace_infos(self, keys: list[tuple[int, int]], infos: list[MaskInfo]) -> None:
        quality.forget_infos(self._conn, keys)
        if infos:
            quality.write_infos(self._conn, infos)

    def frames_with_masks(self, obj_id: int) -> list[int]:
        """Frames where the object has a non-empty mask, ascending."""
        with self._lock:
            rows = self._conn.execute("SELECT frame FROM masks WHERE obj_id = ? AND area > 0 ORDER BY frame",
                                      (obj_id,)).fetchall()
        return [r[0] for r in rows]

    def frames_stored(self) -> list[int]:
        """Frames that hold any stored mask (empty ones included), ascending."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT DISTINCT frame FROM masks ORDER BY frame")]

    def mask_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM masks").fetchone()[0])

    # -- checks ---------------------------------------------------------------------------------
    def _check_frame(self, frame: int) -> None:
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
            raise FrameIndexError(f"frame must be an integer, got {frame!r}")
        if not 0 <= frame < self.num_frames:
            raise FrameIndexError(f"frame {frame} outside 0..{self.num_frames - 1}")

    def _check_mask(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.shape != self.size:
            raise ValueError(f"mask shape {mask.shape} differs from the video's (H, W) = {self.size}")
        return mask if mask.dtype == bool else mask > 0

    def _require_object(self, obj_id: int) -> None:
        if not self.has_object(obj_id):
            raise KeyError(f"no object with id {obj_id}")
