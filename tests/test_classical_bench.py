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
