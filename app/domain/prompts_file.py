"""The PROMPTS.json file of ``masklet track``: parsed and checked completely before any work starts.

Format (coordinates in original video pixels, x right, y down; frames count from 0)::

    {"objects": [
      {"id": 1, "name": "left child", "category": "person",
       "prompts": [{"frame": 0, "points": [[210, 350], [250, 220]], "labels": [1, 1]},
                   {"frame": 150, "points": [[82, 410]], "labels": [0]}]},
      {"id": 4, "name": "right child", "category": "person",
       "prompts": [{"frame": 0, "box": [300, 0, 500, 400], "points": [[460, 60]], "labels": [1]}]}
    ]}

Object keys: ``id`` (required, positive integer, unique), ``name``, ``category``, ``color`` ("#rrggbb"),
``prompts`` (required, non-empty). Prompt keys: ``frame`` (required), ``points`` + ``labels``
(1 = on the object, 0 = not on it; same length), ``box`` ([x0, y0, x1, y1], x0 < x1, y0 < y1), or
``mask`` (a PNG file, relative to the prompts file's folder: see :func:`read_mask_file`); a prompt
needs points or a box, or a mask alone, and an object at most one prompt per frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from app.domain.jsonfile import read_json
from app.domain.model import MAX_OBJECT_ID, Prompt
from sam3core.errors import PromptError
from sam3core.validate import check_prompt

OBJECT_KEYS = {"id", "name", "category", "color", "prompts"}
PROMPT_KEYS = {"frame", "points", "labels", "box", "mask"}


class PromptsError(ValueError):
    """A malformed prompts file; the message names the file, object and prompt."""


@dataclass(frozen=True)
class ObjectSpec:
    id: int
    name: str | None
    category: str
    color: str | None
    prompts: tuple[Prompt, ...]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def load_prompts(path: str | Path, *, num_frames: int, height: int, width: int) -> list[ObjectSpec]:
    path = Path(path)
    data = read_json(path, PromptsError)
    return parse_prompts(data, num_frames=num_frames, height=height, width=width, source=str(path),
                         base=path.parent)


def read_mask_file(file: Path, obj_id: int, height: int, width: int, where: str) -> np.ndarray:
    """(H, W) bool mask prompt from a PNG: the pixels equal to ``obj_id`` when the image holds several
    values (a DAVIS label map), else every non-zero pixel (a binary mask, 0/1 or 0/255)."""
    try:
        with Image.open(file) as image:
            if (image.height, image.width) != (height, width):  # from the header, before decoding
                raise PromptsError(f"{where}: mask {file} is {image.width}x{image.height}, the video "
                                   f"{width}x{height}")
            values = np.asarray(image if image.mode in ("P", "L", "1", "I", "I;16") else image.convert("L"))
    except PromptsError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PromptsError(f"{where}: mask {file} cannot be read as an image ({exc})") from exc
    if values.ndim != 2:
        raise PromptsError(f"{where}: mask {file} is not a single-channel image")
    present = [int(v) for v in np.unique(values) if v]
    if len(present) > 1:
        if obj_id not in present:
            raise PromptsError(f"{where}: mask {file} holds values {present} but not the object's id "
                               f"{obj_id}")
        mask = values == obj_id
    else:
        mask = values != 0
    if not mask.any():
        raise PromptsError(f"{where}: mask {file} is empty")
    return mask


def parse_prompts(data: object, *, num_frames: int, height: int, width: int,
                  source: str = "prompts", base: Path | None = None) -> list[ObjectSpec]:
    if not isinstance(data, dict):
        raise PromptsError(f'{source}: the top level must be an object {{"objects": [...]}}')
    unknown = set(data) - {"objects"}
    if unknown:
        raise PromptsError(f"{source}: unknown top-level key(s) {sorted(unknown)}; only 'objects' is allowed")
    objects = data.get("objects")
    if not isinstance(objects, list) or not objects:
        raise PromptsError(f"{source}: 'objects' must be a non-empty list")
    specs: list[ObjectSpec] = []
    seen: set[int] = set()
    for index, obj in enumerate(objects):
        spec = _parse_object(obj, index, num_frames, height, width, source, base or Path("."))
        if spec.id in seen:
            raise PromptsError(f"{source}: object {spec.id} appears twice; ids must be unique")
        seen.add(spec.id)
        specs.append(spec)
    return specs


def _parse_object(obj: object, index: int, num_frames: int, height: int, width: int,
                  source: str, base: Path) -> ObjectSpec:
    where = f"{source}: objects[{index}]"
    if not isinstance(obj, dict):
        raise PromptsError(f"{where}: must be an object with 'id' and 'prompts'")
    obj_id = obj.get("id")
    if not isinstance(obj_id, int) or isinstance(obj_id, bool) or not 1 <= obj_id <= MAX_OBJECT_ID:
        raise PromptsError(f"{where}: 'id' must be a positive integer (at most {MAX_OBJECT_ID}), "
                           f"got {_short(obj_id)}")
    name = obj.get("name")
    where = f"{source}: object {obj_id}" + (f" ({name})" if isinstance(name, str) else "")
    unknown = set(obj) - OBJECT_KEYS
    if unknown:
        raise PromptsError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(OBJECT_KEYS)}")
    for key in ("name", "category"):
        if key in obj and not isinstance(obj[key], str):
            raise PromptsError(f"{where}: '{key}' must be a string")
    color = obj.get("color")
    if color is not None and not (isinstance(color, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", color)):
        raise PromptsError(f"{where}: 'color' must look like \"#rrggbb\", got {color!r}")
    prompts = obj.get("prompts")
    if not isinstance(prompts, list) or not prompts:
        raise PromptsError(f"{where}: 'prompts' must be a non-empty list")
    parsed: list[Prompt] = []
    for k, prompt in enumerate(prompts):
        parsed.append(_parse_prompt(prompt, obj_id, f"{where}, prompt {k}", num_frames, height, width, base))
    frames = [p.frame for p in parsed]
    duplicate = next((f for f in frames if frames.count(f) > 1), None)
    if duplicate is not None:
        raise PromptsError(f"{where}: two prompts on frame {duplicate}; merge them into one")
    return ObjectSpec(obj_id, name, obj.get("category", "object"), color,
                      tuple(sorted(parsed, key=lambda p: p.frame)))


def _parse_prompt(prompt: object, obj_id: int, where: str, num_frames: int, height: int,
                  width: int, base: Path) -> Prompt:
    if not isinstance(prompt, dict):
        raise PromptsError(f"{where}: must be an object with 'frame' and 'points'/'labels' and/or 'box', "
                           "or 'mask'")
    frame = prompt.get("frame")
    if not isinstance(frame, int) or isinstance(frame, bool):
        raise PromptsError(f"{where}: 'frame' must be an integer, got {_short(frame)}")
    where = f"{where} (frame {frame})"
    unknown = set(prompt) - PROMPT_KEYS
    if unknown:
        raise PromptsError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(PROMPT_KEYS)}")
    if not 0 <= frame < num_frames:
        raise PromptsError(f"{where}: frame outside the video's 0..{num_frames - 1}")
    points, labels, box = prompt.get("points"), prompt.get("labels"), prompt.get("box")
    if "mask" in prompt:
        if points is not None or labels is not None or box is not None:
            raise PromptsError(f"{where}: a 'mask' prompt cannot also have points or a box (the engine "
                               "takes a mask on its own); put them on another frame")
        file = prompt["mask"]
        if not isinstance(file, str) or not file:
            raise PromptsError(f"{where}: 'mask' must be the path of a PNG file, got {file!r}")
        path = base / file
        if not path.is_file():
            raise PromptsError(f"{where}: mask file {path} does not exist")
        return Prompt(frame, obj_id, mask=read_mask_file(path, obj_id, height, width, where))
    if points is None and box is None:
        raise PromptsError(f"{where}: needs 'points' with 'labels', a 'box', or a 'mask'")
    if (points is None) != (labels is None):
        raise PromptsError(f"{where}: 'points' and 'labels' go together")
    if points is not None:
        if not isinstance(points, list) or not isinstance(labels, list):
            raise PromptsError(f"{where}: 'points' and 'labels' must be lists")
        if len(points) != len(labels):
            raise PromptsError(f"{where}: {len(points)} points but {len(labels)} labels")
        for j, (point, label) in enumerate(zip(points, labels)):
            if not (isinstance(point, list) and len(point) == 2 and all(_is_number(v) for v in point)):
                raise PromptsError(f"{where}: point {j} must be [x, y] numbers, got {_short(point)}")
            if label not in (0, 1) or isinstance(label, bool):
                raise PromptsError(f"{where}: label {j} must be 1 (object) or 0 (not object), got {label!r}")
    if box is not None and not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)):
        raise PromptsError(f"{where}: 'box' must be [x0, y0, x1, y1] numbers, got {_short(box)}")
    try:
        # The same check as the GUI, the project store and the engines (sam3core.validate).
        checked = check_prompt(points or None, labels or None, box, width=width, height=height)
    except PromptError as exc:
        raise PromptsError(f"{where}: {exc}") from exc
    parsed_points = tuple((float(x), float(y)) for x, y in checked.points.tolist())
    parsed_labels = tuple(int(v) for v in checked.labels.tolist())
    parsed_box = None if checked.box is None else tuple(float(v) for v in checked.box.tolist())
    return Prompt(frame, obj_id, parsed_points, parsed_labels, parsed_box)  # type: ignore[arg-type]
