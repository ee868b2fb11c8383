"""First-frame masks from a DAVIS-style folder as mask prompts: the semi-supervised VOS run.

``masklet track VIDEO --masks DIR`` reads indexed PNGs named by frame number (pixel value = object
id, as in DAVIS ``Annotations/480p/<seq>/``; a dataset root or the official layout is accepted) and
turns them into mask prompts, as Meta's ``tools/vos_inference.py`` does before propagating:

- ``first`` (default): the objects of the first PNG (in frame order), on that frame only — the DAVIS
  semi-supervised protocol and ``vos_inference.py``'s default;
- ``appearance``: every object on the first frame it appears (YouTube-VOS, where objects enter
  later; ``vos_inference.py --track_object_appearing_later_in_video``);
- ``all``: every object on every PNG (``vos_inference.py --use_all_masks``).

Pixel value 255 is void (DAVIS), not an object, except in a mask holding only 0 and 255 (a binary,
DAVIS 2016 style mask), which is object 1. A Masklet DAVIS export's ``masklet_ids/<seq>.json`` maps its
renumbered values back to the original object ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.domain.export_common import sequence_name
from app.domain.export_davis import read_id_map
from app.domain.importers import ImportFormatError, find_davis_sequence, frame_number, read_davis_labels
from app.domain.model import Prompt
from app.domain.prompts_file import ObjectSpec, PromptsError

MASK_FRAMES = ("first", "appearance", "all")
VOID = 255


def _labels(file: Path, height: int, width: int) -> np.ndarray:
    try:
        labels = read_davis_labels(file)
    except ImportFormatError as exc:
        raise PromptsError(str(exc)) from exc
    if labels.shape != (height, width):
        raise PromptsError(f"{file}: size {labels.shape[1]}x{labels.shape[0]} differs from the video's "
                           f"{width}x{height}")
    values = set(np.unique(labels).tolist())
    if values <= {0, VOID}:
        return (labels > 0).astype(np.uint8)  # a binary mask: object 1
    return labels


def load_mask_prompts(folder: str | Path, video_path: Path, *, num_frames: int, height: int, width: int,
                      frames: str = "first") -> list[ObjectSpec]:
    """Mask prompts from a DAVIS folder, one :class:`ObjectSpec` per object (see the module docstring)."""
    if frames not in MASK_FRAMES:
        raise PromptsError(f"unknown --mask-frames {frames!r}; choose one of {', '.join(MASK_FRAMES)}")
    try:
        sequence = find_davis_sequence(Path(folder), sequence_name(Path(video_path)))
    except ImportFormatError as exc:
        raise PromptsError(str(exc)) from exc
    files = []
    for file in sequence.iterdir():
        if file.suffix.lower() != ".png":
            continue
        frame = frame_number(file.name)
        if frame is None or not 0 <= frame < num_frames:
            raise PromptsError(f"{file}: frame number outside the video's 0..{num_frames - 1}")
        files.append((frame, file))
    files.sort()
    if not files:
        raise PromptsError(f"{sequence}: holds no numbered mask PNGs")
    id_map = read_id_map(sequence, sequence.name) or {}
    prompts: dict[int, list[Prompt]] = {}
    for k, (frame, file) in enumerate(files):
        labels = _labels(file, height, width)
        for value in np.unique(labels).tolist():
            if value in (0, VOID):
                continue
            obj_id = int(id_map.get(int(value), {}).get("object_id", value))
            if frames == "first" and k > 0:
                continue
            if frames == "appearance" and obj_id in prompts:
                continue
            prompts.setdefault(obj_id, []).append(Prompt(frame, obj_id, mask=labels == value))
        if frames == "first" and not prompts:
            raise PromptsError(f"{file}: the first mask holds no object (pixel values other than 0 and 255)")
    specs = []
    for obj_id in sorted(prompts):
        entry = next((e for e in id_map.values() if e.get("object_id") == obj_id), {})
        name = entry.get("name") if isinstance(entry.get("name"), str) else None
        category = entry.get("category") if isinstance(entry.get("category"), str) else "object"
        specs.append(ObjectSpec(obj_id, name, category, None, tuple(prompts[obj_id])))
    return specs


def merge_specs(first: list[ObjectSpec], second: list[ObjectSpec]) -> list[ObjectSpec]:
    """One spec per object id: prompts of both lists (``first``'s name/category/colour win); two prompts
    of one object on one frame are refused."""
    by_id = {s.id: s for s in first}
    for spec in second:
        old = by_id.get(spec.id)
        if old is None:
            by_id[spec.id] = spec
            continue
        clash = {p.frame for p in old.prompts} & {p.frame for p in spec.prompts}
        if clash:
            raise PromptsError(f"object {spec.id}: a prompt in PROMPTS.json and a mask from --masks on "
                               f"frame(s) {sorted(clash)}; keep one")
        by_id[spec.id] = ObjectSpec(old.id, old.name or spec.name, old.category, old.color,
                                    tuple(sorted(old.prompts + spec.prompts, key=lambda p: p.frame)))
    return [by_id[k] for k in sorted(by_id)]
