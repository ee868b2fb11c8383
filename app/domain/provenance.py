"""Provenance and confidence records for what an engine writes: prompt answers and propagated frames.

A tracking loop (``masklet track``, the GUI's worker) hands each result here and stores the records
with the masks in the same transaction. Qt-free, torch-free (scores arrive as numbers or arrays).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.domain.model import Prompt
from app.domain.quality import FrameScore, MaskInfo, Origin, utc_now
from app.domain.review import mask_infos

if TYPE_CHECKING:  # torch-free at run time
    from sam3core.engine import Engine


def model_label(checkpoint: str | Path | None) -> str:
    """What "model" says in provenance: the checkpoint's file name ("" for the weight-free engine)."""
    return Path(checkpoint).name if checkpoint else ""


def prompt_detail(prompt: Prompt) -> str:
    """e.g. "2 positive, 1 negative click, box" / "mask"."""
    parts = []
    positive = sum(1 for v in prompt.labels if v > 0)
    negative = len(prompt.labels) - positive
    if positive:
        parts.append(f"{positive} positive")
    if negative:
        parts.append(f"{negative} negative")
    if parts:
        parts[-1] += " click" + ("s" if positive + negative > 1 else "")
    if prompt.box is not None:
        parts.append("box")
    if prompt.mask is not None:
        parts.append("mask")
    return ", ".join(parts)


def prompt_kind(prompt: Prompt) -> str:
    """A mask-only prompt is a brush edit or an imported mask ("painted"); clicks / a box: "prompted"."""
    return "prompted" if prompt.points or prompt.box is not None else "painted"


def prompt_origin(prompt: Prompt, engine: str, model: str = "") -> Origin:
    """The engine's answer to a prompt, stored as the prompted frame's mask."""
    return Origin(prompt_kind(prompt), engine, model, prompt.frame, utc_now(), prompt_detail(prompt))


def scores_from_output(obj_ids: Iterable[int], obj_scores: Any,
                       extra: Mapping[int, Mapping[str, float | None]] | None = None,
                       ) -> dict[int, FrameScore]:
    """An engine's per-frame output -> {obj_id: FrameScore}.

    ``obj_scores``: (N, 1) object-score logits in the order of ``obj_ids`` (torch or numpy), as every
    engine's ``propagate_in_video`` yields them. ``extra``: per object the optional ``iou``,
    ``memory_score`` and ``engine_confidence`` an engine reports besides (see docs/formats.md).
    """
    if hasattr(obj_scores, "detach"):
        obj_scores = obj_scores.detach().float().cpu().numpy()
    values = np.asarray(obj_scores, dtype=np.float64).reshape(-1)
    ids = [int(o) for o in obj_ids]
    if values.size != len(ids):
        raise ValueError(f"{values.size} object scores for {len(ids)} objects")
    extra = extra or {}
    out = {}
    for obj_id, value in zip(ids, values.tolist()):
        more = extra.get(obj_id, {})
        out[obj_id] = FrameScore(value, more.get("iou"), more.get("memory_score"),
                                 more.get("engine_confidence"))
    return out


def engine_scores(engine: Engine, state: Any, frame_idx: int, obj_ids: Iterable[int],
                  obj_scores: Any) -> dict[int, FrameScore]:
    """The scores of one propagated frame: the yielded object scores plus the engine's richer per-object
    confidence (``frame_scores``, a capability every engine declares: sam3core/engine.py; SAM 2.1 / SAM 3
    give the predicted IoU and SAM 3's memory-selection score)."""
    return scores_from_output(obj_ids, obj_scores, engine.frame_scores(state, int(frame_idx)))


class TrackRecorder:
    """Provenance of one propagation run: engine, model, direction, and the prompted frame each tracked
    frame descends from (the nearest prompted frame of that object behind it in the direction of travel).

    On a frame the object is prompted on, the result is the prompt's answer: it keeps its own kind
    (prompted / painted / imported, from ``existing``) and only gains the engine's score.
    """

    def __init__(self, prompts: Iterable[Prompt], engine: str, model: str = "", *, reverse: bool = False,
                 start: int = 0, existing: Mapping[tuple[int, int], MaskInfo] | None = None) -> None:
        self.engine, self.model, self.reverse, self.start = engine, model, reverse, start
        self.at = utc_now()
        self._prompts: dict[tuple[int, int], Prompt] = {}
        self._frames: dict[int, list[int]] = {}
        for p in prompts:
            if p.is_empty:
                continue
            self._prompts[(p.frame, p.obj_id)] = p
            self._frames.setdefault(p.obj_id, []).append(p.frame)
        for frames in self._frames.values():
            frames.sort()
        self._existing = dict(existing or {})

    def source_frame(self, frame: int, obj_id: int) -> int:
        frames = self._frames.get(obj_id, [])
        if self.reverse:
            k = bisect_left(frames, frame)
            return frames[k] if k < len(frames) else self.start
        k = bisect_right(frames, frame)
        return frames[k - 1] if k else self.start

    def infos(self, frame: int, scores: Mapping[int, FrameScore]) -> list[MaskInfo]:
        out = []
        for obj_id, score in scores.items():
            prompt = self._prompts.get((frame, obj_id))
            if prompt is not None:
                old = self._existing.get((frame, obj_id))
                origin = old.origin if old is not None else prompt_origin(prompt, self.engine, self.model)
            else:
                direction = "backward" if self.reverse else "forward"
                origin = Origin("tracked", self.engine, self.model, self.source_frame(frame, obj_id), self.at,
                                f"propagated {direction} from frame {self.start}")
            out.append(MaskInfo(frame, obj_id, origin, score))
        return out


def tracked_provenance(project: Any, prompts: Iterable[Prompt], requests: Iterable[Any], engine: str,
                       model: str = "") -> dict[Any, TrackRecorder]:
    """One :class:`TrackRecorder` per propagation request (``start``/``reverse`` attributes), sharing the
    provenance already stored on the prompted frames (read once, before the run)."""
    prompts = [p for p in prompts if not p.is_empty]
    keys = {(p.frame, p.obj_id) for p in prompts}
    existing = {(i.frame, i.obj_id): i for f in sorted({f for f, _ in keys})
                for i in mask_infos(project, frame=f) if (i.frame, i.obj_id) in keys}
    return {r: TrackRecorder(prompts, engine, model, reverse=r.reverse, start=r.start, existing=existing)
            for r in requests}
