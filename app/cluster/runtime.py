"""Ray for Masklet: import it (or say plainly why not), start a local instance safely, or join a cluster.

Safety, because a Ray cluster runs any code its callers send:

- A local instance started here listens on 127.0.0.1 only (on Linux Ray binds the machine's network
  address unless told otherwise) and uses token authentication with a fresh random token kept in this
  process' environment (inherited by the Ray processes it starts, written to no file).
- Joining a cluster (``address``) never starts anything; when the user has a token (``RAY_AUTH_TOKEN``,
  ``RAY_AUTH_TOKEN_PATH`` or Ray's default ``~/.ray/auth_token``) token authentication is switched on
  for the connection, which Ray itself does not do for an explicit address.

See the README's "Running on a Ray cluster" for the head-node commands (private network or SSH tunnel).
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import logging
import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sam3core.errors import EngineError

log = logging.getLogger(__name__)

LOCAL_NAMES = ("", "local")

SOURCE_INSTALL_HINT = (
    "Use a cluster from a source install of Masklet (git clone, then the README's first command, "
    "which installs Ray), see the README's \"Running on a Ray cluster\"."
)


class ClusterUnavailableError(EngineError):
    """Ray cannot be used here at all (not installed, or a frozen desktop build without it)."""


class ClusterConnectionError(EngineError):
    """The cluster could not be reached, refused our token, or went away."""


@dataclass(frozen=True)
class RemoteTarget:
    """Where a remote engine runs: a Ray address (None or "local": a local instance) and its resources."""

    address: str | None = None
    num_gpus: float = 0.0
    num_cpus: float = 1.0

    @property
    def is_local(self) -> bool:
        return self.address is None or self.address.strip().lower() in LOCAL_NAMES

    def describe(self) -> str:
        where = "a local Ray instance" if self.is_local else f"Ray cluster {self.address}"
        return where + (f" ({self.num_gpus:g} GPU)" if self.num_gpus else "")


def import_ray() -> ModuleType:
    """``ray``, or :class:`ClusterUnavailableError` with what to do instead."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        if getattr(sys, "frozen", False):
            raise ClusterUnavailableError(
                "This desktop build of Masklet does not include Ray (about 240 MB of servers and "
                "binaries more), so it cannot run engines or batches on a cluster. " + SOURCE_INSTALL_HINT
            ) from exc
        raise ClusterUnavailableError(
            f"Ray is not installed in this Python ({sys.executable}): {exc}. Install it with "
            "`pip install -e .` in the Masklet checkout (Ray is a dependency) or `pip install ray`."
        ) from exc


def ray_available() -> bool:
    try:
        import_ray()
    except ClusterUnavailableError:
        return False
    return True


