"""The open file of a project: its SQLite connection, writer lock, WAL keeper and read-only state.

:class:`~app.domain.project.Project` holds the data model; this class holds what makes the file safe:
one writer at a time (:mod:`app.domain.lock`), the WAL folded into the main file soon after every
change (:mod:`app.domain.keeper`), read-only mode with its reason, copies by SQLite's online backup,
and a clean close. All of it runs under the project's lock (``guard``), so no checkpoint or copy ever
lands inside a transaction.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from app.domain.keeper import Keeper
from app.domain.lock import WriterLock
from app.domain.project_io import backup_into, check_copy_target
from app.domain.store import ProjectError, ProjectReadOnlyError, connect

log = logging.getLogger(__name__)


class ProjectFile:
    """``conn`` on ``path`` (None: in memory); writable when ``writer_lock`` is held and no
    ``read_only_reason`` is given. ``idle()`` tells whether the project is between transactions."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None, *, guard: threading.RLock,
                 idle: Callable[[], bool], writer_lock: WriterLock | None = None,
                 read_only_reason: str | None = None) -> None:
        self.conn = conn
        self.path = path
        self.read_only_reason = read_only_reason
        self._guard = guard
        self._idle = idle
        self._writer_lock = writer_lock
        self._dirty = False
        self._lost: str | None = None
        self._keeper: Keeper | None = None
        self._keeper_conn: sqlite3.Connection | None = None  # created and used in the keeper's thread
        # A reader that made the -wal/-shm (a read-only SQLite connection can create, never delete them)
        # removes them on close when no writer has appeared meanwhile.
        self.tidy_on_close = False
        self._start_keeper()

    def check_writable(self) -> None:
        """Raise unless changes may be written now."""
        if self.read_only_reason is not None:
            raise ProjectReadOnlyError(f"{self.path}: is open read-only ({self.read_only_reason}); nothing "
                                       "can be changed (File ▸ Save project as… makes a writable copy)")
        if self._lost is not None:
            raise ProjectError(f"{self.path}: stopped writing: {self._lost}")

    def committed(self) -> None:
        self._dirty = True

    def checkpoint(self) -> None:
        """Fold the WAL into the main file now, if between transactions; never waits for readers."""
        with self._guard:
            if self._idle() and self.path is not None and self.read_only_reason is None:
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self._dirty = False

    def _checkpoint_if_dirty(self) -> None:  # the keeper's thread
        """A checkpoint through the keeper's own connection: in WAL mode it runs beside the writer's
        commits, so storing frames never waits for it (PASSIVE: it never waits for anyone either)."""
        if not self._dirty or self.path is None:
            return
        self._dirty = False  # a commit from now on marks it again
        if self._keeper_conn is None:
            self._keeper_conn = sqlite3.connect(str(self.path), isolation_level=None)
        self._keeper_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def _lock_lost(self, reason: str) -> None:
        self._lost = reason
        log.error("%s: stopped writing: %s", self.path, reason)

    def _start_keeper(self) -> None:
        if self.path is not None and self.read_only_reason is None:
            self._keeper = Keeper(self.path.name, self._checkpoint_if_dirty, self._writer_lock,
                                  self._lock_lost, on_exit=self._close_keeper_conn)

    def _close_keeper_conn(self) -> None:  # the keeper's thread, as it ends
        if self._keeper_conn is not None:
            self._keeper_conn.close()
            self._keeper_conn = None

    def _stop_keeper(self) -> None:
        if self._keeper is not None:
            self._keeper.stop()
            self._keeper = None

    def save_copy(self, path: Path, video_path: Path, *, overwrite: bool) -> Path:
        check_copy_target(path, self.path, video_path)
        if path.exists() and not overwrite:
            raise ProjectError(f"{path}: already exists; choose another name")
        target_lock = WriterLock.acquire(path)  # nobody may be writing the file the copy replaces
        try:
            with self._guard:
                if not self._idle():
                    raise RuntimeError("save_copy inside a batch")
                backup_into(self.conn, path, video_path)
        finally:
            target_lock.release()
        return path

    def save_as(self, path: Path, video_path: Path) -> None:
        """Copy to ``path`` and continue there, writable (also the way out of read-only mode)."""
        with self._guard:
            if not self._idle():
                raise RuntimeError("save_as inside a batch")
            if self.path is not None and path == self.path:
                self.checkpoint()
                return
            check_copy_target(path, self.path, video_path)
            new_lock = WriterLock.acquire(path)
            try:
                backup_into(self.conn, path, video_path)
                conn = connect(path)
            except BaseException:
                new_lock.release()
                raise
            self._stop_keeper()
            old, self.conn = self.conn, conn
            old.close()
            if self._writer_lock is not None:
                self._writer_lock.release()
            self._writer_lock, self.read_only_reason, self._lost = new_lock, None, None
            self.path = path
            self._start_keeper()

    def close(self) -> None:
        self._stop_keeper()
        with self._guard:
            if self.read_only_reason is None and self.path is not None:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self.conn.close()
            if self._writer_lock is not None:
                self._writer_lock.release()
                self._writer_lock = None
            elif self.tidy_on_close and self.path is not None:
                self._tidy()

    def _tidy(self) -> None:
        """Let SQLite remove the empty -wal/-shm this reader created: a last connection that closes
        deletes them. Only while no writer holds the project (taking its lock for that instant)."""
        assert self.path is not None
        try:
            lock = WriterLock.acquire(self.path)
        except ProjectError:
            return  # someone writes it now: the files are theirs
        try:
            with contextlib.suppress(sqlite3.Error):
                conn = sqlite3.connect(str(self.path))
                try:
                    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # really opens it
                finally:
                    conn.close()
        finally:
            lock.release()
