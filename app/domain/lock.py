"""One writer per project: a lock file beside it, ``P.masklet.lock``, that works across processes and hosts.

SQLite's own locks guard single transactions, not a whole editing session, and on network disks
(NFS, SMB) they are unreliable; two programs continuing one project would interleave their masks.
So whoever writes a project first creates ``P.masklet.lock``, atomically (a hard link of a complete
file, the classic NFS-safe way; exclusive create where the disk has no hard links), holding JSON::

    {"host": "ws12", "pid": 4242, "started": 1764627000.52, "user": "ana", "program": "masklet track",
     "since": 1764627012.0, "token": "9f0c..."}

The holder refreshes the file's modification time every :data:`HEARTBEAT_S` seconds. A second
writer is refused at once with :class:`ProjectLockedError`, whose message names the holder. A lock
left by a crash is recognised and replaced: on the same host when its process is gone (or the pid
now belongs to a process started at another time), from another host when its heartbeat is older
than :data:`STALE_AFTER_S`. Replacing a stale lock happens under a short-lived ``.lock.break`` file,
so two programs recovering at the same time cannot both win.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import secrets
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from app.domain.store import ProjectError

__all__ = ["HEARTBEAT_S", "STALE_AFTER_S", "LockOwner", "ProjectLockedError", "WriterLock", "lock_path",
           "read_owner", "set_program_name"]

HEARTBEAT_S = 10.0
# Another host's lock is taken as abandoned after this long without a heartbeat: twelve missed beats,
# which also absorbs clock differences between the hosts of a shared disk.
STALE_AFTER_S = 120.0
_BREAK_STALE_S = 30.0
_program = ""


def set_program_name(name: str) -> None:
    """What a refused second writer is told holds the project ("masklet track", "Masklet window")."""
    global _program
    _program = name


def _program_name() -> str:
    return _program or f"python {Path(sys.argv[0]).name if sys.argv and sys.argv[0] else '(interactive)'}"


def lock_path(project_path: Path) -> Path:
    return project_path.with_name(project_path.name + ".lock")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (container without passwd entry): say so
        return "unknown"


def _start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


@dataclass(frozen=True)
class LockOwner:
    host: str
    pid: int
    started: float | None
    user: str
    program: str
    since: float
    token: str

    @classmethod
    def me(cls) -> LockOwner:
        return cls(socket.gethostname(), os.getpid(), _start_time(os.getpid()), _user(), _program_name(),
                   time.time(), secrets.token_hex(8))

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.since))
        return f"{self.program} (pid {self.pid}, user {self.user} on host {self.host}, since {since})"


class ProjectLockedError(ProjectError):
    """Another program is writing the project; ``owner`` says which (None: the lock file is unreadable)."""

    def __init__(self, message: str, owner: LockOwner | None, path: Path) -> None:
        super().__init__(message)
        self.owner = owner
        self.lock_file = path
        self.project_path = path.with_name(path.name[: -len(".lock")])

    @property
    def held_by_this_process(self) -> bool:
        return self.owner is not None and self.owner.pid == os.getpid() and \
            self.owner.host == socket.gethostname()


def read_owner(path: Path) -> LockOwner | None:
    """The holder recorded in a lock file, or None when it is absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockOwner(str(data["host"]), int(data["pid"]),
                         None if data.get("started") is None else float(data["started"]), str(data["user"]),
                         str(data["program"]), float(data["since"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def _stale_reason(owner: LockOwner, lock: Path) -> str | None:
    """Why the lock may be replaced, or None while its holder may still be writing."""
    if owner.host == socket.gethostname():
        if not psutil.pid_exists(owner.pid):
            return f"its process {owner.pid} is gone"
        started = _start_time(owner.pid)
        if owner.started is not None and started is not None and abs(started - owner.started) > 2.0:
            return f"pid {owner.pid} now belongs to another process"
        return None
    try:
        age = time.time() - lock.stat().st_mtime
    except OSError:
        return "it vanished"
    if age > STALE_AFTER_S:
        return f"no heartbeat from host {owner.host} for {age:.0f} s"
    return None


def _write_new(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` only if it does not exist; False if it does."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:
            # No hard links on this disk (FAT, some SMB shares) or a lost NFS reply: the link count
            # tells whether the link was made; otherwise create the file exclusively.
            with contextlib.suppress(OSError):
                if tmp.stat().st_nlink == 2:
                    return True
            return _create_exclusive(path, data)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _create_exclusive(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def _break_stale(lock: Path, seen: LockOwner | None) -> None:
    """Remove ``lock`` if it is still the stale one that was seen, under a short-lived breaker file."""
    breaker = lock.with_name(lock.name + ".break")
    if not _create_exclusive(breaker, f"{os.getpid()}\n".encode()):
        with contextlib.suppress(OSError):
            if time.time() - breaker.stat().st_mtime > _BREAK_STALE_S:
                breaker.unlink()  # left by a program killed while recovering
        time.sleep(0.05)
        return
    try:
        current = read_owner(lock)
        if current == seen and (current is None or _stale_reason(current, lock) is not None):
            lock.unlink(missing_ok=True)
    finally:
        breaker.unlink(missing_ok=True)


class WriterLock:
    """The lock of one project file, held by this process; :meth:`acquire` makes one."""

    def __init__(self, project_path: Path, owner: LockOwner) -> None:
        self.project_path = project_path
        self.path = lock_path(project_path)
        self.owner = owner
        self.recovered: str | None = None  # why an earlier, stale lock was replaced

    @classmethod
    def acquire(cls, project_path: str | Path) -> WriterLock:
        """Take the lock of ``project_path`` or raise :class:`ProjectLockedError` naming the holder."""
        project_path = Path(project_path).absolute()
        lock = lock_path(project_path)
        owner = LockOwner.me()
        data = json.dumps(asdict(owner)).encode()
        recovered = None
        for _attempt in range(20):
            try:
                created = _write_new(lock, data)
            except PermissionError as exc:
                raise ProjectError(f"{project_path.parent}: cannot create the lock file {lock.name} "
                                   f"({exc.strerror}); the project can only be opened read-only") from exc
            except OSError as exc:
                raise ProjectError(f"{lock}: cannot be created ({exc.strerror or exc})") from exc
            if created:
                held = cls(project_path, owner)
                held.recovered = recovered
                return held
            seen = read_owner(lock)
            if seen is None:
                try:
                    young = time.time() - lock.stat().st_mtime < 5.0
                except OSError:
                    continue  # released meanwhile: try again
                if young:
                    time.sleep(0.05)
                    continue
                recovered = "its lock file was unreadable"
            else:
                reason = _stale_reason(seen, lock)
                if reason is None:
                    raise ProjectLockedError(
                        f"{project_path}: is open for writing in {seen.describe()}; close it there, or open "
                        f"the project read-only (lock file {lock.name})", seen, lock)
                recovered = f"an earlier lock was left by {seen.describe()}, and {reason}"
            _break_stale(lock, seen)
        raise ProjectLockedError(f"{project_path}: its lock file {lock} could not be taken; another program "
                                 "keeps changing it", read_owner(lock), lock)

    def holds(self) -> bool:
        """True while the lock file is still this holder's (nobody replaced it as stale)."""
        current = read_owner(self.path)
        return current is not None and current.token == self.owner.token

    def heartbeat(self) -> bool:
        """Refresh the lock's time stamp; False when the lock is no longer ours."""
        if not self.holds():
            return False
        with contextlib.suppress(OSError):
            os.utime(self.path)
        return True

    def release(self) -> None:
        if self.holds():
            self.path.unlink(missing_ok=True)
