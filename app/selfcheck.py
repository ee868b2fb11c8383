"""``masklet --self-check``: prove an installation works end to end, offscreen, in seconds.

Opens the bundled sample clip in a temporary project, segments its objects with the no-weights engine
from the sample's prompts, propagates a few frames, scores the masks against the sample's exact ground
truth, exports COCO and reads it back with pycocotools; then, when the GUI can be imported, opens the
same project in the main window offscreen. Each step prints one line; the exit code is 0 only if every
step passed. Works from a source checkout, an installed wheel and the frozen build alike.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

log = logging.getLogger("masklet.selfcheck")

# Calibrated on the sample with the classical engine; a working install scores far above these.
MIN_PROMPT_J = 0.70       # each object's mask on the prompted frame vs. ground truth (IoU)
MIN_PROPAGATED_J = 0.50   # mean over objects and propagated frames
DEFAULT_FRAMES = 8


class CheckFailedError(Exception):
    """A step ran but its result is wrong; the message says what was expected."""


@dataclass
class _Context:
    workdir: Path
    frames: int
    project: Any = None
    engine: Any = None
    gt: list[np.ndarray] = field(default_factory=list)
    propagated: list[int] = field(default_factory=list)
    coco_path: Path | None = None


def _ground_truth(folder: Path, count: int) -> list[np.ndarray]:
    from PIL import Image

    files = sorted(folder.glob("*.png"))
    if len(files) < count:
        raise CheckFailedError(f"{folder}: {len(files)} ground-truth PNGs for {count} frames")
    return [np.asarray(Image.open(f), dtype=np.uint8) for f in files[:count]]


def _step_resources(ctx: _Context) -> str:
    from app.resources import is_frozen, resource_path, sample_prompts_path, sample_video_path

    video, prompts = sample_video_path(), sample_prompts_path()
    resource_path("sample/Annotations/00000.png")
    where = "frozen build" if is_frozen() else "source/installed package"
    return f"{video.name}, {prompts.name}, ground truth ({where}: {video.parent})"


def _step_open(ctx: _Context) -> str:
    from app.domain.project import Project
    from app.resources import resource_path, sample_video_path

    ctx.project = Project.create(ctx.workdir / "self-check.masklet", sample_video_path(), engine="classical")
    video = ctx.project.video
    if video.num_frames < ctx.frames + 1:
        raise CheckFailedError(f"sample has {video.num_frames} frames, need > {ctx.frames}")
    last = video[video.num_frames - 1]
    if last.shape != (video.height, video.width, 3) or float(last.std()) < 1.0:
        raise CheckFailedError(f"last frame decodes as {last.shape} with no content")
    ctx.gt = _ground_truth(resource_path("sample/Annotations"), video.num_frames)
    return f"{video.num_frames} frames {video.width}x{video.height} into {ctx.project.path.name}"


def _step_prompts(ctx: _Context) -> str:
    from app.domain.prompts_file import load_prompts
    from app.domain.tracking import apply_specs
    from app.resources import sample_prompts_path

    video = ctx.project.video
    specs = load_prompts(sample_prompts_path(), num_frames=video.num_frames, height=video.height,
                         width=video.width)
    apply_specs(ctx.project, specs)
    names = ", ".join(o.name for o in ctx.project.objects())
    return f"{len(specs)} objects ({names}), {len(ctx.project.prompts())} prompts"


def _step_engine(ctx: _Context) -> str:
    from sam3core.factory import build_engine

    ctx.engine = build_engine("classical", device="cpu")
    return f"{ctx.engine.name} on {getattr(ctx.engine, 'device', 'cpu')} (no weights)"


def _score(ctx: _Context, frame: int, obj_id: int) -> float:
    from sam3core.eval.metrics import region_similarity

    mask = ctx.project.mask(frame, obj_id)
    if mask is None:
        raise CheckFailedError(f"no mask stored for object {obj_id} on frame {frame}")
    return region_similarity(mask, ctx.gt[frame] == obj_id)


def _step_segment_and_propagate(ctx: _Context) -> str:
    from app.domain.tracking import track

    seen: list[tuple[str, int]] = []

    def on_frame(phase: str, frame: int, done: int, total: int) -> None:
        seen.append((phase, frame))

    def enough() -> bool:
        # Propagation re-yields the prompted frame first; count only frames it carried the masks to.
        prompted = {f for p, f in seen if p == "prompt"}
        return len({f for p, f in seen if p == "forward"} - prompted) >= ctx.frames

    start = time.perf_counter()
    track(ctx.project, ctx.engine, direction="forward", on_frame=on_frame, should_stop=enough)
    seconds = time.perf_counter() - start
    prompted = sorted({f for p, f in seen if p == "prompt"})
    ctx.propagated = sorted({f for p, f in seen if p == "forward"} - set(prompted))
    if not prompted:
        raise CheckFailedError("no prompt produced a mask")
    worst = min((_score(ctx, f, o.id), o.name, f) for f in prompted for o in ctx.project.objects()
                if (ctx.gt[f] == o.id).any())
    if worst[0] < MIN_PROMPT_J:
        raise CheckFailedError(f"mask of {worst[1]!r} on frame {worst[2]} has J={worst[0]:.2f} against the "
                               f"ground truth, expected >= {MIN_PROMPT_J}")
    return f"prompted frame(s) {prompted}: worst object J={worst[0]:.2f} ({seconds:.1f} s with propagation)"


def _step_propagated(ctx: _Context) -> str:
    if len(ctx.propagated) < ctx.frames:
        raise CheckFailedError(f"only {len(ctx.propagated)} frames propagated, expected {ctx.frames}")
    scores = [_score(ctx, f, o.id) for f in ctx.propagated for o in ctx.project.objects()
              if (ctx.gt[f] == o.id).any()]
    mean = float(np.mean(scores))
    if mean < MIN_PROPAGATED_J:
        raise CheckFailedError(f"propagated masks have mean J={mean:.2f} vs. ground truth, "
                          f"expected >= {MIN_PROPAGATED_J}")
    first, last = ctx.propagated[0], ctx.propagated[-1]
    return f"frames {first}..{last} stored, mean J={mean:.2f} over {len(scores)} masks"


def _step_export(ctx: _Context) -> str:
    from app.domain.export import export_project

    out = ctx.workdir / "coco" / "annotations.json"
    calls: list[tuple[int, int]] = []
    export_project(ctx.project, "coco", out, progress=lambda done, total: calls.append((done, total)))
    if not out.is_file():
        raise CheckFailedError(f"exporter reported success but wrote no {out}")
    ctx.coco_path = out
    return f"{out.stat().st_size} bytes, {len(calls)} progress reports"


def _step_coco_roundtrip(ctx: _Context) -> str:
    import contextlib
    import io

    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints timing chatter
        coco = COCO(str(ctx.coco_path))
    annotations = coco.loadAnns(coco.getAnnIds())
    stored = [(f, o.id) for o in ctx.project.objects() for f in ctx.project.frames_with_masks(o.id)
              if ctx.project.mask(f, o.id).any()]
    if len(annotations) != len(stored):
        raise CheckFailedError(
            f"COCO has {len(annotations)} annotations, the project {len(stored)} non-empty masks")
    image_frames = {img["id"]: img for img in coco.loadImgs(coco.getImgIds())}
    checked = 0
    for ann in annotations:
        image = image_frames[ann["image_id"]]
        frame = int(image.get("frame_id", image.get("frame_index", -1)))
        obj_id = int(ann.get("track_id", ann.get("instance_id", -1)))
        expected = ctx.project.mask(frame, obj_id)
        if expected is None:
            raise CheckFailedError(
                f"annotation {ann['id']} names frame {frame} object {obj_id}, not in the project")
        if not np.array_equal(coco.annToMask(ann).astype(bool), expected):
            raise CheckFailedError(
                f"annotation {ann['id']} (frame {frame}, object {obj_id}) decodes to another mask")
        checked += 1
    return f"pycocotools loaded {len(image_frames)} images, {checked} masks decode exactly"


def _gui_available() -> str | None:
    """Why the GUI step cannot run, or None."""
    try:
        import PySide6.QtWidgets  # noqa: F401

        from app.ui import main_window  # noqa: F401
    except ImportError as exc:
        return f"GUI not importable ({exc})"
    return None


def _step_gui(ctx: _Context) -> str:
    from app.selfcheck_gui import check_window

    path = ctx.project.path
    ctx.project.close()  # the window opens the file itself, as a user would
    ctx.project = None
    return check_window(path, settings_dir=ctx.workdir / "settings", gt=ctx.gt,
                        frame=ctx.propagated[-1] if ctx.propagated else 0, min_j=MIN_PROMPT_J)


@dataclass(frozen=True)
class _Step:
    title: str
    run: Callable[[_Context], str]


STEPS = (
    _Step("bundled resources", _step_resources),
    _Step("open the sample in a new project", _step_open),
    _Step("load the sample's prompts", _step_prompts),
    _Step("build the no-weights engine", _step_engine),
    _Step("segment from the prompts", _step_segment_and_propagate),
    _Step("propagate", _step_propagated),
    _Step("export COCO", _step_export),
    _Step("read COCO back with pycocotools", _step_coco_roundtrip),
)


def run_self_check(*, out: TextIO | None = None, frames: int = DEFAULT_FRAMES, gui: bool | None = None,
                   keep: bool = False, log_file: bool = True) -> int:
    """Run every step, print one line each, return 0 only if all passed.

    ``gui`` None runs the window step when the GUI can be imported, True requires it, False skips it.
    The temporary folder is deleted afterwards unless a step failed or ``keep`` is set. With
    ``log_file`` the lines also go to the user's log file (proving logging works in this install).
    """
    out = out or sys.stdout
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.logs import app_version, setup_logging

    log_path: Path | None = None
    if log_file:
        try:
            log_path = setup_logging()
        except OSError as exc:  # a read-only home must not fail the other checks; say so below
            log_path = None
            print(f"note: no log file ({exc})", file=out)

    def say(text: str, *, failure: bool = False) -> None:
        print(text, file=out)
        (log.error if failure else log.info)("self-check: %s", text)

    say(f"Masklet {app_version()} self-check (Python {sys.version.split()[0]}, {sys.platform})")
    workdir = Path(tempfile.mkdtemp(prefix="masklet-selfcheck-"))
    ctx = _Context(workdir=workdir, frames=frames)
    steps = list(STEPS)
    gui_reason = _gui_available() if gui is not False else "skipped on request"
    if gui is True and gui_reason:
        steps.append(_Step("open the project in the main window", lambda _ctx: _raise(gui_reason)))
    elif gui_reason is None:
        steps.append(_Step("open the project in the main window (offscreen)", _step_gui))
    failed = 0
    try:
        for number, step in enumerate(steps, 1):
            label = f"[{number}/{len(steps)}] {step.title}"
            start = time.perf_counter()
            try:
                detail = step.run(ctx)
            except CheckFailedError as exc:
                failed += 1
                say(f"FAIL {label}: {exc}", failure=True)
                break
            except Exception as exc:  # noqa: BLE001 - a crash is a failed step, reported with its trace
                failed += 1
                say(f"FAIL {label}: {type(exc).__name__}: {exc}", failure=True)
                traceback.print_exc(file=out)
                log.error("self-check step crashed", exc_info=True)
                break
            say(f"ok   {label} ({time.perf_counter() - start:.1f} s): {detail}")
        if gui is None and gui_reason and not failed:
            say(f"note: the window was not opened: {gui_reason}; the checks above used the domain and "
                "engine directly")
    finally:
        if ctx.project is not None:
            ctx.project.close()
        if failed or keep:
            say(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if log_path is not None:
        print(f"log: {log_path}", file=out)
    say("self-check FAILED" if failed else "self-check passed", failure=bool(failed))
    return 1 if failed else 0


def _raise(reason: str) -> str:
    raise CheckFailedError(reason)
