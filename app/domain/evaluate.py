"""Score a project's masks against DAVIS ground truth (J, F, J&F per object), one frame at a time.

By default this is the official DAVIS 2017 semi-supervised protocol, as ``davis2017-evaluation``
computes it (checked number for number against that toolkit in tests/test_consumers.py):

- the ground-truth frames are the PNGs of the sequence folder in name order; the first and the last
  are not scored (the first holds the prompt);
- pixel value 255 is void: never an object. The toolkit's semi-supervised evaluation then scores
  those pixels as background (it reads the void mask but does not hand it to the measures), and so
  do we by default; ``void="ignore"`` leaves them out of J and F, as the toolkit's measures do when
  given void pixels;
- the objects are those on the first ground-truth frame (objects appearing later are not scored);
- the prediction is the label map that ``masklet export --format davis`` writes with the same
  overlap rule (default: the higher id wins), i.e. what the toolkit would read from our export.

DAVIS 2016 masks hold only 0 and 255. Read as the 2017 toolkit reads them, every pixel is void and
no object is left to score; rather than print a meaningless result we stop and say so, and
``binary_gt=True`` reads any non-zero pixel as object 1 (the DAVIS 2016 protocol, one object).

The measures are :mod:`sam3core.eval.metrics`' (DAVIS definitions); frames are streamed so a long video
never has all its label maps in memory. A frame without a stored mask is an empty prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from app.domain.export_common import Progress
from app.domain.export_davis import read_id_map
from app.domain.export_labels import OverlapTally, check_rule, paint_labels
from app.domain.importers import ImportFormatError, davis_sequence_folder, frame_number, read_davis_labels
from app.domain.project import Project
from sam3core.eval.metrics import ObjectScores, SequenceScores, boundary_f_measure, region_similarity

VOID = 255
VOID_MODES = ("background", "ignore", "object")
OBJECT_SETS = ("first-frame", "all-frames")
# How overlapping predicted masks are scored: as the DAVIS export paints them, or None (each on its own).
EVAL_OVERLAPS = ("higher-id", "lower-id", "smaller-on-top", None)


@dataclass
class Evaluation(SequenceScores):
    """Scores plus what the protocol decided (frames scored, objects left out), for the report."""

    frames: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_gt_labels(file: Path, *, binary: bool = False) -> np.ndarray:
    """Raw pixel values of a ground-truth PNG (indexed or greyscale as stored; a colour PNG through
    the DAVIS palette). Unlike import, a 0/255 greyscale mask stays 0/255 (void, as the toolkit reads
    it) unless ``binary``, which makes any non-zero pixel object 1."""
    try:
        with Image.open(file) as image:
            labels = np.asarray(image) if image.mode in ("P", "L") else None
    except OSError as exc:
        raise ImportFormatError(f"{file}: cannot be read as an image ({exc})") from exc
    if labels is None:
        labels = read_davis_labels(file)
    return (labels > 0).astype(np.uint8) if binary else labels


def _gt_files(folder: Path, project: Project) -> list[tuple[int, Path]]:
    files = []
    for file in sorted(folder.iterdir(), key=lambda p: p.name):
        frame = frame_number(file.name) if file.suffix.lower() == ".png" else None
        if frame is None:
            continue
        if not 0 <= frame < project.num_frames:
            raise ImportFormatError(f"{file}: frame number outside the video's 0..{project.num_frames - 1}")
        files.append((frame, file))
    if not files:
        raise ImportFormatError(f"{folder}: holds no numbered ground-truth PNGs")
    return files


def looks_binary(gt_dir: str | Path, project: Project, *, max_files: int = 20) -> bool:
    """True when the ground truth looks like DAVIS 2016 masks: the first non-empty PNG holds only 0 and
    255. Cheap (a few PNGs, no full pass) so a dialog can ask before scoring; False where the folder
    cannot be read at all (evaluating it then says why)."""
    try:
        files = _gt_files(davis_sequence_folder(Path(gt_dir), project), project)
        for _, file in files[:max_files]:
            values = set(np.unique(read_gt_labels(file)).tolist())
            if values - {0}:
                return values == {0, VOID}
    except (ImportFormatError, OSError):
        return False
    return False


def evaluate_project(project: Project, gt_dir: str | Path, *, progress: Progress = None,
                     bound_th: float = 0.008, keep_first_last: bool = False, void: str = "background",
                     objects: str = "first-frame", binary_gt: bool = False,
                     overlap: str | None = "higher-id") -> Evaluation:
    """J and F per object. The defaults are the official protocol (module docstring); the options are
    the departures from it: ``keep_first_last`` scores every ground-truth frame, ``void`` "ignore"
    leaves 255 pixels out and "object" scores 255 as an object, ``objects`` "all-frames" scores every
    object of any ground-truth frame, ``binary_gt`` reads 0/255 masks as object 1, and ``overlap``
    None scores each object's stored mask on its own (overlapping objects both keep their pixels)."""
    if void not in VOID_MODES:
        raise ValueError(f"unknown void mode {void!r}; choose one of {', '.join(VOID_MODES)}")
    if objects not in OBJECT_SETS:
        raise ValueError(f"unknown object set {objects!r}; choose one of {', '.join(OBJECT_SETS)}")
    if overlap is not None:
        check_rule(overlap)
    folder = davis_sequence_folder(Path(gt_dir), project)
    files = _gt_files(folder, project)
    # A Masklet DAVIS export renumbers objects 1..N; its id map gives each value its object back.
    id_map = {v: int(e["object_id"]) for v, e in (read_id_map(folder, folder.name) or {}).items()}

    def gt_ids(labels: np.ndarray) -> set[int]:
        return {int(v) for v in np.unique(labels) if v and (v != VOID or void == "object")}

    # First pass: sizes, and which objects the protocol scores (label maps read one at a time).
    first: set[int] = set()
    seen: set[int] = set()
    only_binary = True
    for k, (_, file) in enumerate(files):
        labels = read_gt_labels(file, binary=binary_gt)
        if labels.shape != project.size:
            raise ImportFormatError(f"{file}: size {labels.shape[1]}x{labels.shape[0]} differs from the "
                                    f"video's {project.size[1]}x{project.size[0]}")
        only_binary = only_binary and set(np.unique(labels).tolist()) <= {0, VOID}
        present = gt_ids(labels)
        seen |= present
        if k == 0:
            first = present
    ids = first if objects == "first-frame" else seen
    notes: list[str] = []
    if not ids:
        hint = (" These look like DAVIS 2016 masks (only 0 and 255), which the 2017 protocol reads as "
                "void; --binary-gt reads them as object 1 (the DAVIS 2016 protocol)." if only_binary
                and not binary_gt and void != "object" else "")
        where = "its first frame" if objects == "first-frame" else "any frame"
        raise ImportFormatError(f"{folder}: no object to score on {where} ({files[0][1].name}).{hint}")
    if seen - ids:
        notes.append(f"objects {sorted(seen - ids)} appear only after the first ground-truth frame and are "
                     "not scored (official protocol; --objects all-frames scores them)")
    if sorted(ids) != list(range(1, max(ids) + 1)):
        phantoms = sorted(set(range(1, max(ids) + 1)) - ids)
        notes.append(f"ground-truth ids {sorted(ids)} are not 1..N; davis2017-evaluation would also score "
                     f"the absent ids {phantoms} (as J = F = 1 where the prediction is empty too)")
    if not keep_first_last:
        if len(files) < 3:
            raise ImportFormatError(f"{folder}: the official protocol drops the first and last ground-truth "
                                    "frame and needs 3 or more (--keep-first-last scores all)")
        files = files[1:-1]
    object_of = {v: id_map.get(v, v) for v in sorted(ids)}  # ground-truth value -> object id
    scores = [ObjectScores(object_of[v]) for v in sorted(ids)]
    gt_value = {object_of[v]: v for v in ids}
    values = {o.id: o.id for o in project.objects()}
    tally = OverlapTally(overlap or "higher-id")
    for k, (frame, file) in enumerate(files):
        labels = read_gt_labels(file, binary=binary_gt)
        keep = labels != VOID if void == "ignore" else None
        if overlap is not None:
            painted = paint_labels(project.mask_records(frame), values, project.size, tally, frame=frame,
                                   dtype=np.int64)
            predicted = {i: painted == i for i in gt_value}
        else:
            predicted = project.masks_on_frame(frame)
        for result in scores:
            gt = labels == gt_value[result.obj_id]
            pred = predicted.get(result.obj_id)
            pred = np.zeros(project.size, bool) if pred is None else pred
            if keep is not None:
                gt, pred = gt & keep, pred & keep
            result.j_per_frame.append(region_similarity(pred, gt))
            result.f_per_frame.append(boundary_f_measure(pred, gt, bound_th))
        if progress:
            progress(k + 1, len(files))
    if tally.pixels:
        notes.append(f"prediction: {tally.pixels} overlapping pixel(s) on {tally.frames} scored frame(s) "
                     f"went to one object (--overlap {tally.rule}, as the DAVIS export writes them)")
    return Evaluation(scores, frames=[f for f, _ in files], notes=notes)
