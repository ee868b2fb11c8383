"""The ``masklet batch`` command and the ``--ray`` option of ``masklet track`` (argparse wiring)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

BATCH_HELP = """\
MANIFEST is JSON Lines, one video per line (paths relative to the manifest's folder):

  {"video": "a.mp4", "prompts": "a.json", "project": "out/a.masklet"}
  {"video": "b.mp4", "prompts": {"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [10, 10, 90, 80]}]}]},
   "project": "out/b.masklet", "model": "sam2.1_hiera_tiny", "checkpoint": "sam2.1_hiera_tiny.pt",
   "direction": "both", "device": "auto"}

Required: video, project, and prompts (a PROMPTS.json path or its content inline, see "masklet track
--help") and/or masks (a DAVIS folder of first-frame masks, as "masklet track --masks"; mask_frames
first/appearance/all). Optional: model, checkpoint, direction (forward/backward/both), device
(cpu/cuda/mps/auto; auto = the worker's GPU if it has one). Every line is checked before anything
runs (exit 2 names each bad line).

Without --ray a local Ray instance runs on this machine (127.0.0.1 only, token authentication), one
engine per GPU, else one per CPU core. Every frame is saved to its project as it arrives; a worker that
dies has its item resumed on another after the frames already saved; rerunning the manifest skips
finished items. Exit codes: 0 all done, 1 some item failed (each is named), 2 bad manifest or options,
130 interrupted (rerun to continue).
"""


def add_ray_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ray", metavar="ADDRESS", default=None,
                        help='run on a Ray cluster: "host:port", "ray://host:10001", or "local" for a local '
                        "instance (see the README's \"Running on a Ray cluster\")")
    parser.add_argument("--ray-gpus", metavar="N", type=float, default=None,
                        help="GPUs the remote engine asks for (default: 1 for --device cuda/auto, else 0)")


def add_batch_parser(sub: Any, formatter: Any) -> None:
    """``sub``: the subparsers of the ``masklet`` parser."""
    batch = sub.add_parser("batch", help="track many videos of a manifest, on a Ray cluster or locally",
                           description="Track every video of MANIFEST, in parallel, each into its project.",
                           epilog=BATCH_HELP, formatter_class=formatter)
    batch.add_argument("manifest", metavar="MANIFEST", help="JSON Lines file, one video per line (below)")
    batch.add_argument("--ray", metavar="ADDRESS", default=None,
                       help='Ray cluster ("host:port" or "ray://host:10001"); default: a local instance')
    batch.add_argument("--workers", type=int, default=None, metavar="N",
                       help="engines to run at most (default: one per GPU, else one per CPU)")
    batch.add_argument("--cpus-per-worker", type=float, default=1.0, metavar="C",
                       help="CPU cores per engine (its torch threads; default 1)")
    batch.add_argument("--gpus-per-worker", type=float, default=None, metavar="G",
                       help="GPUs per engine (default: 1 where the cluster has GPUs, else 0)")
    batch.add_argument("--retries", type=int, default=2, metavar="R",
                       help="attempts more for an item whose worker died (default 2)")


def cmd_batch(args: argparse.Namespace, usage_error: type[Exception]) -> int:
    from app.cluster.batch import BatchOptions, run_batch
    from app.cluster.manifest import ManifestError, load_manifest
    from app.cluster.report import summary_table
    from app.cluster.runtime import import_ray

    if args.workers is not None and args.workers < 1:
        raise usage_error("--workers must be at least 1")
    if args.cpus_per_worker <= 0 or (args.gpus_per_worker is not None and args.gpus_per_worker < 0):
        raise usage_error("--cpus-per-worker must be > 0 and --gpus-per-worker >= 0")
    if args.retries < 0:
        raise usage_error("--retries must be >= 0")
    try:
        items = load_manifest(args.manifest)
    except ManifestError as exc:
        for problem in exc.problems:
            print(f"masklet: error: {problem}", file=sys.stderr)
        return 2
    import_ray()  # before anything starts: a plain message if Ray is missing (exit 2)
    options = BatchOptions(address=args.ray, workers=args.workers, cpus_per_worker=args.cpus_per_worker,
                           gpus_per_worker=args.gpus_per_worker, retries=args.retries)
    results = run_batch(items, options)
    print(summary_table(results))
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"masklet: error: item {r.item.label} ({r.item.project.name}) {r.status}: "
              f"{r.error or 'interrupted'}", file=sys.stderr)
    if any(r.status == "stopped" for r in failed):
        return 130
    return 1 if failed else 0


def remote_track_engine(args: argparse.Namespace) -> tuple[Any, bool]:
    """The engine of ``masklet track --ray``: the same model, in an actor on the cluster; and whether
    this command made the Ray connection (and so leaves it at the end)."""
    from app.cluster import runtime
    from app.cluster.remote_engine import connect_remote_engine
    from app.cluster.runtime import RemoteTarget

    was_connected = runtime.is_connected()
    gpus = args.ray_gpus
    if gpus is None:
        gpus = 1.0 if args.device == "cuda" else 0.0
        if args.device == "auto":
            runtime.connect(args.ray)
            gpus = 1.0 if runtime.cluster_resources().get("GPU", 0) >= 1 else 0.0
    device = args.device if args.device != "auto" else ("cuda" if gpus else "cpu")
    try:
        engine = connect_remote_engine(RemoteTarget(args.ray, num_gpus=gpus), model=args.model,
                                       checkpoint=args.checkpoint, device=device)
    except BaseException:
        if not was_connected:
            runtime.disconnect()
        raise
    return engine, not was_connected


def release_remote_engine(engine: Any, *, disconnect: bool = True) -> None:
    """Stop the remote engine's worker; leave the cluster (a local instance stops with it) if asked."""
    from app.cluster import runtime

    shutdown = getattr(engine, "shutdown", None)
    if shutdown is not None:
        shutdown()
    if disconnect:
        runtime.disconnect()
