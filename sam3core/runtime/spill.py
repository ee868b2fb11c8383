"""Low-res mask logits of long-past frames, moved out of memory into an unlinked temporary file.

Every tracked frame leaves each object a (1, 1, 256, 256) float32 result, 256 KB: 2.3 GB per object
for a five-minute 30 fps video if all stay in memory (the reference grows ~12.6 MB per frame). The
predictor spills a result when its spatial memory leaves the memory LRU; the values come back bit for
bit when read (a click on that frame, or recomputing its memory). One slot per (object, frame), reused
when the frame is tracked again, so re-propagating does not grow the file.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from typing import IO

import numpy as np
import torch


@dataclass(frozen=True)
class SpilledLogits:
    """Where one result's logits are: a slot of a :class:`LogitSpill` as written at ``generation``."""

    spill: LogitSpill
    key: tuple[int, int]  # (obj_id, frame_idx)
    generation: int
    shape: tuple[int, ...]

    def load(self) -> torch.Tensor:
        return self.spill.read(self)


class LogitSpill:
    """Append-only file of float32 tensors, one reusable slot per key; created on first use."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._slots: dict[tuple[int, int], tuple[int, int, int]] = {}  # key -> (offset, nbytes, generation)
        self._end = 0
        self._generation = 0
        self._lock = threading.Lock()
        self._closed = False

    @property
    def nbytes(self) -> int:
        return self._end

    def put(self, key: tuple[int, int], tensor: torch.Tensor) -> SpilledLogits:
        data = tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
        with self._lock:
            if self._closed:
                raise RuntimeError("the session is closed: its spilled results are gone")
            if self._file is None:
                # lives as long as the session; unlinked at creation, so nothing is left on disk
                self._file = tempfile.TemporaryFile(prefix="masklet-logits-")  # noqa: SIM115
            slot = self._slots.get(key)
            offset = slot[0] if slot is not None and slot[1] == len(data) else self._end
            self._generation += 1
            self._file.seek(offset)
            self._file.write(data)
            self._end = max(self._end, offset + len(data))
            self._slots[key] = (offset, len(data), self._generation)
            return SpilledLogits(self, key, self._generation, tuple(tensor.shape))

    def read(self, ref: SpilledLogits) -> torch.Tensor:
        with self._lock:
            slot = self._slots.get(ref.key)
            if self._file is None or slot is None or slot[2] != ref.generation:
                raise RuntimeError(f"spilled logits of object {ref.key[0]} on frame {ref.key[1]} were "
                                   "overwritten or the session was closed")
            offset, nbytes, _ = slot
            self._file.seek(offset)
            data = bytearray(self._file.read(nbytes))
        if len(data) != nbytes:
            raise RuntimeError(f"the logit spill file is truncated at object {ref.key[0]}, "
                               f"frame {ref.key[1]}")
        return torch.from_numpy(np.frombuffer(data, dtype=np.float32)).view(ref.shape)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._slots.clear()
            if self._file is not None:
                self._file.close()
                self._file = None
