"""``masklet status PROJECT``: coverage, provenance, doubtful and reviewed frames per object. Qt-free."""

from __future__ import annotations

from app.domain.project import Project
from app.domain.quality import KINDS
from app.domain.review import ObjectTally, tallies


def _frames_text(frames: list[int], limit: int = 12) -> str:
    """Compact frame list: runs as a-b, at most ``limit`` items."""
    runs: list[str] = []
    start = prev = None
    for f in frames:
        if prev is not None and f == prev + 1:
            prev = f
            continue
        if start is not None:
            runs.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = f
    if start is not None:
        runs.append(str(start) if start == prev else f"{start}-{prev}")
    return ", ".join(runs[:limit]) + (f", … ({len(runs) - limit} more runs)" if len(runs) > limit else "")


def status_data(project: Project, threshold: float) -> dict:
    objects = tallies(project, threshold)
    masked = sum(t.masked for t in objects)
    return {"project": str(project.path) if project.path else None, "video": str(project.video_path),
            "frames": project.num_frames, "engine": project.engine, "doubt_threshold": threshold,
            "objects": [t.as_json() for t in objects],
            "total": {"masks": masked, "reviewed": sum(t.reviewed for t in objects),
                      "changed_since_review": sum(t.stale for t in objects),
                      "doubtful": sum(len(t.doubtful) for t in objects)}}


def _line(t: ObjectTally, num_frames: int) -> str:
    kinds = ", ".join(f"{k} {t.kinds.get(k, 0)}" for k in (*KINDS, "unknown") if t.kinds.get(k, 0))
    conf = "—" if t.min_confidence is None else f"{t.min_confidence:.2f}"
    return (f"{t.obj_id:>4}  {t.name[:18]:<18} {t.masked:>6}/{num_frames:<6} {t.present:>7} "
            f"{t.reviewed:>6}/{t.masked:<6} {t.stale:>5} {len(t.doubtful):>8} {conf:>6}  {kinds}")


def format_status(project: Project, threshold: float) -> str:
    data_objects = tallies(project, threshold)
    n = project.num_frames
    lines = [f"{project.path or '(unsaved)'}: {project.video_path.name}, {n} frames, engine {project.engine}",
             f"{'id':>4}  {'name':<18} {'masked':>10}    {'present':>7} {'reviewed':>10}    {'stale':>5} "
             f"{'doubtful':>8} {'min c':>6}  provenance"]
    lines += [_line(t, n) for t in data_objects]
    masked = sum(t.masked for t in data_objects)
    reviewed = sum(t.reviewed for t in data_objects)
    doubtful = sum(len(t.doubtful) for t in data_objects)
    lines.append(f"project: {reviewed} of {masked} masks reviewed"
                 + (f" ({100.0 * reviewed / masked:.1f} %)" if masked else "")
                 + f", {doubtful} doubtful (confidence < {threshold:g})"
                 + f", {sum(t.stale for t in data_objects)} changed since their review")
    for t in data_objects:
        if t.doubtful:
            lines.append(f"  doubtful frames of {t.obj_id} ({t.name}): {_frames_text(t.doubtful)}")
    return "\n".join(lines)
