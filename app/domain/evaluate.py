"""Score a project's masks against DAVIS ground truth (J, F, J&F per object), one frame at a time.

The measures are :mod:`sam3core.eval.metrics`' (DAVIS definitions); frames are streamed so a long video
never has all its label maps in memory. Objects are those present in the ground truth; a frame
without a stored mask counts as an empty prediction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.domain.export_common import Progress
from app.domain.importers import ImportFormatError, davis_sequence_folder, frame_number, read_davis_labels
from app.domain.project import Project
from sam3core.eval.metrics import ObjectScores, SequenceScores, boundary_f_measure, region_similarity


def evaluate_project(project: Project, gt_dir: str | Path, *, progress: Progress = None,
                     bound_th: float = 0.008, exclude_first_last: bool = False) -> SequenceScores:
    """J and F per object over the annotated frames; ``exclude_first_last`` drops the first and last
    annotated frame, as the official DAVIS semi-supervised protocol does (the first holds the prompt)."""
    folder = davis_sequence_folder(Path(gt_dir), project)
    files = []
    for file in folder.iterdir():
        frame = frame_number(file.name) if file.suffix.lower() == ".png" else None
        if frame is None:
            continue
        if not 0 <= frame < project.num_frames:
            raise ImportFormatError(f"{file}: frame number outside the video's 0..{project.num_frames - 1}")
        files.append((frame, file))
    files.sort()
    if not files:
        raise ImportFormatError(f"{folder}: holds no numbered ground-truth PNGs")
    # First pass: which objects the ground truth holds (reading label maps one at a time).
    ids: set[int] = set()
    for _, file in files:
        labels = read_davis_labels(file)
        if labels.shape != project.size:
            raise ImportFormatError(f"{file}: size {labels.shape[1]}x{labels.shape[0]} differs from the "
                                    f"video's {project.size[1]}x{project.size[0]}")
        ids.update(int(v) for v in np.unique(labels) if v)
    if exclude_first_last:
        if len(files) < 3:
            raise ImportFormatError(f"{folder}: excluding the first and last frame needs 3 or more frames")
        files = files[1:-1]
    scores = [ObjectScores(obj_id) for obj_id in sorted(ids)]
    empty = np.zeros(project.size, bool)
    for k, (frame, file) in enumerate(files):
        labels = read_davis_labels(file)
        predicted = project.masks_on_frame(frame)
        for result in scores:
            gt = labels == result.obj_id
            pred = predicted.get(result.obj_id, empty)
            result.j_per_frame.append(region_similarity(pred, gt))
            result.f_per_frame.append(boundary_f_measure(pred, gt, bound_th))
        if progress:
            progress(k + 1, len(files))
    return SequenceScores(scores)
