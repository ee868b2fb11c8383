"""One place to find the files shipped in ``resources/``, from a source checkout, an installed wheel
or a PyInstaller build.

PyInstaller unpacks data files under ``sys._MEIPASS`` (the spec in packaging/ copies ``resources/`` to
``<_MEIPASS>/resources``); everywhere else ``resources/`` sits beside the ``app`` package.
"""

from __future__ import annotations

import sys
from pathlib import Path

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
SAMPLE_DIR = "sample"
SAMPLE_VIDEO = f"{SAMPLE_DIR}/sample.mp4"
SAMPLE_PROMPTS = f"{SAMPLE_DIR}/prompts.json"


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def resources_root() -> Path:
    """The folder holding the shipped resources."""
    if is_frozen():
        return Path(sys._MEIPASS) / "resources"  # type: ignore[attr-defined]
    return Path(__file__).resolve().parents[1] / "resources"


def resource_path(name: str) -> Path:
    """Absolute path of ``resources/<name>``; a missing file is a clear error naming where it looked."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"resource name must be relative to resources/: {name!r}")
    path = resources_root() / relative
    if not path.exists():
        raise FileNotFoundError(f"resource {name!r} is missing: looked for {path} (broken install?)")
    return path


def sample_video_path() -> Path:
    """The bundled sample clip, made by sam3core.eval.synthetic (see resources/sample/README.md)."""
    return resource_path(SAMPLE_VIDEO)


def sample_prompts_path() -> Path:
    """``masklet track`` prompts for the sample clip: one click inside each object on frame 0."""
    return resource_path(SAMPLE_PROMPTS)


def app_icon_path(size: int | None = None) -> Path:
    """The application icon: the SVG for ``None``, else the nearest PNG at least ``size`` pixels wide."""
    if size is None:
        return resource_path("icons/masklet.svg")
    if size <= 0:
        raise ValueError(f"icon size must be positive, got {size}")
    chosen = next((s for s in ICON_SIZES if s >= size), ICON_SIZES[-1])
    return resource_path(f"icons/masklet-{chosen}.png")
