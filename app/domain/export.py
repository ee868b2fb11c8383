"""One entry point for every export and import format (used by the CLI and the GUI's worker thread)."""

from __future__ import annotations

from pathlib import Path

from app.domain.export_coco import export_coco
from app.domain.export_common import Progress
from app.domain.export_davis import export_davis
from app.domain.export_labels import Notes
from app.domain.export_mots import export_mots
from app.domain.export_quality import ReviewedOnly
from app.domain.export_sav import export_sav
from app.domain.export_video import export_video
from app.domain.export_yolo import export_yolo
from app.domain.export_ytvis import export_ytvis
from app.domain.importers import (
    ImportFormatError,
    ImportSummary,
    import_coco,
    import_davis,
    import_mots,
    import_yolo,
)
from app.domain.project import Project

EXPORT_FORMATS = ("coco", "davis", "ytvis", "mots", "yolo", "sav", "video")
IMPORT_FORMATS = ("davis", "coco", "mots", "yolo")

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "ImportFormatError", "ImportSummary", "export_project",
           "import_annotations"]


def export_project(project: Project, fmt: str, out: str | Path, *, polygons: bool = False,
                   with_images: bool = False, reviewed_only: bool = False, overlap: str = "higher-id",
                   davis_layout: str = "480p", davis_ids: str = "contiguous", progress: Progress = None,
                   notes: Notes = None) -> Path:
    """Write ``project`` as ``fmt`` to ``out`` (a .json file for coco/ytvis, a folder for davis, mots,
    yolo and sav, an .mp4 for video). ``polygons`` applies to coco/ytvis, ``with_images`` to davis
    and sav (frames as JPEG), ``overlap`` to the one-object-per-pixel formats (davis, mots),
    ``davis_layout``/``davis_ids`` to davis; ``reviewed_only`` writes only masks a person reviewed
    (DAVIS: only fully reviewed frames). Messages for the user (overlaps resolved, classes the
    benchmark tools do not know) are appended to ``notes``."""
    if reviewed_only:
        project = ReviewedOnly(project)  # type: ignore[assignment]  (the exporters read through it)
    if fmt == "coco":
        return export_coco(project, out, polygons=polygons, progress=progress)
    if fmt == "ytvis":
        return export_ytvis(project, out, polygons=polygons, progress=progress)
    if fmt == "davis":
        return export_davis(project, out, with_images=with_images, layout=davis_layout, ids=davis_ids,
                            overlap=overlap, progress=progress, notes=notes)
    if fmt == "mots":
        return export_mots(project, out, overlap=overlap, progress=progress, notes=notes)
    if fmt == "yolo":
        return export_yolo(project, out, progress=progress, notes=notes)
    if fmt == "sav":
        return export_sav(project, out, with_images=with_images, progress=progress)
    if fmt == "video":
        return export_video(project, out, progress=progress)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")


def import_annotations(project: Project, fmt: str, path: str | Path,
                       progress: Progress = None) -> ImportSummary:
    if fmt == "davis":
        return import_davis(project, path, progress)
    if fmt == "coco":
        return import_coco(project, path, progress)
    if fmt == "mots":
        return import_mots(project, path, progress)
    if fmt == "yolo":
        return import_yolo(project, path, progress)
    raise ValueError(f"unknown import format {fmt!r}; choose one of {', '.join(IMPORT_FORMATS)}")
