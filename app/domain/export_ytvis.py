"""YouTube-VIS JSON: one video, one annotation per object with per-frame lists (null where absent).

Written object by object and frame by frame; only the small per-frame bbox/area lists of one
object are held in memory. Each annotation carries the object id as ``track_id``; ``file_names``
are a frame folder's real files, else the names ``--with-images`` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

from app.domain.export_common import (
    Progress,
    atomic_text,
    category_table,
    frame_file_names,
    frame_times,
    sequence_name,
)
from app.domain.export_quality import ProvenanceReader
from app.domain.polygons import mask_to_polygons
from app.domain.project import Project


def export_ytvis(project: Project, out: str | Path, *, polygons: bool = False,
                 progress: Progress = None) -> Path:
    out = Path(out)
    height, width = project.size
    total = project.num_frames
    objects = project.objects()
    categories, category_of = category_table(objects)
    name = sequence_name(project.video_path)
    video = {"id": 1, "name": name, "width": width, "height": height, "length": total,
             "file_names": frame_file_names(project.video_path, total)}
    times = frame_times(project)
    if times is not None:  # beyond the format: each frame's presentation time in seconds
        video["timestamps"] = times
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    steps, done = max(1, total * len(objects)), 0
    provenance = ProvenanceReader(project)
    with atomic_text(out) as fh:
        fh.write('{"info":{"description":' + dumps(f"Masklet export of {name}") + '},"licenses":[],')
        fh.write('"videos":[' + dumps(video) + '],"categories":' + dumps(categories) + ',"annotations":[')
        for k, obj in enumerate(objects):
            bboxes: list[list[int] | None] = []
            areas: list[int | None] = []
            fh.write(("," if k else "") + f'{{"id":{k + 1},"video_id":1,"category_id":{category_of[obj.id]},'
                     f'"track_id":{obj.id},"name":{dumps(obj.name)},"iscrowd":0,'
                     f'"height":{height},"width":{width},"segmentations":[')
            for frame in range(total):
                record = project.mask_record(frame, obj.id)
                if record is None or record.area == 0:
                    segmentation, bbox, area = None, None, None
                else:
                    segmentation = mask_to_polygons(record.decode()) if polygons else record.json_rle()
                    bbox, area = list(record.bbox), record.area
                fh.write(("," if frame else "") + dumps(segmentation))
                bboxes.append(bbox)
                areas.append(area)
                done += 1
                if progress and (done % 16 == 0 or done == steps):
                    progress(done, steps)
            fh.write('],"bboxes":' + dumps(bboxes) + ',"areas":' + dumps(areas) + ","
                     + provenance.ytvis_fields(obj.id, total, [a is not None for a in areas]) + "}")
        fh.write("]}")
    if progress:
        progress(steps, steps)
    return out
