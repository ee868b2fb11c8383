"""Consumer: mots_tools (the MOTS benchmark's own loader, ``mots_common/io.py``), from a checkout.

Run by tests/test_consumers.py: ``python read_mots.py MOTS_TOOLS_DIR FOLDER SEQUENCE OUT.npz``; FOLDER
holds ``SEQUENCE.txt`` or the PNG folder ``SEQUENCE/``. ``load_sequences`` checks class ids and that
no two masks of a frame overlap; masks are written as ``f<frame>_i<id>``.
"""

import json
import sys

import numpy as np

tools, folder, sequence, out = sys.argv[1:5]
sys.path.insert(0, tools)

import pycocotools.mask as rletools  # noqa: E402
from mots_common.io import load_sequences  # noqa: E402

frames = load_sequences(folder, [sequence])[sequence]
arrays = {}
for frame, objects in frames.items():
    for obj in objects:
        arrays[f"f{frame}_i{obj.track_id}"] = rletools.decode(obj.mask).astype(bool)
        arrays[f"c{frame}_i{obj.track_id}"] = np.asarray(obj.class_id)
np.savez_compressed(out, **arrays)
print(json.dumps({"consumer": "mots_tools", "frames": len(frames)}))
