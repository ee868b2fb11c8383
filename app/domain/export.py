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
from app.domain.export_video import check_video_output, export_video
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
from app.domain.safe_output import ExportError, WriteReport, check_output, staged_output

EXPORT_FORMATS = ("coco", "davis", "ytvis", "mots", "yolo", "sav", "video")
IMPORT_FORMATS = ("davis", "coco", "mots", "yolo")

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "ExportError", "ImportFormatError", "ImportSummary",
           "WriteReport", "export_project", "export_with_report", "import_annotations"]


# What each format writes at ``out`` (formats not listed are checked once they have written).
OUTPUT_KIND = {"coco": "file", "davis": "folder", "ytvis": "file", "mots": "folder", "yolo": "folder",
               "sav": "folder", "video": "file"}


def export_project(project: Project, fmt: str, out: str | Path, *, polygons: bool = False,
                   with_images: bool = False, reviewed_only: bool = False, overlap: str = "higher-id",
                   davis_layout: str = "480p", davis_ids: str = "contiguous", progress: Progress = None,
                   notes: Notes = None) -> Path:
    """Write ``project`` as ``fmt`` to ``out`` (a .json file for coco/ytvis, a folder for davis, mots,
    yolo and sav, an .mp4 for video). ``polygons`` applies to coco/ytvis, ``with_images`` to davis
    and sav (frames as JPEG), ``overlap`` to the one-object-per-pixel formats (davis, mots),
    ``davis_layout``/``davis_ids`` to davis; ``reviewed_only`` writes only masks a person reviewed
    (DAVIS: only fully reviewed frames). Messages for the user (overlaps resolved, classes the
    benchmark tools do not know) are appended to ``notes``. Returns the output path;
    :func:`export_with_report` also says what was written."""
    return export_with_report(project, fmt, out, polygons=polygons, with_images=with_images,
                              reviewed_only=reviewed_only, overlap=overlap, davis_layout=davis_layout,
                              davis_ids=davis_ids, progress=progress, notes=notes).path


def export_with_report(project: Project, fmt: str, out: str | Path, *, polygons: bool = False,
                       with_images: bool = False, reviewed_only: bool = False, overlap: str = "higher-id",
                       davis_layout: str = "480p", davis_ids: str = "contiguous",
                       progress: Progress = None, notes: Notes = None) -> WriteReport:
    """:func:`export_project`, safely, for every format (:mod:`app.domain.safe_output`): an output that is
    the project, its side files, the video or inside its frame folder is refused before any work; the
    exporter writes beside the output, which is replaced only when the export is complete."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if fmt == "video":
        check_video_output(out)  # the exporter would name the staging path it is given
    final = check_output(out, project_path=project.path, video_path=project.video_path,
                         kind=OUTPUT_KIND.get(fmt))
    info = {"format": fmt, "project": str(project.path or ""), "video": str(project.video_path)}
    source = ReviewedOnly(project) if reviewed_only else project  # the exporters read through it
    with staged_output(final, key=f"{fmt} {project.video_path}", info=info) as staging:
        _write(source, fmt, staging.path, polygons=polygons, with_images=with_images,  # type: ignore[arg-type]
               overlap=overlap, davis_layout=davis_layout, davis_ids=davis_ids, progress=progress,
               notes=notes, existing=final if final.is_dir() else None)
    assert staging.report is not None
    return staging.report


def _write(project: Project, fmt: str, out: Path, *, polygons: bool, with_images: bool, overlap: str,
           davis_layout: str, davis_ids: str, progress: Progress, notes: Notes,
           existing: Path | None) -> None:
    """The exporters themselves: each writes its format at ``out`` and needs no safety code.
    ``existing`` is the folder the export will be merged into, when there is one: DAVIS and YOLO
    read its shared files (ImageSets, data.yaml) so that theirs keep the other sequences."""
    if fmt == "coco":
        export_coco(project, out, polygons=polygons, progress=progress)
    elif fmt == "ytvis":
        export_ytvis(project, out, polygons=polygons, progress=progress)
    elif fmt == "davis":
        export_davis(project, out, with_images=with_images, layout=davis_layout, ids=davis_ids,
                     overlap=overlap, progress=progress, notes=notes, existing=existing)
    elif fmt == "mots":
        export_mots(project, out, overlap=overlap, progress=progress, notes=notes)
    elif fmt == "yolo":
        export_yolo(project, out, progress=progress, notes=notes, existing=existing)
    elif fmt == "sav":
        export_sav(project, out, with_images=with_images, progress=progress)
    elif fmt == "video":
        export_video(project, out, progress=progress)
    else:
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
