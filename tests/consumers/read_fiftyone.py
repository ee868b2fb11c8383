"""Consumer: FiftyOne's COCODetectionDataset (default settings) loads a Masklet COCO export.

Run by tests/test_consumers.py in a Python that has fiftyone: ``python read_fiftyone.py LABELS.json
IMAGES_DIR OUT.npz``. Writes each detection's full-frame mask as ``f<frame>_o<track_id>``.
"""

import json
import sys

import fiftyone as fo
import numpy as np

labels, images, out = sys.argv[1:4]
dataset = fo.Dataset.from_dir(dataset_type=fo.types.COCODetectionDataset, data_path=images,
                              labels_path=labels)
masks = {}
try:
    # Default label types: boxes in "detections", instance masks in "segmentations".
    fields = [f for f in ("segmentations",) if dataset.has_field(f)] or ["detections"]
    for sample in dataset:
        width, height = sample.metadata.width, sample.metadata.height
        for det in (d for f in fields if sample[f] is not None for d in sample[f].detections):
            frame = int(det["frame_id"])
            x, y, w, h = det.bounding_box
            x0, y0 = int(round(x * width)), int(round(y * height))
            full = np.zeros((height, width), bool)
            crop = det.mask.astype(bool)
            full[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop[:height - y0, :width - x0]
            key = f"f{frame}_o{int(det['track_id'])}"
            masks[key] = masks[key] | full if key in masks else full
    info = {"consumer": "fiftyone", "version": fo.__version__, "samples": len(dataset),
            "label_fields": fields, "filepaths": sorted(dataset.values("filepath"))}
finally:
    dataset.delete()
np.savez_compressed(out, **masks)
print(json.dumps(info))
