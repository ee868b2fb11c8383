"""The VOS benchmark runs end to end on a tiny set and reports an engine that cannot be built."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from sam3core.classical.refine import resolve_overlaps

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_vos.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_vos", BENCH)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["bench_vos"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_bench_runs_and_reports_failures(capsys) -> None:
    bench = load_bench()
    rc = bench.main(["--count", "1", "--frames", "5", "--size", "192x108", "--objects", "2",
                     "--engine", "classical", "--engine", "classical:work_long_side=128",
                     "--engine", "no_such_engine"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "engine no_such_engine: cannot be built" in out
    assert "classical MEAN" in out and "classical:work_long_side=128 MEAN" in out
    mean_row = next(line for line in out.splitlines() if line.startswith("classical MEAN"))
    jf, naive = (float(v) for v in mean_row.split()[4:6])
    assert 0 <= naive <= jf <= 1


def test_overlap_rule() -> None:
    a = np.full((1, 4, 4), -10.0, np.float32)
    logits = np.concatenate([a.copy(), a.copy()])
    logits[0, :, :3] = 5.0  # object 0 claims columns 0-2
    logits[1, :, 1:] = 2.0  # object 1 claims columns 1-3
    none = np.array([np.nan, np.nan])
    out = resolve_overlaps(logits, none)
    assert (out[0, :, 1:3] > 0).all() and (out[1, :, 1:3] < 0).all()  # larger logit wins
    # prompted beats tracked, whatever the logits
    out = resolve_overlaps(logits, np.array([np.nan, 100.0]))
    assert (out[1, :, 1:3] > 0).all() and (out[0, :, 1:3] < 0).all()
    # between prompted objects the smaller prompt wins
    out = resolve_overlaps(logits, np.array([50.0, 100.0]))
    assert (out[0, :, 1:3] > 0).all() and (out[1, :, 1:3] < 0).all()
    # equal everything: the earlier object
    tie = np.concatenate([a.copy(), a.copy()])
    tie[:, :, :] = 3.0
    out = resolve_overlaps(tie, none)
    assert (out[0] > 0).all() and (out[1] < 0).all()
    assert ((out > 0).sum(axis=0) <= 1).all()


def load_real_bench():
    path = BENCH.parent / "bench_real_vos.py"
    spec = importlib.util.spec_from_file_location("bench_real_vos", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["bench_real_vos"] = module
    spec.loader.exec_module(module)
    return module


def test_real_bench_skips_cleanly_without_data(tmp_path, capsys) -> None:
    assert load_real_bench().main(["--data", str(tmp_path / "absent")]) == 0
    assert "no sequences" in capsys.readouterr().out


def test_real_bench_scores_a_davis_layout_folder(tmp_path, capsys) -> None:
    from PIL import Image

    from sam3core.eval.synthetic import generate_clip

    clip = generate_clip(3, num_frames=6, height=96, width=160, num_objects=1, leave_frame=False)
    seq = tmp_path / "toy" / "seq"
    (seq / "JPEGImages").mkdir(parents=True)
    (seq / "Annotations").mkdir()
    for t, (frame, labels) in enumerate(zip(clip.frames, clip.masks)):
        Image.fromarray(frame).save(seq / "JPEGImages" / f"{t:05d}.jpg", quality=95)
        mask = np.where(labels == 1, 255, 0).astype(np.uint8)
        Image.fromarray(mask).save(seq / "Annotations" / f"{t:05d}.png")
    rc = load_real_bench().main(["--data", str(tmp_path), "--effort", "--max-corrections", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    row = next(line for line in out.splitlines() if line.startswith("classical") and "box+click" in line
               and "toy/seq" in line)
    j, f, jf = (float(v) for v in row.split()[6:9])
    naive = next(line for line in out.splitlines() if line.startswith("naive") and "toy/seq" in line)
    assert 0 <= float(naive.split()[8]) <= jf <= 1 and abs(jf - (j + f) / 2) < 1e-3
    noc, corrections = (float(v) for v in row.split()[-2:])
    assert 1 <= noc <= 20 and 0 <= corrections <= 2
