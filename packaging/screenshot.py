"""Make docs/screenshot.png: the real main window on the bundled sample, after one click per object
and a forward propagation with the no-weights engine.

    QT_QPA_PLATFORM=offscreen python packaging/screenshot.py [--frame N] [--out docs/screenshot.png]

Runs offscreen (no display needed) or on a real/virtual X display if QT_QPA_PLATFORM is unset and
DISPLAY is set. The sample is copied to a temporary folder, so no project file lands in resources/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frame", type=int, default=None,
                        help="frame shown (default: the last frame on which every object has a mask)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--size", default="1400x860", help="window size WxH")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    from app.resources import sample_prompts_path, sample_video_path
    from app.selfcheck_gui import close_window, open_window, prompt_and_wait, propagate_and_wait, wait_until

    with tempfile.TemporaryDirectory(prefix="masklet-shot-") as tmp:
        video = Path(shutil.copy2(sample_video_path(), Path(tmp) / "sample.mp4"))
        window = open_window(Path(tmp) / "settings", size=(width, height))
        try:
            if not window.open_path(video):
                raise SystemExit(f"cannot open {video}: {window.errors}")
            session = window.session
            start = time.perf_counter()
            for obj in json.loads(sample_prompts_path().read_text(encoding="utf-8"))["objects"]:
                obj_id = session.add_object(obj.get("name"), obj.get("category", "object"))
                if obj_id != obj["id"]:
                    raise SystemExit(f"object ids differ: window gave {obj_id}, prompts say {obj['id']}")
                for prompt in obj["prompts"]:
                    points = [(x, y, bool(label)) for (x, y), label in
                              zip(prompt.get("points", ()), prompt.get("labels", ()))]
                    prompt_and_wait(window, prompt["frame"], obj_id, box=prompt.get("box"), points=points)
            propagate_and_wait(window, 0, session.project.num_frames - 1)
            seconds = time.perf_counter() - start
            session.select_object(1)
            frame = args.frame
            if frame is None:
                every = set.intersection(*(set(session.mask_frames.get(o.id, ())) for o in session.objects))
                frame = max(every) if every else session.project.num_frames // 2
            window.viewer.show_frame(min(frame, session.project.num_frames - 1))
            # Let the coalesced repaints (strips, status bar) land before grabbing.
            settle = time.monotonic() + 0.5
            wait_until(lambda: time.monotonic() > settle, 5, "the window to settle")
            tracked = {o.name: len(session.mask_frames.get(o.id, ())) for o in session.objects}
            args.out.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(args.out)):
                raise SystemExit(f"cannot write {args.out}")
            if window.errors:
                print(f"warning: the window reported {window.errors}", file=sys.stderr)
        finally:
            close_window(window)
    print(f"{args.out}: {width}x{height}, frame {frame}; frames with a mask per object {tracked}; "
          f"prompts and propagation {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
