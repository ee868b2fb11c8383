"""Consumer: the official davis2017-evaluation toolkit, from a checkout outside the repository.

Run by tests/test_consumers.py: ``python read_davis2017.py TOOLKIT_DIR load DAVIS_ROOT OUT.npz`` reads a
Masklet DAVIS export with the toolkit's ``DAVIS`` loader (semi-supervised task, val set: the layout,
ImageSets and JPEGImages are checked by it) and its ``Results`` reader, writing the label maps as
``gt<frame>`` / ``res<frame>``; ``... eval GT_ROOT RESULTS_DIR OUT.json`` runs ``DAVISEvaluation``
(semi-supervised) and writes per-object J and F means and per-frame values.
"""

import json
import sys

import numpy as np

toolkit, mode = sys.argv[1:3]
sys.path.insert(0, toolkit)

from davis2017.davis import DAVIS  # noqa: E402
from davis2017.evaluation import DAVISEvaluation  # noqa: E402
from davis2017.results import Results  # noqa: E402

if mode == "load":
    root, out = sys.argv[3:5]
    dataset = DAVIS(root, task="semi-supervised", subset="val")
    arrays = {}
    (sequence,) = list(dataset.get_sequences())
    masks, void, ids = dataset.get_all_masks(sequence, separate_objects_masks=True)
    for k, frame_id in enumerate(ids):
        labels = np.zeros(masks.shape[2:], np.uint8)
        for obj in range(masks.shape[0]):
            labels[masks[obj, k]] = obj + 1
        arrays[f"gt{int(frame_id)}"] = labels
    result = Results(root_dir=f"{root}/Annotations/480p").read_masks(sequence, ids)
    for k, frame_id in enumerate(ids):
        labels = np.zeros(result.shape[2:], np.uint8)
        for obj in range(result.shape[0]):
            labels[result[obj, k]] = obj + 1
        arrays[f"res{int(frame_id)}"] = labels
    np.savez_compressed(out, **arrays)
    print(json.dumps({"consumer": "davis2017-evaluation", "sequence": sequence,
                      "objects": int(masks.shape[0]), "frames": len(ids),
                      "images": len(dataset.sequences[sequence]["images"])}))
else:
    gt_root, results, out = sys.argv[3:6]
    evaluation = DAVISEvaluation(davis_root=gt_root, task="semi-supervised", gt_set="val")
    metrics = evaluation.evaluate(results)
    # Per frame, as evaluate() computes them (the same calls on the same arrays).
    per_frame = {}
    for sequence in evaluation.dataset.get_sequences():
        gt, void, ids = evaluation.dataset.get_all_masks(sequence, True)
        gt, ids = gt[:, 1:-1], ids[1:-1]
        res = Results(root_dir=results).read_masks(sequence, ids)
        j, f = DAVISEvaluation._evaluate_semisupervised(gt, res, None, ("J", "F"))
        per_frame[sequence] = {"frames": [int(i) for i in ids], "J": j.tolist(), "F": f.tolist()}
    with open(out, "w") as fh:
        json.dump({"J": metrics["J"]["M_per_object"], "F": metrics["F"]["M_per_object"],
                   "per_frame": per_frame}, fh)
    print(json.dumps({"consumer": "davis2017-evaluation", "objects": sorted(metrics["J"]["M_per_object"])}))
