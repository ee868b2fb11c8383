"""The options of an export, once, for every front end: ``masklet export`` offers them as flags and the
window's export dialog as widgets; each is a keyword of :func:`app.domain.export.export_with_report`.

A test (tests/ui/test_ui_export_dialog.py) checks this table against the CLI's flags, so a flag added
there without a row here (or the other way round) fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.export import EXPORT_FORMATS
from app.domain.export_davis import DAVIS_IDS, DAVIS_LAYOUTS
from app.domain.export_labels import OVERLAP_RULES


@dataclass(frozen=True)
class ExportOption:
    name: str                      # keyword of export_with_report; the CLI flag is --name-with-dashes
    label: str                     # what the dialog shows
    formats: tuple[str, ...]       # the formats it applies to
    choices: tuple[str, ...] = ()  # empty: an on/off switch (default off)
    default: str = ""
    tip: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


EXPORT_OPTIONS: tuple[ExportOption, ...] = (
    ExportOption("polygons", "Polygons instead of RLE", ("coco", "ytvis"),
                 tip="Each mask as polygon outlines (holes are lost) instead of compressed RLE"),
    ExportOption("with_images", "Also write the frames as JPEG", ("davis", "sav"),
                 tip="JPEGImages/... beside the annotations, as the datasets ship them"),
    ExportOption("overlap", "A pixel two objects cover goes to", ("davis", "mots"), OVERLAP_RULES,
                 "higher-id", "These formats keep one object per pixel; 'error' refuses overlapping masks"),
    ExportOption("davis_layout", "Annotation layout", ("davis",), DAVIS_LAYOUTS, "480p",
                 "Annotations/480p/<video>/ (frames are not resized), Full-Resolution, or flat: "
                 "Annotations/<video>/ without ImageSets"),
    ExportOption("davis_ids", "Object ids", ("davis",), DAVIS_IDS, "contiguous",
                 "contiguous: renumber objects 1..N (see masklet_ids/); raw: keep their ids (1..255)"),
    ExportOption("reviewed_only", "Only masks a person reviewed", EXPORT_FORMATS,
                 tip="Leave out masks nobody accepted (DAVIS: only frames whose masks are all reviewed)"),
)


def options_for(fmt: str) -> tuple[ExportOption, ...]:
    return tuple(option for option in EXPORT_OPTIONS if fmt in option.formats)
