"""COCO instance-segmentation JSON, streamed frame by frame (one image per frame, one annotation per mask).

Beyond the COCO fields every image carries ``video_id``/``frame_id`` (and, for a video file, its
presentation ``timestamp`` in seconds) and every annotation the object id as ``track_id`` (not
``instance_id``: FiftyOne reserves that name on its Detection objects and refuses the file);
``videos`` and ``tracks`` describe the video and its objects. ``file_name`` is the real file of a
frame folder, else the name ``--with-images`` writes (``<video>/00000.jpg``). Segmentation is
compressed RLE (``counts`` as a string) or, with ``polygons``, polygons.
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


def export_coco(project: Project, out: str | Path, *, polygons: bool = False,
                progress: Progress = None) -> Path:
    out = Path(out)
    height, width = project.size
    total = project.num_frames
    objects = project.objects()
    categories, category_of = category_table(objects)
    name = sequence_name(project.video_path)
    header = {
        "info": {"description": f"Masklet export of {name}", "version": "1.0"},
        "licenses": [],
        "videos": [{"id": 1, "name": name, "width": width, "height": height, "length": total,
                    "fps": project.video.info.fps}],
        "categories": categories,
        "tracks": [{"id": o.id, "name": o.name, "category_id": category_of[o.id], "color": o.color}
                   for o in objects],
    }
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    file_names = frame_file_names(project.video_path, total)
    provenance = ProvenanceReader(project)
    with atomic_text(out) as fh:
        fh.write(dumps(header)[:-1] + ',"images":[')
        times = frame_times(project)
        for frame in range(total):
            image = {"id": frame + 1, "file_name": file_names[frame], "width": width,
                     "height": height, "video_id": 1, "frame_id": frame}
            if times is not None:
                image["timestamp"] = times[frame]
            fh.write(("," if frame else "") + dumps(image))
        fh.write('],"annotations":[')
        next_id = 1
        for frame in range(total):
            for record in project.mask_records(frame):
                if record.area == 0:
                    continue  # tracked but absent on this frame: COCO has no empty instances
                segmentation = mask_to_polygons(record.decode()) if polygons else record.json_rle()
                annotation = {"id": next_id, "image_id": frame + 1, "category_id": category_of[record.obj_id],
                              "segmentation": segmentation, "area": record.area, "bbox": list(record.bbox),
                              "iscrowd": 0, "track_id": record.obj_id,
                              "video_id": 1, "frame_id": frame,
                              "attributes": provenance.coco_attributes(frame, record.obj_id)}
                fh.write(("," if next_id > 1 else "") + dumps(annotation))
                next_id += 1
            if progress:
                progress(frame + 1, total)
        fh.write("]}")
    return out
