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


def read_sidecar(start: Path, file_name: str, sequence: str) -> dict | None:
    """A Masklet sidecar JSON (``file_name``) in ``start`` or up to three folders above it whose
    ``sequence`` is ``sequence``; None when absent, unreadable or for another sequence."""
    for folder in [start, *list(start.parents)[:3]]:
        file = folder / file_name
        if file.is_file():
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            return data if isinstance(data, dict) and data.get("sequence") == sequence else None
    return None
