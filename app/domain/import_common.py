"""What a format parser hands to the importer: objects and per-frame masks, checked but not yet stored.

Parsers (MOTS, YOLO) read and check a whole file set first and return :class:`ParsedAnnotations`;
:func:`app.domain.importers.import_parsed` then writes it in one transaction, so a malformed line
anywhere changes nothing.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from app.domain import rle


class ParseError(ValueError):
    """Malformed annotations; the message names the file (and line). Importers re-raise it as
    :class:`app.domain.importers.ImportFormatError`."""


@dataclass
class ParsedObject:
    obj_id: int
    category: str = "object"
    name: str | None = None


@dataclass
class ParsedAnnotations:
    objects: dict[int, ParsedObject] = field(default_factory=dict)
    frames: set[int] = field(default_factory=set)          # frames the file annotates (absent = empty)
    masks: list[tuple[int, int, bytes]] = field(default_factory=list)  # (frame, obj_id, compressed counts)
    skipped: dict[str, int] = field(default_factory=dict)  # read but not imported (ignore regions)


def frame_of(name: str) -> int | None:
    """The last number in a file name's stem (``000012.png`` -> 12, ``walk_00003.txt`` -> 3)."""
    digits = re.findall(r"\d+", Path(name).stem)
    return int(digits[-1]) if digits else None


def check_rle_counts(counts: str, height: int, width: int, where: str) -> bytes:
    """A compressed COCO RLE string, checked before pycocotools sees it (its decoder trusts the runs
    and writes past the mask when they add up to more than H x W), with :mod:`app.domain.rle`'s
    checks: characters, a truncated run, negative runs, the total."""
    try:
        rle.check_runs(rle.compressed_runs(counts), height, width)
    except ValueError as exc:
        raise ParseError(f"{where}: {exc}") from exc
    return counts.encode("ascii")


def finite_numbers(fields: list[str], where: str) -> list[float]:
    try:
        values = [float(v) for v in fields]
    except ValueError as exc:
        raise ParseError(f"{where}: not a number ({exc})") from exc
    if not all(math.isfinite(v) for v in values):
        raise ParseError(f"{where}: NaN or infinite coordinate")
    return values


def read_sidecar(start: Path, folder_name: str, sequence: str) -> dict | None:
    """A Masklet sidecar ``<folder_name>/<sequence>.json`` (one per sequence, so that several exports
    can share a dataset root) in ``start`` or up to three folders above it; None when absent,
    unreadable or for another sequence."""
    for folder in [start, *list(start.parents)[:3]]:
        file = folder / folder_name / f"{sequence}.json"
        if file.is_file():
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            return data if isinstance(data, dict) and data.get("sequence") == sequence else None
    return None


def _unquote(text: str) -> str:
    text = text.strip()
    if text.startswith('"'):
        try:
            end = json.JSONDecoder().raw_decode(text)  # a JSON / YAML double-quoted string
            if isinstance(end[0], str):
                return end[0]
        except ValueError:
            pass
    text = text.split(" #")[0].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def read_names(yaml_file: Path) -> dict[int, str]:
    """``names`` of a YOLO data.yaml: ``names: [a, b]``, a block list ``- a`` or a mapping ``0: a``.
    (A small reader for this one key: the project has no YAML dependency.)"""
    try:
        lines = yaml_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"{yaml_file}: cannot be read ({exc})") from exc
    names: dict[int, str] = {}
    for i, line in enumerate(lines):
        match = re.match(r"^names\s*:\s*(.*)$", line)
        if not match:
            continue
        rest = match.group(1).strip()
        if rest.startswith("["):
            items = rest.strip("[]").split(",")
            return {k: _unquote(v) for k, v in enumerate(items) if v.strip()}
        for sub in lines[i + 1:]:
            if not sub.strip() or sub.lstrip().startswith("#"):
                continue
            if not sub.startswith((" ", "\t")):
                break
            item = sub.strip()
            if item.startswith("-"):
                names[len(names)] = _unquote(item[1:])
            elif re.match(r"^\d+\s*:", item):
                key, value = item.split(":", 1)
                names[int(key)] = _unquote(value)
        return names
    return names
