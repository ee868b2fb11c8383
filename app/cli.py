"""The ``masklet`` command: the desktop app, or headless track/export/import/eval subcommands.

Exit codes: 0 success, 2 usage or input error (bad arguments, malformed prompts, wrong project or
video), 1 any other failure, 141 (128 + SIGPIPE, as a shell reports it) when the reader of stdout went
away (``| head``). Errors are printed as one line on stderr (``MASKLET_DEBUG=1`` adds the traceback).
Messages and progress on stderr are best effort: a closed stderr never stops the work.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from app import __version__
from app.cluster.command import add_batch_parser, add_ray_option

SUBCOMMANDS = ("track", "batch", "export", "import", "eval", "status", "copy")
MODEL_NAMES = ("classical", "sam2.1_hiera_tiny", "sam2.1_hiera_small", "sam2.1_hiera_base_plus",
               "sam2.1_hiera_large", "sam3")

OVERVIEW = """\
Annotate objects in videos with SAM 2.1 / SAM 3 memory trackers or the no-weights classical engine.

Desktop app:
  masklet [VIDEO | PROJECT.masklet] [--model NAME] [--checkpoint FILE] [--device cpu|cuda|mps]

Headless:
  masklet track VIDEO --prompts PROMPTS.json --project OUT.masklet   track prompted objects
  masklet track VIDEO --masks DAVIS_DIR --project OUT.masklet        track from first-frame masks
  masklet batch MANIFEST.jsonl [--ray ADDRESS]                       track many videos (Ray)
  masklet export PROJECT --format FORMAT --out PATH                  coco|davis|ytvis|mots|yolo|sav|video
  masklet import PROJECT --format davis|coco|mots|yolo --path PATH   read another tool's masks
  masklet eval PROJECT --gt DAVIS_ANNOTATIONS_DIR                    J, F, J&F (official DAVIS protocol)
  masklet status PROJECT                                             coverage, doubtful, reviewed frames
  masklet copy PROJECT OUT.masklet                                   a consistent copy, also while open
  masklet --self-check                                               check the installation
Run "masklet SUBCOMMAND --help" for the details of each.

Exit codes: 0 ok, 2 usage or input error (the message names the file and the problem), 1 an
internal error (the log file named in the message holds the details).
"""

PROMPTS_HELP = """\
PROMPTS.json (coordinates in original video pixels, x right, y down; frames count from 0):

  {"objects": [
    {"id": 1, "name": "left child", "category": "person",
     "prompts": [{"frame": 0, "points": [[210, 350], [250, 220]], "labels": [1, 1]},
                 {"frame": 150, "points": [[82, 410]], "labels": [0]}]},
    {"id": 4, "name": "right child", "category": "person",
     "prompts": [{"frame": 0, "box": [300, 0, 500, 400], "points": [[460, 60]], "labels": [1]}]}
  ]}

Object keys: id (required, positive integer, unique; it becomes the DAVIS pixel value and the
COCO track_id), name, category (default "object"), color ("#rrggbb"), prompts (required, non-empty).
Prompt keys: frame (required), points + labels (1 = on the object, 0 = background; equal length),
box [x0, y0, x1, y1] (x0 < x1, y0 < y1, inside the image), or mask "file.png" (relative to the
prompts file; a binary mask, or a label map whose pixels equal to the object id are taken). A
prompt needs points or a box, or a mask alone; an object has at most one prompt per frame.

--masks DIR: indexed PNGs named by frame number (DAVIS Annotations/480p/<seq>/, a dataset root or
a folder of PNGs; pixel = object id, 255 = void) become mask prompts: by default the objects of the
first PNG on that frame (the semi-supervised VOS run of Meta's vos_inference.py); --mask-frames
appearance adds each object on the first frame it appears, all uses every PNG.

Any other key, a frame outside the video, a point outside the image, an inverted or empty box,
mismatched points/labels or a missing, empty or wrongly sized mask stops the run before any work
(exit 2) with a message naming the object and the prompt.

Prompts run in frame order, then the masks are propagated: "forward" from the earliest prompted
frame to the end, "backward" from the latest prompted frame to the start, "both" does both. Every
frame's masks are saved as they arrive, so an interrupted run keeps what it reported. An existing
project for the same video is continued: its objects are updated and the file's prompts added (on a
frame that already has one, the file's replaces it, except that clicks alone keep a stored mask as
their context, as in the window); reviewed masks are kept (--reviewed).
"""


EXPORT_HELP = """\
coco:  COCO instance-segmentation JSON, one image per frame, one annotation per non-empty mask
       (compressed RLE, or polygons with --polygons), track_id = object id; OUT is a .json
