"""Consumer: Datumaro imports a Masklet export with one of its own formats.

Run by tests/test_consumers.py in a Python that has datumaro: ``python read_datumaro.py FORMAT PATH
OUT.npz``. COCO masks are written as ``a<annotation id>`` (Datumaro keeps the annotation id, not
track_id); MOTS masks as ``f<frame>_o<track_id>``.
"""

import json
import re
import sys

import datumaro as dm
import numpy as np

fmt, path, out = sys.argv[1:4]
dataset = dm.Dataset.import_from(path, fmt)
masks = {}
for item in dataset:
    frame = int(re.findall(r"\d+", item.id)[-1])
    for ann in item.annotations:
        if not isinstance(ann, dm.Mask):
            continue
        key = f"a{ann.id}" if fmt.startswith("coco") else f"f{frame}_o{int(ann.attributes['track_id'])}"
        masks[key] = np.asarray(ann.image).astype(bool)
np.savez_compressed(out, **masks)
print(json.dumps({"consumer": "datumaro", "version": dm.__version__, "format": fmt, "items": len(dataset),
                  "categories": [c.name for c in dataset.categories()[dm.AnnotationType.label]]}))
