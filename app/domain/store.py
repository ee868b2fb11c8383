"""The on-disk layout of a Masklet project (SQLite) and the checks run before a file is touched.

A project is a SQLite database in WAL mode. Its header carries ``application_id`` = "MSKL" and
``user_version`` = schema version, so a foreign or newer file is recognised by reading 100 bytes,
without SQLite ever opening it for writing; the ``schema_version`` table is then confirmed through a
read-only connection.
"""

from __future__ import annotations

import os
import sqlite3
import struct
from pathlib import Path

APPLICATION_ID = 0x4D534B4C  # "MSKL"
SCHEMA_VERSION = 2
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL, app TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE objects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    color TEXT NOT NULL,
    hidden INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE prompts (
    frame INTEGER NOT NULL,
    obj_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    points TEXT NOT NULL,          -- JSON [[x, y], ...] in video pixels
    labels TEXT NOT NULL,          -- JSON [1, 0, ...]
    box TEXT,                      -- JSON [x0, y0, x1, y1] or NULL
    mask BLOB,                     -- compressed COCO RLE counts of a mask prompt, or NULL
    PRIMARY KEY (frame, obj_id)
) WITHOUT ROWID;
CREATE TABLE masks (
    frame INTEGER NOT NULL,
    obj_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    counts BLOB NOT NULL,          -- compressed COCO RLE counts, size = the video's (H, W)
    area INTEGER NOT NULL,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
    PRIMARY KEY (frame, obj_id)
) WITHOUT ROWID;
CREATE INDEX masks_by_object ON masks (obj_id, frame);
"""

# Schema 2 (issue 18): provenance and confidence of each stored mask, and reviews. A schema-1 file
# gets these tables when it is opened for writing (:func:`migrate`); read-only it stays as it is and
# the missing tables read as "no data" (app/domain/quality.py).
SCHEMA_2 = """
CREATE TABLE IF NOT EXISTS mask_info (
    frame INTEGER NOT NULL,
    obj_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,            -- prompted | painted | imported | tracked
    engine TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    source_frame INTEGER,          -- tracked: the prompted frame it was propagated from
    at TEXT NOT NULL,              -- ISO 8601 UTC
    detail TEXT NOT NULL DEFAULT '',
    object_score REAL, iou REAL, memory_score REAL, engine_confidence REAL,
    confidence REAL,               -- 0..1, NULL where no engine scored the mask
    PRIMARY KEY (frame, obj_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mask_info_by_object ON mask_info (obj_id, frame);
CREATE TABLE IF NOT EXISTS reviews (
    frame INTEGER NOT NULL,
    obj_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    verdict TEXT NOT NULL,         -- accepted | fixed
    mask_crc INTEGER NOT NULL,     -- CRC-32 of the reviewed mask's RLE counts
    at TEXT NOT NULL,
    PRIMARY KEY (frame, obj_id)
) WITHOUT ROWID;
"""


class ProjectError(Exception):
    """Not a Masklet project, a newer schema, a different video, ...: the message says which and where."""


class ProjectReadOnlyError(ProjectError):
    """A change was asked of a project opened read-only; the message says why it is read-only."""


class VideoMissingError(ProjectError):
    """The project's video is not at its recorded location; ``expected_path`` says where it was."""

    def __init__(self, message: str, expected_path: Path) -> None:
        super().__init__(message)
        self.expected_path = expected_path


def check_project_file(path: Path) -> None:
    """Refuse anything that is not a Masklet project of a schema this version understands.

    Reads the file (never writes it): the SQLite header first, then the version table through a
    read-only connection.
    """
    if not path.exists():
        raise ProjectError(f"{path}: no such project file")
    if not path.is_file():
        raise ProjectError(f"{path}: is not a file")
    with path.open("rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise ProjectError(f"{path}: not a Masklet project (not an SQLite database)")
    (user_version,) = struct.unpack(">i", header[60:64])
    (application_id,) = struct.unpack(">I", header[68:72])
    if application_id != APPLICATION_ID:
        raise ProjectError(f"{path}: not a Masklet project (an SQLite database of another application)")
    if user_version > SCHEMA_VERSION:
        raise ProjectError(
            f"{path}: written by a newer Masklet (project schema {user_version}; this version reads up to "
            f"{SCHEMA_VERSION}); update Masklet to open it")
    version = _read_table_version(path)
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"{path}: written by a newer Masklet (project schema {version}; this version reads up to "
            f"{SCHEMA_VERSION}); update Masklet to open it")


def _read_table_version(path: Path) -> int:
    try:
        conn = connect_readonly(path, brief=True)
    except ProjectError:
        raise
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: cannot be read as a project ({exc})") from exc
    try:
        row = conn.execute("SELECT version, app FROM schema_version").fetchone()
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: not a Masklet project or damaged ({exc})") from exc
    finally:
        conn.close()
    if row is None or row[1] != "masklet":
        raise ProjectError(f"{path}: not a Masklet project (no Masklet schema version recorded)")
    return int(row[0])


def connect_readonly(path: Path, *, brief: bool = False) -> sqlite3.Connection:
    """A connection that can never write ``path``, also in a read-only folder.

    SQLite's ``mode=ro`` still needs to create the ``-shm`` file of a WAL database; where the folder
    forbids that and no ``-wal`` file holds unsaved changes, the file is opened ``immutable`` instead.
    A ``-wal`` with changes that cannot be read is an error: opening without it would show old data.
    ``brief`` (a look at the header tables before opening) reads a cleanly closed file as immutable, so
    that refusing a file leaves no ``-wal``/``-shm`` beside it.
    """
    uri = path.resolve().as_uri()
    if brief and not Path(f"{path}-wal").exists():
        try:
            return _immutable(uri)
        except sqlite3.Error:
            pass
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise ProjectError(
                f"{path}: its recent changes are in {wal.name}, which cannot be read here ({exc}); open it "
                "where the folder is writable, or copy the project together with its -wal file") from exc
    return _immutable(uri)


def _immutable(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri + "?immutable=1", uri=True, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def read_only_reason(path: Path) -> str | None:
    """Why ``path`` can only be opened read-only (its file or folder is not writable), else None."""
    if not os.access(path, os.W_OK):
        return f"the file {path.name} is read-only"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"its folder {path.parent} is read-only"
    for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        if side.exists() and not os.access(side, os.W_OK):
            return f"{side.name} beside it is read-only"
    return None


def connect(path: str | Path) -> sqlite3.Connection:
    """A read-write connection with the project's settings (autocommit; transactions are explicit)."""
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: every committed frame reaches the disk, not just the OS cache, before we report it.
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def initialise(conn: sqlite3.Connection, meta: dict[str, str]) -> None:
    """Write the header ids, the schema and the first metadata into an empty database.

    Call it before WAL mode is entered, so that the header fields land in the main file, where
    :func:`check_project_file` reads them.
    """
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute("BEGIN")
    for statement in (SCHEMA + SCHEMA_2).split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO schema_version (version, app) VALUES (?, 'masklet')", (SCHEMA_VERSION,))
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", sorted(meta.items()))
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection) -> bool:
    """Bring an older project up to :data:`SCHEMA_VERSION` in one transaction; True if it changed.

    Only adds tables (schema 1 -> 2), so a migrated file keeps every byte of the user's work.
    """
    (version,) = conn.execute("SELECT version FROM schema_version").fetchone()
    if version >= SCHEMA_VERSION:
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA_2.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return True


def create_file(path: Path, meta: dict[str, str]) -> None:
    """Create a new project database at ``path`` (which must not exist)."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        initialise(conn, meta)
    finally:
        conn.close()
