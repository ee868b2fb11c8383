"""The manifest of ``masklet batch``: JSON Lines, one video per line, all checked before anything runs.

Each line is an object::

    {"video": "clips/cat.mp4", "prompts": "clips/cat.json", "project": "out/cat.masklet"}
    {"video": "clips/dog.mp4", "prompts": {"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [..]}]}]},
     "project": "out/dog.masklet", "model": "sam2.1_hiera_tiny", "checkpoint": "models/sam2.1_hiera_tiny.pt",
     "direction": "both", "device": "auto"}

Keys: ``video`` (file or frame folder) and ``project`` (output; continued if it exists for the same
video) — required; ``prompts`` (a PROMPTS.json path, or that file's content inline) and/or ``masks``
(a DAVIS annotation folder of first-frame masks, as ``masklet track --masks``; ``mask_frames``
first/appearance/all) — at least one; ``model``,
``checkpoint``, ``direction`` (forward/backward/both, default forward), ``device`` (cpu/cuda/mps/auto,
default auto: a GPU where the worker has one) — optional. Relative paths are relative to the
manifest's folder. Blank lines are skipped. Every bad line is reported with its number (exit 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from app.domain.mask_prompts import load_mask_prompts, merge_specs
from app.domain.project import Project, ProjectError
from app.domain.prompts_file import ObjectSpec, PromptsError, load_prompts, parse_prompts
from app.domain.tracking import DIRECTIONS
from sam3core.factory import CLASSICAL, ENGINE_NAMES
from sam3core.video import VideoError, VideoSource

REQUIRED = ("video", "project")
OPTIONAL = ("prompts", "masks", "mask_frames", "model", "checkpoint", "direction", "device")
DEVICES = ("cpu", "cuda", "mps", "auto")


class ManifestError(ValueError):
    """One message per bad line, each starting with ``MANIFEST:LINE:``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class BatchItem:
    line: int
    video: Path
    specs: tuple[ObjectSpec, ...]
    project: Path
    model: str | None
    checkpoint: Path | None
    direction: str
    device: str
    num_frames: int
    engine_name: str       # what the project records as its engine

    @property
    def label(self) -> str:
        return f"{self.line}:{self.video.name}"

    @property
    def planned_frames(self) -> int:
        """Frame results ``track`` stores for this item (prompts, then each propagation run)."""
        prompts = [p for spec in self.specs for p in spec.prompts]
        first, last = min(p.frame for p in prompts), max(p.frame for p in prompts)
        total = len(prompts)
        if self.direction in ("forward", "both"):
            total += self.num_frames - first
        if self.direction in ("backward", "both"):
            total += last + 1
        return total


def _engine_name(model: str | None, checkpoint: Path | None, names: dict[Path, str]) -> str:
    if model:
        return model
    if checkpoint is None:
        return CLASSICAL
    if checkpoint not in names:
        from sam3core.sam.checkpoint import detect_model_name

        names[checkpoint] = detect_model_name(checkpoint)
    return names[checkpoint]


def _parse_line(data: object, base: Path, detected: dict[Path, str], line: int) -> BatchItem:
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object like {\"video\": ..., \"prompts\": ..., \"project\": ...}")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; allowed: {[*REQUIRED, *OPTIONAL]}")
    missing = [repr(k) for k in REQUIRED if k not in data]
    if "prompts" not in data and "masks" not in data:
        missing.append("'prompts' or 'masks'")
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    for key in ("video", "project", "masks", "mask_frames", "model", "checkpoint", "direction", "device"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise ValueError(f"{key!r} must be a string, got {data[key]!r}")
    video = (base / data["video"]).resolve()
    try:
        with VideoSource(video) as source_video:
            num_frames, height, width = source_video.num_frames, source_video.height, source_video.width
    except VideoError as exc:
        raise ValueError(str(exc)) from exc
    size = {"num_frames": num_frames, "height": height, "width": width}
    prompts = data.get("prompts")
    if prompts is None:
        specs = []
    elif isinstance(prompts, str):
        specs = load_prompts(base / prompts, **size)
    elif isinstance(prompts, dict):
        specs = parse_prompts(prompts, **size, source="inline prompts")
    else:
        raise ValueError("'prompts' must be a PROMPTS.json path or that file's {\"objects\": [...]} inline")
    if data.get("masks"):  # first-frame masks, as `masklet track --masks`
        masks = load_mask_prompts(base / data["masks"], video, frames=data.get("mask_frames") or "first",
                                  **size)
        specs = merge_specs(specs, masks)
    if not specs:
        raise ValueError("no prompts: 'prompts' and 'masks' hold no object")
    project = (base / data["project"]).resolve()
    if project.suffix != ".masklet":
        raise ValueError(f"project {project.name!r} must end in .masklet")
    if not project.parent.is_dir():
        raise ValueError(f"project folder {project.parent} does not exist")
    if project.exists():
        # Read-only: a bad manifest changes nothing; another video, a foreign or newer file is refused.
        with Project.open(project, video_path=video, read_only="checking a batch manifest"):
            pass
    model = data.get("model")
    if model is not None and model not in ENGINE_NAMES:
        raise ValueError(f"unknown model {model!r}; choose one of: {', '.join(ENGINE_NAMES)}")
    checkpoint = (base / data["checkpoint"]).resolve() if data.get("checkpoint") else None
    if checkpoint is not None and not checkpoint.is_file():
        raise ValueError(f"checkpoint {checkpoint}: no such file")
    if model not in (None, CLASSICAL) and checkpoint is None:
        raise ValueError(f"model {model!r} needs a 'checkpoint' (its weights)")
    direction = data.get("direction") or "forward"
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {list(DIRECTIONS)}, got {direction!r}")
    device = data.get("device") or "auto"
    if device not in DEVICES:
        raise ValueError(f"device must be one of {list(DEVICES)}, got {device!r}")
    name = _engine_name(model, checkpoint, detected)
    return BatchItem(line, video, tuple(specs), project, model, checkpoint, direction, device, num_frames,
                     name)


def load_manifest(path: str | Path) -> list[BatchItem]:
    """Every item of the manifest, or :class:`ManifestError` listing every bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError([f"{path}: cannot be read ({exc})"]) from exc
    base = path.resolve().parent
    items: list[BatchItem] = []
    problems: list[str] = []
    projects: dict[Path, int] = {}
    detected: dict[Path, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not valid JSON (column {exc.colno}: {exc.msg})")
            continue
        try:
            item = _parse_line(data, base, detected, number)
        except (ValueError, PromptsError, ProjectError, OSError) as exc:
            problems.append(f"{where}: {exc}")
            continue
        if item.project in projects:
            problems.append(f"{where}: project {item.project} is also the output of line "
                            f"{projects[item.project]}; each item needs its own project")
            continue
        projects[item.project] = number
        items.append(item)
    if not items and not problems:
        problems.append(f"{path}: no items (one JSON object per line)")
    if problems:
        raise ManifestError(problems)
    return items