davis: DAVIS 2017 layout read by davis2017-evaluation: Annotations/480p/<video>/00000.png indexed
       PNGs (objects renumbered 1..N, see masklet_ids/<seq>.json; --davis-ids raw keeps ids),
       ImageSets/2017/val.txt; --with-images adds JPEGImages/480p/<video>/; OUT is a folder
ytvis: YouTube-VIS JSON (per-frame segmentations, bboxes, areas; null where absent); OUT is a .json
mots:  MOTS instances_txt/<video>.txt (frame id class h w rle) and instances/<video>/000000.png
       (16-bit, id = class * 1000 + object id); OUT is a folder
yolo:  Ultralytics YOLO segmentation: data.yaml, images/train/, labels/train/ (one polygon per
       object, normalised); OUT is a folder
sav:   SA-V masklet JSON (<video>_manual.json, RLE per frame and object); OUT is a folder
video: mp4 of the frames with coloured, outlined masks (hidden objects left out); OUT is a .mp4
davis and mots keep one object per pixel: overlapping pixels are counted, reported and given by
--overlap (higher-id, lower-id, smaller-on-top, or error to refuse).
See docs/formats.md for every field.
"""


class UsageError(Exception):
    """Bad input from the user: exit code 2."""


def _formatter(prog: str) -> argparse.RawDescriptionHelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32, width=100)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="masklet", description=OVERVIEW, formatter_class=_formatter)
    parser.add_argument("--version", action="version", version=f"masklet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")

    track = sub.add_parser("track", help="run prompts and propagation headless, writing a project",
                           description="Track the objects of PROMPTS.json through VIDEO and save the "
                           "masks in a project file.", epilog=PROMPTS_HELP, formatter_class=_formatter)
    track.add_argument("video", metavar="VIDEO", help="video file (mp4, avi, mov, ...) or folder of frames")
    track.add_argument("--prompts", metavar="PROMPTS.json", help="objects and prompts (below)")
    track.add_argument("--masks", metavar="DAVIS_DIR", help="mask prompts from indexed PNGs (below)")
    track.add_argument("--mask-frames", choices=("first", "appearance", "all"), default="first",
                       help="which PNGs of --masks become prompts (default first)")
    track.add_argument("--project", required=True, metavar="OUT.masklet",
                       help="project file to create (or to continue, if it exists for the same video)")
    track.add_argument("--model", choices=MODEL_NAMES, default=None,
                       help="engine; default: detected from --checkpoint, else classical (needs no weights)")
    track.add_argument("--checkpoint", metavar="FILE", help="model weights (.pt / .safetensors); a SAM model "
                       "needs one (README: Model checkpoints)")
    track.add_argument("--random-weights", action="store_true",
                       help="for tests and benchmarks only: run a SAM --model untrained (its masks are "
                       "noise; the project records it)")
    track.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps", "auto"),
                       help="where the model runs (default cpu)")
    track.add_argument("--direction", choices=("forward", "backward", "both"), default="forward",
                       help="propagation direction (default forward)")
    track.add_argument("--reviewed", choices=("keep", "replace"), default="keep",
                       help="masks a person reviewed that the tracker would change: keep them (default) or "
                       "replace them (their reviews lapse); both are reported")
    add_ray_option(track)
    add_batch_parser(sub, _formatter)

    export = sub.add_parser("export", help="write a project as COCO, DAVIS, YouTube-VIS, MOTS, YOLO, SA-V or "
                            "an overlay video", formatter_class=_formatter, description=EXPORT_HELP)
    export.add_argument("project", metavar="PROJECT", help="a .masklet project file")
    export.add_argument("--format", required=True,
                        choices=("coco", "davis", "ytvis", "mots", "yolo", "sav", "video"))
    export.add_argument("--out", required=True, metavar="PATH", help="output file or folder")
    export.add_argument("--polygons", action="store_true", help="coco/ytvis: polygons instead of RLE")
    export.add_argument("--with-images", action="store_true",
                        help="davis/sav: also write the frames as JPEG (JPEGImages/...)")
    export.add_argument("--overlap", choices=("higher-id", "lower-id", "smaller-on-top", "error"),
                        default="higher-id", help="davis/mots: who gets a pixel two objects cover")
    export.add_argument("--davis-layout", choices=("480p", "Full-Resolution", "flat"), default="480p",
                        help="davis: the resolution level of Annotations/ (frames are not resized), or "
                        "flat: Annotations/<video>/ without ImageSets")
    export.add_argument("--davis-ids", choices=("contiguous", "raw"), default="contiguous",
                        help="davis: renumber objects 1..N (default) or keep their ids (1..255)")
    export.add_argument("--video", metavar="NEW_PATH", help="the project's video, if it was moved")
    export.add_argument("--reviewed-only", action="store_true",
                        help="only masks a person reviewed (davis: only frames whose masks are all reviewed)")

    imp = sub.add_parser("import", help="add masks from DAVIS, COCO, MOTS or YOLO annotations to a project",
                         formatter_class=_formatter, description=(
                             "Imported masks become the stored masks of their objects, and each object's "
                             "first imported\nmask becomes a mask prompt. Objects are matched by id (DAVIS "
                             "pixel value, COCO track_id or\ninstance_id), COCO annotations without one by "
                             "category name; unknown ones are created.\nThe import is all or nothing."))
    imp.add_argument("project", metavar="PROJECT", help="a .masklet project file")
    imp.add_argument("--format", required=True, choices=("davis", "coco", "mots", "yolo"))
    imp.add_argument("--path", required=True, metavar="PATH",
                     help="davis: Annotations/<video> folder (or the dataset root); coco: the .json; "
                     "mots: the .txt, PNG folder or root; yolo: the dataset root or labels folder")
    imp.add_argument("--video", metavar="NEW_PATH", help="the project's video, if it was moved")

    cp = sub.add_parser("copy", help="a consistent, self-contained copy of a project (also while it is open)",
                        formatter_class=_formatter, description=(
                            "Copy PROJECT to OUT with SQLite's online backup: a consistent snapshot in one "
                            "file (no -wal\nbeside it), also while the app or masklet track is writing the "
                            "project. The same as File ▸ Save a copy… in the app."))
    cp.add_argument("project", metavar="PROJECT", help="a .masklet project file")
    cp.add_argument("out", metavar="OUT.masklet", help="the copy to write")
    cp.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    cp.add_argument("--video", metavar="NEW_PATH", help="the project's video, if it was moved")

    ev = sub.add_parser("eval", help="score a project against DAVIS ground truth (J, F, J&F)",
                        formatter_class=_formatter, description=(
                            "J: region IoU; F: DAVIS boundary F-measure (1-px boundaries, tolerance "
                            "ceil(0.008 x image diagonal));\nJ&F: their mean. Per object (mean over the "
                            "scored frames) and overall (mean over objects).\nDefault: the official DAVIS "
                            "2017 semi-supervised protocol as davis2017-evaluation computes it: the\nfirst "
                            "and last ground-truth frames are not scored, 255 is void (scored as background),"
                            "\nthe objects are those of the first ground-truth frame, the prediction is the "
                            "DAVIS export's label map.\nThe options below depart from it."))
    ev.add_argument("project", metavar="PROJECT", help="a .masklet project file")
    ev.add_argument("--gt", required=True, metavar="DAVIS_ANNOTATIONS_DIR",
                    help="folder of indexed PNGs named by frame number, or a DAVIS root (Annotations/480p/)")
    ev.add_argument("--keep-first-last", action="store_true",
                    help="also score the first and last ground-truth frame")
    ev.add_argument("--exclude-first-last", action="store_true", help=argparse.SUPPRESS)  # now the default
    ev.add_argument("--void", choices=("background", "ignore", "object"), default="background",
                    help="pixels of value 255: background (default, as the toolkit), ignore (left out of J "
                    "and F), object (scored as object 255)")
    ev.add_argument("--objects", choices=("first-frame", "all-frames"), default="first-frame",
                    help="which ground-truth objects are scored (default: those on the first frame)")
    ev.add_argument("--binary-gt", action="store_true",
                    help="read any non-zero pixel as object 1 (DAVIS 2016 masks, 0/255)")
    ev.add_argument("--overlap", choices=("higher-id", "lower-id", "smaller-on-top", "none"),
                    default="higher-id", help="how overlapping predicted masks are scored: as the DAVIS "
                    "export paints them (default higher-id), or none: each object's own mask")
    ev.add_argument("--video", metavar="NEW_PATH", help="the project's video, if it was moved")

    st = sub.add_parser("status", help="per object: coverage, provenance, doubtful and reviewed frames",
                        formatter_class=_formatter, description=(
                            "masked: frames with a stored mask (present or absent); reviewed: masks a person "
                            "accepted or fixed\nthat are unchanged since; stale: reviewed masks changed "
                            "since; doubtful: engine confidence\nbelow the threshold; provenance: who made "
                            "the masks (prompted, painted, imported, tracked)."))
    st.add_argument("project", metavar="PROJECT", help="a .masklet project file")
    st.add_argument("--threshold", type=float, default=None, metavar="T",
                    help="confidence below which a frame is doubtful, 0..1 (default 0.6)")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.add_argument("--video", metavar="NEW_PATH", help="the project's video, if it was moved")
    return parser


def build_gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="masklet", description=OVERVIEW, formatter_class=_formatter)
    parser.add_argument("path", nargs="?", metavar="VIDEO|PROJECT", help="video or .masklet project to open")
    parser.add_argument("--model", choices=MODEL_NAMES, help="engine to start with")
    parser.add_argument("--checkpoint", metavar="FILE", help="model weights")
    parser.add_argument("--device", choices=("cpu", "cuda", "mps", "auto"), help="where the model runs")
    parser.add_argument("--random-weights", action="store_true",
                        help="for tests and benchmarks only: a SAM --model without weights (noise masks)")
    parser.add_argument("--version", action="version", version=f"masklet {__version__}")
    parser.add_argument("--self-check", action="store_true", help="check the installation and exit")
    return parser


CLOSED_OUTPUT = 141


def _detach(stream) -> None:  # noqa: ANN001 - sys.stdout / sys.stderr
    """Point a stream whose reader went away at /dev/null, so later writes and the flush at exit are
    quiet instead of raising BrokenPipeError again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (a test's StringIO): nothing to redirect
        pass


def _write_err(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except BrokenPipeError:  # 2>&1 | head: the work goes on, unheard
        _detach(sys.stderr)


def _say(text: str) -> None:
    """One line on stderr (a note, warning or error)."""
    _write_err(text + "\n")


class _Progress:
    """Progress on stderr: a live line on a terminal, a line per 10% otherwise."""

    def __init__(self, label: str) -> None:
        self.label, self.tty, self.last = label, sys.stderr.isatty(), -1
        self.start = time.monotonic()

    def __call__(self, done: int, total: int, label: str | None = None) -> None:
        label = label or self.label
        if self.tty:
            _write_err(f"\r{label}: {done}/{total}" + ("\n" if done >= total else ""))
        else:
            step = max(1, total // 10)
            if done == total or done // step != self.last:
                self.last = done // step
                _write_err(f"{label}: {done}/{total} ({time.monotonic() - self.start:.1f} s)\n")


def _open_project(path: str, video: str | None, *, read_only: bool = False):  # -> Project
    """Open for writing, or with ``read_only`` without the writer lock: export, eval, status and copy
    work beside a program writing the project and never keep one from opening it."""
    from app.domain.project import Project, VideoMissingError

    try:
        project = Project.open(path, video_path=video, read_only=read_only)
    except VideoMissingError as exc:
        raise UsageError(f"{exc}; pass --video NEW_PATH") from exc
    _print_notes(project)
    return project


def _print_notes(project) -> None:  # noqa: ANN001 - Project, imported lazily
    """What opening found that the user must know (frames renumbered for an older project, ...)."""
    for note in project.notes:
        _say(f"masklet: note: {note}")


def cmd_track(args: argparse.Namespace) -> int:
    from app.domain.mask_prompts import load_mask_prompts, merge_specs
    from app.domain.project import Project
    from app.domain.prompts_file import load_prompts
    from app.domain.provenance import model_label
    from app.domain.tracking import apply_specs, track
    from sam3core.factory import build_engine
    from sam3core.video import VideoSource

    if not args.prompts and not args.masks:
        raise UsageError("give --prompts PROMPTS.json, --masks DAVIS_DIR, or both")
    with VideoSource(args.video) as video:
        size = {"num_frames": video.num_frames, "height": video.height, "width": video.width}
        specs = load_prompts(args.prompts, **size) if args.prompts else []
        if args.masks:
            masks = load_mask_prompts(args.masks, Path(args.video), frames=args.mask_frames, **size)
            specs = merge_specs(specs, masks)
    _check_checkpoint(args.checkpoint)
    untrained = {"random_weights": True} if args.random_weights else {}
    if args.ray is not None:
        from app.cluster.command import remote_track_engine

        if args.random_weights:
            raise UsageError("--random-weights is for local tests and benchmarks, not with --ray")
        engine, leave_ray = remote_track_engine(args)
    else:
        engine = build_engine(args.model, checkpoint=args.checkpoint, device=args.device, **untrained)
    engine_name = engine.name
    if args.random_weights and not args.checkpoint and engine_name != "classical":
        engine_name += RANDOM_WEIGHTS_NOTE  # recorded in the project: its masks came from no real model
    target = Path(args.project)
    project = Project.open_or_create(target, args.video, engine=engine_name)
    _print_notes(project)
    try:
        with project:
            apply_specs(project, specs)
            project.engine = engine_name
            progress = _Progress("tracking")
            untrained_model = engine_name.endswith(RANDOM_WEIGHTS_NOTE)
            model = "random weights" if untrained_model else model_label(args.checkpoint)
            try:
                stored = track(project, engine, direction=args.direction, model=model,
                               on_frame=lambda phase, frame, done, total: progress(done, total, phase),
                               on_warning=lambda message: _say(f"masklet: warning: {message}"),
                               reviewed=args.reviewed)
            except ConnectionError as exc:  # a remote engine's cluster went away (not the user's input)
                print(f"masklet: error: {exc} {target} keeps the masks of {len(project.frames_stored())} "
                      "frame(s); run the same command again to track once more.", file=sys.stderr)
                return 1
            print(f"{target}: {len(specs)} object(s), {stored} frame result(s) stored with {engine_name}")
    finally:
        if args.ray is not None:
            from app.cluster.command import release_remote_engine

            release_remote_engine(engine, disconnect=leave_ray)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from app.cluster.command import cmd_batch as run

    return run(args, UsageError)


RANDOM_WEIGHTS_NOTE = " (random weights)"


def _check_checkpoint(checkpoint: str | None) -> None:
    if checkpoint is None:
        return
    path = Path(checkpoint)
    if path.is_dir():
        raise UsageError(f"{checkpoint}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise UsageError(f"{checkpoint}: no such checkpoint file")


def cmd_copy(args: argparse.Namespace) -> int:
    with _open_project(args.project, args.video, read_only=True) as project:
        out = project.save_copy(args.out, overwrite=args.overwrite)
    print(f"copied {args.project} to {out} ({out.stat().st_size / 1e6:.1f} MB, self-contained)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from app.domain.export import export_with_report

    with _open_project(args.project, args.video, read_only=True) as project:  # also beside a writer
        notes: list[str] = []
        report = export_with_report(project, args.format, args.out, polygons=args.polygons,
                                    with_images=args.with_images, reviewed_only=args.reviewed_only,
                                    overlap=args.overlap, davis_layout=args.davis_layout,
                                    davis_ids=args.davis_ids, progress=_Progress(f"export {args.format}"),
                                    notes=notes)
    for note in notes:
        _say(f"masklet: note: {note}")
    print(f"{args.format}: {report.describe()}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from app.domain.export import import_annotations

    with _open_project(args.project, args.video) as project:
        summary = import_annotations(project, args.format, args.path, progress=_Progress("import"))
    print(f"imported {summary.masks} mask(s) on {summary.frames} frame(s); objects created "
          f"{summary.created or 'none'}, matched {summary.matched or 'none'}{summary.skipped()}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from app.domain.evaluate import evaluate_project

    with _open_project(args.project, args.video, read_only=True) as project:
        scores = evaluate_project(project, args.gt, progress=_Progress("eval"),
                                  keep_first_last=args.keep_first_last, void=args.void,
                                  objects=args.objects, binary_gt=args.binary_gt,
                                  overlap=None if args.overlap == "none" else args.overlap)
        names = {o.id: o.name for o in project.objects()}
    for note in scores.notes:
        _say(f"masklet: note: {note}")
    print(f"{'object':>6}  {'name':<20} {'J':>6} {'F':>6} {'J&F':>6} {'frames':>6}")
    for result in scores.objects:
        name = names.get(result.obj_id, "(not in project)")[:20]
        print(f"{result.obj_id:>6}  {name:<20} {result.j_mean:6.3f} {result.f_mean:6.3f} "
              f"{result.jf_mean:6.3f} {len(result.j_per_frame):>6}")
    print(f"{'all':>6}  {'(mean over objects)':<20} {scores.j_mean:6.3f} {scores.f_mean:6.3f} "
          f"{scores.jf_mean:6.3f}")
    if scores.frames:
        print(f"scored frames {scores.frames[0]}..{scores.frames[-1]} "
              f"({len(scores.frames)} ground-truth frames)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from app.domain.quality import DEFAULT_DOUBT_THRESHOLD
    from app.domain.status import format_status, status_data

    threshold = DEFAULT_DOUBT_THRESHOLD if args.threshold is None else args.threshold
    if not 0.0 <= threshold <= 1.0:  # NaN fails this too
        raise UsageError(f"--threshold must be between 0 and 1, got {args.threshold}")
    with _open_project(args.project, args.video, read_only=True) as project:
        print(json.dumps(status_data(project, threshold), indent=1) if args.json
              else format_status(project, threshold))
    return 0


def _input_errors() -> tuple[type[BaseException], ...]:
    from app.domain.importers import ImportFormatError
    from app.domain.project import ProjectError
    from app.domain.prompts_file import PromptsError
    from sam3core.errors import EngineError
    from sam3core.video import VideoError

    # OSError: the disk's answer about a path the user gave (missing, too long, full, read-only ...).
    return (UsageError, ProjectError, PromptsError, ImportFormatError, VideoError, EngineError, ValueError,
            OSError, KeyError, IndexError)


def _log_internal_error(exc: BaseException) -> str:
    """Write the traceback to Masklet's log file; say where it is."""
    try:
        import logging

        from app.logs import setup_logging

        path = setup_logging()
        logging.getLogger("masklet.cli").error("internal error in %s", " ".join(sys.argv), exc_info=exc)
        return f"details in {path}"
    except Exception:  # noqa: BLE001 - no log folder (read-only home): the message must still be printed
        return "no log file could be written"


def _run_guarded(func, args: argparse.Namespace) -> int:  # noqa: ANN001
    try:
        return func(args)
    except BrokenPipeError:  # stdout's reader went away: main() ends quietly
        raise
    except KeyboardInterrupt:
        _say("masklet: interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("MASKLET_DEBUG"):
            traceback.print_exc()
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        if isinstance(exc, OSError) and exc.strerror and exc.filename:
            message = f"{exc.filename}: {exc.strerror}"
        if isinstance(exc, _input_errors()):
            _say(f"masklet: error: {message}")
            return 2
        where = _log_internal_error(exc)
        _say(f"masklet: internal error: {type(exc).__name__}: {message} ({where}; MASKLET_DEBUG=1 prints "
             "the traceback)")
        return 1


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, not at exit: a closed stdout must end quietly too
        return code
    except BrokenPipeError:  # masklet ... | head: the reader has what it wanted
        _detach(sys.stdout)
        return CLOSED_OUTPUT


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
        args = _parse(build_parser(), argv)
        if isinstance(args, int):
            return args
        commands = {"track": cmd_track, "export": cmd_export, "import": cmd_import, "eval": cmd_eval,
                    "status": cmd_status, "copy": cmd_copy, "batch": cmd_batch}
        from app.domain.lock import set_program_name

        set_program_name(f"masklet {args.command}")
        return _run_guarded(commands[args.command], args)
    args = _parse(build_gui_parser(), argv)
    if isinstance(args, int):
        return args
    if args.self_check:
        from app.selfcheck import run_self_check

        return run_self_check()
    from app.ui.launch import run_gui

    return run_gui(args.path, checkpoint=args.checkpoint, device=args.device, model=args.model,
                   random_weights=args.random_weights)


if __name__ == "__main__":
    sys.exit(main())
