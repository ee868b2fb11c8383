"""Consumer: SAM 2's SA-V readers, from a checkout of facebookresearch/sam2 outside the repository.

Run by tests/test_consumers.py: ``python read_sav.py SAM2_DIR EXPORT_DIR VIDEO_ID OUT.npz``. Reads
``VIDEO_ID_manual.json`` with the training loader ``JSONSegmentLoader`` (``ann_every=1``: every frame
is annotated) and with ``sav_dataset``'s ``SAVDataset`` (which also decodes ``VIDEO_ID.mp4``).
Masks are written as ``f<frame>_k<masklet index>``; the valid frames per masklet as ``valid<k>``.
"""

import json
import sys

import numpy as np

sam2, folder, video_id, out = sys.argv[1:5]
sys.path.insert(0, sam2)
sys.path.insert(0, f"{sam2}/sav_dataset")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
from training.dataset.vos_segment_loader import JSONSegmentLoader  # noqa: E402
from utils.sav_utils import SAVDataset  # noqa: E402

loader = JSONSegmentLoader(f"{folder}/{video_id}_manual.json", ann_every=1)
valid = loader.get_valid_obj_frames_ids()
arrays = {f"valid{k}": np.asarray(v) for k, v in valid.items()}
for frame in range(len(loader.frame_annots)):
    for k, mask in loader.load(frame).items():
        if mask is not None:
            arrays[f"f{frame}_k{k}"] = mask.numpy().astype(bool)
frames, manual, _auto = SAVDataset(folder, annot_sample_rate=1).get_frames_and_annotations(video_id)
np.savez_compressed(out, **arrays)
print(json.dumps({"consumer": "sam2 sav loaders", "frames": len(frames), "masklets": manual["masklet_num"],
                  "masklet_id": manual["masklet_id"]}))
