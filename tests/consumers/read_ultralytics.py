"""Consumer: Ultralytics' YOLO dataset loader reads a Masklet YOLO-seg export.

Run by tests/test_consumers.py in a Python that has ultralytics: ``python read_ultralytics.py
DATA.yaml OUT.npz``. ``check_det_dataset`` validates data.yaml, ``YOLODataset(task="segment")``
verifies every image/label pair; each label's polygon is filled with Ultralytics' own
``polygon2mask`` at full resolution and written as ``f<frame>_l<line>`` (class in ``c<frame>_l<line>``).
"""

import json
import re
import sys
from pathlib import Path

import numpy as np
import ultralytics
from ultralytics.data.dataset import YOLODataset
from ultralytics.data.utils import check_det_dataset, polygon2mask

yaml_file, out = sys.argv[1:3]
data = check_det_dataset(yaml_file)
dataset = YOLODataset(img_path=data["train"], data=data, task="segment", augment=False, imgsz=640,
                      batch_size=1)
arrays = {}
for label in dataset.labels:
    frame = int(re.findall(r"\d+", Path(label["im_file"]).stem)[-1])
    height, width = label["shape"]
    for line, (segment, cls) in enumerate(zip(label["segments"], label["cls"].ravel())):
        pixels = (np.asarray(segment) * [width, height]).reshape(1, -1)
        mask = polygon2mask((height, width), pixels, color=1, downsample_ratio=1)
        arrays[f"f{frame}_l{line}"] = mask.astype(bool)
        arrays[f"c{frame}_l{line}"] = np.asarray(int(cls))
sample = dataset[0]  # the training pipeline's own item (image, masks, boxes) builds without error
np.savez_compressed(out, **arrays)
print(json.dumps({"consumer": "ultralytics", "version": ultralytics.__version__,
                  "images": len(dataset.labels), "names": data["names"],
                  "sample_masks": list(sample["masks"].shape)}))
