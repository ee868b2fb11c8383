"""Fuzzing the importers and the prompts file (issue 13): hypothesis-made inputs end in exit 0 or 2, never
in an internal error or a crash, and within bounded memory (an address-space limit on the child)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hostile import ROOT, cli_env

pytest.importorskip("hypothesis")

WORKER = str(Path(__file__).with_name("fuzz_worker.py"))
# A few seconds each in CI (a prompts example runs the classical tracker); MASKLET_FUZZ_EXAMPLES=2000
# for a longer hunt.
EXAMPLES = {"coco": 60, "davis": 40, "prompts": 30}
ADDRESS_SPACE_MB = 3072  # Python + NumPy + OpenCV need ~0.5 GB of address space; the NaN polygon took 24 GB
PEAK_RSS_MB = 1024


def _limit() -> None:
    limit = ADDRESS_SPACE_MB * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.parametrize("kind", ["coco", "davis", "prompts"])
def test_fuzzed_inputs_exit_0_or_2_in_bounded_memory(kind: str, tmp_path: Path) -> None:
    env = {**cli_env(), "MASKLET_HOME": str(tmp_path / "home")}
    examples = int(os.environ.get("MASKLET_FUZZ_EXAMPLES", EXAMPLES[kind]))
    done = subprocess.run([sys.executable, WORKER, kind, str(examples), str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, preexec_fn=_limit)
    assert done.returncode == 0, f"{kind} fuzzing failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n" \
                                 f"{done.stderr[-3000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report["codes"]) <= {"0", "2"} and sum(report["codes"].values()) >= examples
    assert report["peak_rss_mb"] < PEAK_RSS_MB, report
