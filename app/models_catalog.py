"""The checkpoints Masklet knows how to download, and the scan of the local models folder.

Official weights live on the Hugging Face Hub; each registry name of ``sam3core.factory`` maps to one
repository and file. SAM 3 is gated: the licence must be accepted on the Hub and a token configured
(``hf auth login`` or ``HF_TOKEN``) before it downloads.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import re
import socket
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.paths import models_dir

log = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors", ".ckpt")
HUB_URL = "https://huggingface.co"
# Where the window lets a user pick a checkpoint file: named in messages (a test checks the menu exists).
ENGINE_MENU_PATH = "Tracking ▸ Engine and model…"
PARTIAL_DIR = ".partial"  # interrupted downloads, resumed by the next download_model call

# (KiB done, KiB total; total 0 when unknown). KiB, not bytes: SAM 3's 3.5 GB would overflow the
# 32-bit ints of Qt signals and progress bars.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ModelSpec:
    name: str          # registry name in sam3core.factory
    repo_id: str
    filename: str
    approx_mb: int     # shown before downloading; the Hub's size is authoritative
    gated: bool = False
    description: str = ""

    @property
    def page_url(self) -> str:
        return f"{HUB_URL}/{self.repo_id}"

    @property
    def file_url(self) -> str:
        return f"{HUB_URL}/{self.repo_id}/resolve/main/{self.filename}"


CATALOG: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("sam2.1_hiera_tiny", "facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt", 156,
                  description="SAM 2.1 Hiera-T: fastest, good on CPU"),
        ModelSpec("sam2.1_hiera_small", "facebook/sam2.1-hiera-small", "sam2.1_hiera_small.pt", 184,
                  description="SAM 2.1 Hiera-S"),
        ModelSpec("sam2.1_hiera_base_plus", "facebook/sam2.1-hiera-base-plus", "sam2.1_hiera_base_plus.pt",
                  324, description="SAM 2.1 Hiera-B+: a GPU is advisable"),
        ModelSpec("sam2.1_hiera_large", "facebook/sam2.1-hiera-large", "sam2.1_hiera_large.pt", 898,
                  description="SAM 2.1 Hiera-L: most accurate SAM 2.1, needs a GPU"),
        ModelSpec("sam3", "facebook/sam3", "sam3.pt", 3450, gated=True,
                  description="SAM 3 (gated: accept the licence on the Hub first), needs a GPU"),
    )
}


class ModelDownloadError(RuntimeError):
    """A download that did not happen; the message says why and what the user can do instead."""


def model_spec(name: str) -> ModelSpec:
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelDownloadError(
            f"no downloadable model named {name!r}; known: {', '.join(CATALOG)}") from None


def local_checkpoint_path(name: str, folder: Path | None = None) -> Path:
    """Where ``download_model(name)`` puts the file (it may not exist yet)."""
    return (folder or models_dir()) / model_spec(name).filename


def _manual_hint(spec: ModelSpec, folder: Path) -> str:
    return (f"On a machine with internet, download {spec.file_url} and put {spec.filename} into "
            f"{folder} (the app scans that folder), or choose the file with {ENGINE_MENU_PATH} (Browse…).")


class _CallbackError(Exception):
    """Carries an exception raised by the caller's progress callback (e.g. a cancel) through the Hub
    client, so it reaches the caller unchanged instead of as a download error."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def _progress_tqdm(progress: Progress) -> type:
    """A tqdm subclass that reports KiB counts to ``progress`` instead of drawing a bar."""
    from tqdm import tqdm

    class _Reporter(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["disable"] = False
            kwargs["file"] = _NullFile()
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            total = int(self.total or 0)
            try:
                progress(int(self.n) // 1024, (total + 1023) // 1024)
            except Exception as exc:  # noqa: BLE001 - handed back to the caller by download_model
                raise _CallbackError(exc) from exc
            return shown

    return _Reporter


class _NullFile:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None


def hub_unreachable_reason() -> str | None:
    """Why the Hub certainly cannot be reached, found in milliseconds; None when it may be reachable.

    Without this the Hub client retries for ~20 s before giving up, which reads as a hung dialog.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # a proxy resolves names for us
    host = urlsplit(os.environ.get("HF_ENDPOINT", HUB_URL)).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"no network: the Hub's address {host} cannot be resolved ({exc.strerror or exc})"
    return None


def partial_download_bytes(name: str, folder: Path | None = None) -> int:
    """Bytes of an interrupted download of ``name`` kept for resuming (0 when there is none)."""
    spec = model_spec(name)
    parts = (folder or models_dir()) / PARTIAL_DIR
    if not parts.is_dir():
        return 0
    return max((p.stat().st_size for p in parts.glob(f"{spec.filename}.*.part")), default=0)


def download_model(name: str, progress: Progress | None = None, *, folder: Path | None = None,
                   token: str | bool | None = None) -> Path:
    """Download the official checkpoint of ``name`` into the models folder and return its path.

    ``progress(done_kib, total_kib)`` is called as data arrives; an exception it raises (a cancel)
    stops the download between two chunks and reaches the caller unchanged. The bytes received so far
    stay in ``<models>/.partial/`` and the next call resumes from there (an HTTP Range request), as
    long as the file on the Hub is the same one (same ETag); a changed file starts over.

    An existing complete file is returned without a network access. Offline, gated-without-access and
    missing-file failures raise :class:`ModelDownloadError` with a message a user can act on; a partial
    file never takes the final name.
    """
    spec = model_spec(name)
    folder = folder or models_dir()
    target = folder / spec.filename
    if target.is_file() and target.stat().st_size > 0:
        return target
    try:
        import huggingface_hub
        from huggingface_hub import errors as hub_errors
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ModelDownloadError(
            f"huggingface_hub is not installed ({exc}). {_manual_hint(spec, folder)}") from exc

    offline_reason = hub_unreachable_reason()
    if offline_reason:
        raise ModelDownloadError(
            f"cannot download {spec.name}: {offline_reason}. " + _manual_hint(spec, folder))
    log.info("downloading %s from %s into %s", spec.filename, spec.repo_id, folder)
    try:
        path = _fetch(huggingface_hub, spec, folder, token, progress)
    except _CallbackError as exc:
        raise exc.original from None  # the caller's own exception (a cancelled dialog), unchanged
    except ModelDownloadError:
        raise
    except hub_errors.LocalEntryNotFoundError as exc:
        # Raised when the Hub cannot be reached and nothing is cached; it subclasses EntryNotFoundError,
        # so it must be caught first.
        raise ModelDownloadError(
            f"cannot reach the Hugging Face Hub to download {spec.name} (offline, or HF_HUB_OFFLINE is "
            "set). " + _manual_hint(spec, folder)) from exc
    except hub_errors.GatedRepoError as exc:
        raise ModelDownloadError(
            f"{spec.repo_id} is gated: open {spec.page_url}, accept the licence with your Hugging Face "
            "account, then log in on this machine (`hf auth login`, or set HF_TOKEN) and retry. "
            + _manual_hint(spec, folder)) from exc
    except hub_errors.RepositoryNotFoundError as exc:
        raise ModelDownloadError(
            f"{spec.repo_id} was not found on the Hub (or needs a login). "
            + _manual_hint(spec, folder)) from exc
    except hub_errors.EntryNotFoundError as exc:
        raise ModelDownloadError(
            f"{spec.filename} is not in {spec.repo_id} any more. " + _manual_hint(spec, folder)) from exc
    except OSError as exc:
        # Connection errors of the HTTP client are OSErrors; so are a full disk and a read-only folder.
        raise ModelDownloadError(
            f"downloading {spec.name} from {spec.repo_id} failed: {exc}. "
            + _manual_hint(spec, folder)) from exc
    except Exception as exc:  # noqa: BLE001 - the HTTP client's own errors: report, never crash the GUI
        raise ModelDownloadError(
            f"downloading {spec.name} from {spec.repo_id} failed ({type(exc).__name__}: {exc}). "
            + _manual_hint(spec, folder)) from exc
    log.info("downloaded %s (%d bytes)", path, path.stat().st_size)
    return path


def _fetch(hub: types.ModuleType, spec: ModelSpec, folder: Path, token: str | bool | None,
           progress: Progress | None) -> Path:
    """Metadata, then the bytes into ``.partial/<file>.<etag>.part`` from where an earlier attempt
    stopped, then a size (and, for LFS files, SHA-256) check and the rename to the final name.

    ``hf_hub_download`` is not used: recent clients delete their partial file on any failure, a cancel
    included, so a 3.5 GB download interrupted at 90 % would start over."""
    from huggingface_hub.file_download import http_get

    endpoint = os.environ.get("HF_ENDPOINT", HUB_URL).rstrip("/")
    url = hub.hf_hub_url(spec.repo_id, spec.filename, endpoint=endpoint)
    meta = hub.get_hf_file_metadata(url, token=token)
    etag = re.sub(r"[^A-Za-z0-9]", "", meta.etag or "") or "noetag"
    parts = folder / PARTIAL_DIR
    parts.mkdir(parents=True, exist_ok=True)
    part = parts / f"{spec.filename}.{etag[:64]}.part"
    for stale in parts.glob(f"{spec.filename}.*.part"):
        if stale != part:  # an older version of the file on the Hub: its bytes cannot be resumed
            stale.unlink(missing_ok=True)
    resume = part.stat().st_size if part.is_file() else 0
    if meta.size is not None and resume > meta.size:
        part.unlink()
        resume = 0
    if resume:
        log.info("resuming %s at %d of %s bytes", spec.filename, resume, meta.size)
    kwargs: dict[str, object] = {"resume_size": resume, "headers": hub.utils.build_hf_headers(token=token),
                                 "expected_size": meta.size, "displayed_filename": spec.filename}
    if progress is not None and "tqdm_class" in inspect.signature(http_get).parameters:
        kwargs["tqdm_class"] = _progress_tqdm(progress)  # older clients download without progress
    with part.open("ab") as out:
        http_get(meta.location or url, out, **kwargs)
    if meta.size is not None and part.stat().st_size != meta.size:
        raise ModelDownloadError(f"{spec.filename}: got {part.stat().st_size} of {meta.size} bytes; "
                                 "try again (the download resumes)")
    if re.fullmatch(r"[0-9a-f]{64}", etag) and _sha256(part) != etag:
        part.unlink()  # corrupted bytes cannot be resumed into a good file
        raise ModelDownloadError(f"{spec.filename} arrived damaged (SHA-256 differs from the Hub's); "
                                 "try again")
    target = folder / spec.filename
    os.replace(part, target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _candidate_files(folder: Path) -> list[Path]:
    # The folder itself and one level of sub-folders (people keep "sam2.1/", "sam3/" folders).
    files = [p for p in folder.iterdir() if p.is_file()]
    for sub in folder.iterdir():
        if sub.is_dir() and not sub.name.startswith("."):
            files.extend(p for p in sub.iterdir() if p.is_file())
    return sorted(p for p in files if p.suffix.lower() in CHECKPOINT_SUFFIXES)


def scan_models_dir(folder: Path | None = None) -> list[tuple[Path, str]]:
    """Checkpoints in the models folder with the registry name detected from their contents.

    Files that are not a recognised checkpoint are logged and left out, never deleted.
    """
    folder = folder or models_dir()
    if not folder.is_dir():
        return []
    from sam3core.sam.checkpoint import detect_model_name

    found: list[tuple[Path, str]] = []
    for path in _candidate_files(folder):
        try:
            found.append((path, detect_model_name(path)))
        except Exception as exc:  # noqa: BLE001 - one bad file must not hide the others
            log.warning("skipping %s: %s", path, exc)
    return found