def _is_loopback_or_private(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host in ("localhost",) or host.endswith((".local", ".lan", ".internal"))
    return ip.is_loopback or ip.is_private


def _host_of(address: str) -> str:
    rest = address.split("://", 1)[-1]
    return rest.rsplit(":", 1)[0].strip("[]") if ":" in rest else rest


def _token_available() -> bool:
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return True
    return (Path.home() / ".ray" / "auth_token").is_file()


@dataclass
class Connection:
    """What :func:`connect` did: whether this process started the instance (and must stop it)."""

    address: str
    started_here: bool


_current: Connection | None = None
_process_token: str | None = None


def _set_auth_env(values: dict[str, str]) -> None:
    """Set Ray's authentication variables. Ray keeps them in a cached config, refreshed here when Ray
    was imported already (the refresh Ray itself does when it turns token mode on)."""
    changed = {k: v for k, v in values.items() if os.environ.get(k) != v}
    if not changed:
        return
    os.environ.update(changed)
    if "ray" in sys.modules:
        config = getattr(importlib.import_module("ray._raylet"), "Config", None)
        if config is not None and hasattr(config, "initialize"):
            config.initialize("")


@contextlib.contextmanager
def _loopback_only() -> Iterator[None]:
    """On Linux, Ray resolves "this node" (and 127.0.0.1 in an address) to the machine's network
    address, and its servers listen on every interface; with this flag off it keeps 127.0.0.1 and binds
    loopback only, as it does on macOS/Windows. Ray reads the flag at call time; restored afterwards."""
    constants = importlib.import_module("ray._private.ray_constants")
    previous = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = previous


def _start_local(num_cpus: int | None, num_gpus: int | None) -> Connection:
    global _process_token
    wanted: dict[str, str] = {}
    if os.environ.get("RAY_AUTH_MODE") is None:
        wanted["RAY_AUTH_MODE"] = "token"
    if os.environ.get("RAY_AUTH_MODE", "token") == "token" and not (
            os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        # A token in the environment only (inherited by the Ray processes started below), one per
        # process: Ray would otherwise write ~/.ray/auth_token, and it caches the token it read.
        _process_token = _process_token or secrets.token_hex(32)
        wanted["RAY_AUTH_TOKEN"] = _process_token
    _set_auth_env(wanted)
    ray = import_ray()
    with _loopback_only():
        context = ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False,
                           _node_ip_address="127.0.0.1", logging_level=logging.WARNING,
                           log_to_driver=False)
    address = str(getattr(context, "address_info", {}).get("gcs_address", "local"))
    return Connection(address, True)


def _join(address: str) -> Connection:
    if os.environ.get("RAY_AUTH_MODE") is None and _token_available():
        _set_auth_env({"RAY_AUTH_MODE": "token"})
    elif os.environ.get("RAY_AUTH_MODE") in (None, "disabled") and not _is_loopback_or_private(
            _host_of(address)):
        log.warning("joining %s without token authentication: anyone who can reach that address can "
                    "run code on the cluster (see the README's \"Running on a Ray cluster\")", address)
    ray = import_ray()
    direct_loopback = "://" not in address and _host_of(address) in ("127.0.0.1", "localhost", "::1")
    try:
        # A cluster on this machine bound to loopback (another Masklet's local instance) is reached on
        # 127.0.0.1; Ray would otherwise try the machine's network address.
        with _loopback_only() if direct_loopback else contextlib.nullcontext():
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False,
                     runtime_env=code_runtime_env())
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "auth" in text.lower() or "unauthenticated" in text.lower():
            hint = (" The cluster wants a token: copy the head node's ~/.ray/auth_token here or set "
                    "RAY_AUTH_TOKEN (see the README).")
        else:
            hint = (" Is the head node running and its port reachable from here (an SSH tunnel up)? If the "
                    "cluster uses token authentication, a missing or wrong token looks like this too: "
                    "set RAY_AUTH_TOKEN or copy the head node's ~/.ray/auth_token here.")
        raise ClusterConnectionError(f"cannot join the Ray cluster at {address}: {text.rstrip('.')}.{hint}") \
            from exc
    return Connection(address, False)


def code_runtime_env() -> dict[str, Any]:
    """Masklet's own packages (app, sam3core: ~1 MB of Python) travel to the cluster with the connection,
    so its workers run exactly this version; the cluster needs only the dependencies (torch, OpenCV,
    PyAV, pycocotools ...: ``pip install`` Masklet there, see the README). Ray caches them by content."""
    import app
    import sam3core

    modules = [str(Path(app.__file__).parent), str(Path(sam3core.__file__).parent)]
    return {"py_modules": modules, "excludes": ["__pycache__", "*.pyc"]}


def connect(address: str | None = None, *, num_cpus: int | None = None,
            num_gpus: int | None = None) -> Connection:
    """Connect this process to Ray: reuse a connection already made, else start a local instance
    (``address`` None or "local") or join the cluster at ``address`` ("host:port" or "ray://host:port").
    """
    global _current
    local = address is None or address.strip().lower() in LOCAL_NAMES
    if is_connected():
        if _current is None:  # someone else (a test fixture, a notebook) connected: use theirs
            _current = Connection("existing", False)
        same = _current.started_here if local else _current.address == address.strip()
        if same or _current.address == "existing":
            return _current
        disconnect()  # another cluster was asked for (the engine dialog's address changed)
    _current = _start_local(num_cpus, num_gpus) if local else _join(address.strip())
    return _current


def disconnect() -> None:
    """Leave Ray; a local instance this process started is stopped with it."""
    global _current
    connection, _current = _current, None
    if connection is not None and connection.address != "existing" and is_connected():
        import_ray().shutdown()


def is_connected() -> bool:
    return "ray" in sys.modules and bool(sys.modules["ray"].is_initialized())


@contextlib.contextmanager
def session(address: str | None = None, *, num_cpus: int | None = None,
            num_gpus: int | None = None) -> Iterator[Connection]:
    """:func:`connect` for the duration of a block; leaves Ray afterwards only if it connected."""
    was_connected = is_connected()
    connection = connect(address, num_cpus=num_cpus, num_gpus=num_gpus)
    try:
        yield connection
    finally:
        if not was_connected:
            disconnect()


def cluster_resources() -> dict[str, Any]:
    ray = import_ray()
    return dict(ray.cluster_resources())
