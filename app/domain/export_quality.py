"""Provenance, confidence and review state in exports, and the reviewed-only view. Qt-free.

The exporters call these helpers so a dataset can tell frames a person made or checked from frames a
machine made (docs/formats.md, "Provenance in exports"):

- COCO: each annotation gets flat ``attributes`` (CVAT style: scalars only).
- YouTube-VIS: each annotation gets per-frame lists ``provenance``, ``confidences`` and ``reviewed``
  beside ``segmentations`` (``null`` where the object has no mask).
- DAVIS: a sidecar ``Provenance/<video>.json`` beside ``Annotations/`` (never inside the PNG folders,
  which readers list as frames).

:class:`ReviewedOnly` wraps a Project for ``masklet export --reviewed-only``: it shows only masks with
a current review, and frames are exported only where every stored mask is reviewed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from app.domain.project import Project
from app.domain.quality import MaskInfo, Review
from app.domain.review import current_reviews, mask_infos
from app.domain.rle import MaskRecord


class ReviewedOnly:
    """A read-only view of ``project`` holding only the masks a person reviewed (and that are unchanged
    since). Everything else is the project's own (``__getattr__`` forwards)."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._reviews = current_reviews(project)
        stored: dict[int, list[int]] = {}
        with project.sql() as conn:
            for frame, obj_id in conn.execute("SELECT frame, obj_id FROM masks ORDER BY frame"):
                stored.setdefault(int(frame), []).append(int(obj_id))
        # a frame counts as reviewed only when none of its stored masks is unreviewed
        self.frames = [f for f, ids in stored.items() if all((f, o) in self._reviews for o in ids)]

    def __getattr__(self, name: str) -> object:
        return getattr(self._project, name)

    @property
    def project(self) -> Project:
        return self._project

    def mask_records(self, frame: int) -> list[MaskRecord]:
        return [r for r in self._project.mask_records(frame) if (frame, r.obj_id) in self._reviews]

    def mask_record(self, frame: int, obj_id: int) -> MaskRecord | None:
        return self._project.mask_record(frame, obj_id) if (frame, obj_id) in self._reviews else None

    def masks_on_frame(self, frame: int) -> dict[int, np.ndarray]:
        return {r.obj_id: r.decode() for r in self.mask_records(frame)}

    def mask(self, frame: int, obj_id: int) -> np.ndarray | None:
        record = self.mask_record(frame, obj_id)
        return None if record is None else record.decode()


def base_project(project: Project | ReviewedOnly) -> Project:
    return project.project if isinstance(project, ReviewedOnly) else project


def export_frames(project: Project | ReviewedOnly) -> Iterable[int]:
    """The frames an exporter writing one file per frame (DAVIS) should write."""
    return project.frames if isinstance(project, ReviewedOnly) else range(project.num_frames)


class ProvenanceReader:
    """Provenance, confidence and reviews of a project's masks, read frame by frame or object by object
    (never all 10^5 records at once)."""

    def __init__(self, project: Project | ReviewedOnly) -> None:
        self.project = base_project(project)
        self.reviews: dict[tuple[int, int], Review] = current_reviews(self.project)
        self._frame = -1
        self._frame_infos: dict[int, MaskInfo] = {}

    def info(self, frame: int, obj_id: int) -> MaskInfo | None:
        if frame != self._frame:
            self._frame = frame
            self._frame_infos = {i.obj_id: i for i in mask_infos(self.project, frame=frame)}
        return self._frame_infos.get(obj_id)

    def record(self, frame: int, obj_id: int, info: MaskInfo | None = None) -> dict:
        """Everything known about one mask, as JSON (``kind`` "unknown" for masks of older projects)."""
        info = info if info is not None else self.info(frame, obj_id)
        out = info.as_json() if info is not None else {"kind": "unknown"}
        review = self.reviews.get((frame, obj_id))
        out["reviewed"] = None if review is None else review.verdict
        out["reviewed_at"] = None if review is None else review.at
        return out

    def coco_attributes(self, frame: int, obj_id: int) -> dict:
        """Flat attributes of one COCO annotation (scalars only, as CVAT writes them)."""
        rec = self.record(frame, obj_id)
        human = rec["kind"] in ("prompted", "painted", "imported")
        return {"source": rec["kind"], "human": human or rec["reviewed"] is not None,
                "engine": rec.get("engine"), "model": rec.get("model"),
                "source_frame": rec.get("source_frame"), "created": rec.get("at"),
                # not "confidence": FiftyOne flattens these onto its Detection, whose own
                # confidence field it already fills, and refuses the file (tests/test_consumers.py)
                "mask_confidence": rec.get("confidence"), "predicted_iou": rec.get("predicted_iou"),
                "object_score": rec.get("object_score"), "reviewed": rec["reviewed"]}

    def ytvis_fields(self, obj_id: int, total: int, present: list[bool]) -> str:
        """``"provenance":[...],"confidences":[...],"reviewed":[...]`` for one YouTube-VIS annotation
        (``null`` on frames where ``present`` is False, like its ``segmentations``)."""
        infos = {i.frame: i for i in mask_infos(self.project, obj_id=obj_id)}
        provenance, confidences, reviewed = [], [], []
        for frame in range(total):
            if not present[frame]:
                provenance.append(None)
                confidences.append(None)
                reviewed.append(None)
                continue
            rec = self.record(frame, obj_id, infos.get(frame))
            provenance.append({k: v for k, v in rec.items() if k not in ("confidence",)})
            confidences.append(rec.get("confidence"))
            reviewed.append(rec["reviewed"])
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        return (f'"provenance":{dumps(provenance)},"confidences":{dumps(confidences)},'
                f'"reviewed":{dumps(reviewed)}')


def write_davis_sidecar(project: Project | ReviewedOnly, out: Path, sequence: str,
                        frames: Iterable[int]) -> Path:
    """``out/Provenance/<sequence>.json``: per written frame and object, who made the mask and whether
    a person reviewed it (absent objects are listed too: an empty mask is a claim). Streamed."""
    reader = ProvenanceReader(project)
    objects = {str(o.id): {"name": o.name, "category": o.category} for o in project.objects()}
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    folder = out / "Provenance"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sequence}.json"
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"format":"masklet-provenance-1","sequence":' + dumps(sequence) + ',"objects":'
                 + dumps(objects) + ',"frames":[')
        for k, frame in enumerate(frames):
            entry = {}
            for record in project.mask_records(frame):
                rec = reader.record(frame, record.obj_id)
                rec["present"] = record.area > 0
                entry[str(record.obj_id)] = rec
            fh.write(("," if k else "") + "\n" + dumps({"frame": frame, "file": f"{frame:05d}.png",
                                                        "objects": entry}))
        fh.write("]}\n")
    return path
