"""Make the bundled sample clip from our own generator (no third-party media).

    python packaging/make_sample.py

Writes ``resources/sample/``: ``sample.mp4`` (the clip), ``Annotations/00000.png ...`` (its exact
ground truth, DAVIS-style indexed PNGs, for ``masklet eval``) and ``prompts.json`` (for each object on
frame 0 a loose box and one positive click deep inside, the format of ``masklet track --prompts``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sam3core.eval.synthetic import SyntheticClip, generate_clip, write_label_png  # noqa: E402
from sam3core.video import VideoSource, write_video  # noqa: E402

OUT = ROOT / "resources" / "sample"
SEED = 1  # star, ellipse, blob; the star leaves the frame mid-clip and comes back
PARAMS = {"num_frames": 48, "height": 360, "width": 640, "num_objects": 3}
BOX_MARGIN = 3
NAMES = {"star": "star", "ellipse": "ellipse", "blob": "blob", "rounded_box": "box", "polygon": "polygon"}


def interior_point(mask: np.ndarray) -> tuple[int, int]:
    """The pixel farthest from the object's boundary: a click any user would make."""
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(x), int(y)


def prompts_for(clip: SyntheticClip, frame: int = 0) -> dict:
    objects = []
    for obj_id in clip.obj_ids:
        mask = clip.object_mask(frame, obj_id)
        if not mask.any():
            continue
        shape = clip.shapes.get(obj_id, "object")
        ys, xs = np.nonzero(mask)
        # A box dragged a few pixels loose around the object, plus one click inside it: what a user
        # does on textured objects, where a lone click may select only one stripe of the texture.
        m = BOX_MARGIN
        box = [max(0, int(xs.min()) - m), max(0, int(ys.min()) - m),
               min(clip.width - 1, int(xs.max()) + m), min(clip.height - 1, int(ys.max()) + m)]
        objects.append({"id": obj_id, "name": f"{NAMES.get(shape, shape)} {obj_id}", "category": shape,
                        "prompts": [{"frame": frame, "box": box, "points": [list(interior_point(mask))],
                                     "labels": [1]}]})
    return {"objects": objects}


def format_prompts(data: dict) -> str:
    """JSON with one line per object and per prompt: readable, and diffs stay small."""
    lines = ['{"objects": [']
    for k, obj in enumerate(data["objects"]):
        head = {key: value for key, value in obj.items() if key != "prompts"}
        lines.append("  " + json.dumps(head)[:-1] + ', "prompts": [')
        lines.append(",\n".join("    " + json.dumps(p) for p in obj["prompts"]))
        lines.append("  ]}" + ("," if k < len(data["objects"]) - 1 else ""))
    lines.append("]}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == data
    return text


def main() -> int:
    clip = generate_clip(SEED, **PARAMS)
    if OUT.joinpath("Annotations").exists():
        shutil.rmtree(OUT / "Annotations")
    (OUT / "Annotations").mkdir(parents=True)
    video = write_video(OUT / "sample.mp4", clip.frames, fps=clip.fps)
    for i, labels in enumerate(clip.masks):
        write_label_png(OUT / "Annotations" / f"{i:05d}.png", labels)
    (OUT / "prompts.json").write_text(format_prompts(prompts_for(clip)), encoding="utf-8")
    with VideoSource(video) as source:
        assert (source.num_frames, source.height, source.width) == (clip.num_frames, clip.height, clip.width)
        error = float(np.abs(source[10].astype(np.int16) - clip.frames[10].astype(np.int16)).mean())
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{video}: {clip.num_frames} frames {clip.width}x{clip.height}, {video.stat().st_size} bytes, "
          f"mean abs coding error {error:.1f}; resources/sample total {total} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
