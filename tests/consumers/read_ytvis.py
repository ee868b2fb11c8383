"""Consumer: the YouTube-VIS API (``ytvos.py`` of youtubevos/cocoapi, built from its own checkout).

Run by tests/test_consumers.py: ``python read_ytvis.py PYTHONAPI_DIR ANNOTATIONS.json OUT.npz``; writes
``annToMask`` of every annotation and frame as ``f<frame>_o<track_id>``.
"""

import json
import sys

import numpy as np

api, annotations, out = sys.argv[1:4]
sys.path.insert(0, api)  # its pycocotools package (with ytvos.py and its own compiled _mask) first

from pycocotools.ytvos import YTVOS  # noqa: E402

ytvos = YTVOS(annotations)
arrays = {}
for ann in ytvos.loadAnns(ytvos.getAnnIds()):
    for frame, segmentation in enumerate(ann["segmentations"]):
        if segmentation is not None:
            arrays[f"f{frame}_o{ann['track_id']}"] = ytvos.annToMask(ann, frame).astype(bool)
np.savez_compressed(out, **arrays)
print(json.dumps({"consumer": "youtube-vis api", "videos": len(ytvos.getVidIds()), "anns": len(ytvos.anns),
                  "categories": [c["name"] for c in ytvos.loadCats(ytvos.getCatIds())]}))
