"""``python tests/slow_cli.py GATE masklet-args...``: the real ``masklet`` command in this process, whose
classical-engine propagation stops after its first frame until the file GATE exists (60 s at most), so
that a test can start a second program while the first one surely holds the project (issue 13)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sam3core.classical import ClassicalEngine  # noqa: E402

_propagate = ClassicalEngine.propagate_in_video


def _gated_propagate(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
    gate = Path(GATE)
    for k, item in enumerate(_propagate(self, *args, **kwargs)):
        deadline = time.monotonic() + 60
        while k and not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        yield item


if __name__ == "__main__":
    GATE = sys.argv[1]
    ClassicalEngine.propagate_in_video = _gated_propagate
    from app.cli import main

    sys.exit(main(sys.argv[2:]))
