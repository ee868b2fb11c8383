"""One entry point for every export and import format (used by the CLI and the GUI's worker thread)."""

from __future__ import annotations

from pathlib import Path

from app.domain.export_coco import export_coco
from app.domain.export_common import Progress
from app.domain.export_davis import export_davis
from app.domain.export_quality import ReviewedOnly
from app.domain.export_video import export_video
from app.domain.export_ytvis import export_ytvis
from app.domain.importers import ImportFormatError, ImportSummary, import_coco, import_davis
from app.domain.project import Project

EXPORT_FORMATS = ("coco", "davis", "ytvis", "video")
IMPORT_FORMATS = ("davis", "coco")

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "ImportFormatError", "ImportSummary", "export_project",
           "import_annotations"]


def export_project(project: Project, fmt: str, out: str | Path, *, polygons: bool = False,
                   with_images: bool = False, reviewed_only: bool = False, progress: Progress = None) -> Path:
    """Write ``project`` as ``fmt`` to ``out`` (a .json file for coco/ytvis, a folder for davis, an
    .mp4 for video). ``polygons`` applies to coco/ytvis, ``with_images`` to davis (JPEGImages/);
    ``reviewed_only`` writes only masks a person reviewed (DAVIS: only fully reviewed frames)."""
    if reviewed_only:
        project = ReviewedOnly(project)  # type: ignore[assignment]  (the exporters read through it)
    if fmt == "coco":
        return export_coco(project, out, polygons=polygons, progress=progress)
    if fmt == "ytvis":
        return export_ytvis(project, out, polygons=polygons, progress=progress)
    if fmt == "davis":
        return export_davis(project, out, with_images=with_images, progress=progress)
    if fmt == "video":
        return export_video(project, out, progress=progress)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")


def import_annotations(project: Project, fmt: str, path: str | Path,
                       progress: Progress = None) -> ImportSummary:
    if fmt == "davis":
        return import_davis(project, path, progress)
    if fmt == "coco":
        return import_coco(project, path, progress)
    raise ValueError(f"unknown import format {fmt!r}; choose one of {', '.join(IMPORT_FORMATS)}")
