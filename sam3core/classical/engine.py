"""The classical engine: the SAM tracker's predictor API on GrabCut + DIS optical flow, no weights.

Prompted frames are anchors: propagation re-uses the prompt's own mask there (clicks/box -> GrabCut
result, a painted mask exactly as given) and carries it onwards with optical flow and a narrow-band
GrabCut refinement, so a new prompt on a later frame corrects the track from that frame on. The no-
overlap rule is documented in :mod:`sam3core.classical.refine`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from sam3core.classical import inputs
from sam3core.classical.boxmotion import VETO_OFFSETS, veto_background_motion
from sam3core.classical.grabcut import Box, Point
from sam3core.classical.occlusion import HiddenShape, carried, object_motion, update_hidden
from sam3core.classical.propagate import (
    FlowField,
    bounding_box,
    colour_probability,
    exit_sides,
    flow_trust,
    pixel_grid,
    redetect,
    update_colour_model,
)
from sam3core.classical.refine import LOGIT_LIMIT, refine_band, resolve_overlaps, signed_distance_logits
from sam3core.classical.segment import (
    click_box,
    memory_from_mask,
    negative_step,
    refine_prompt,
    segment_prompt,
)
from sam3core.classical.state import (
    ClassicalSession,
    ClassicalSettings,
    FrameCache,
    FramePrompt,
    ObjectTrack,
    PackedMask,
)
from sam3core.classical.track import blend_appearance, learn_appearance, track_step, warp_soft
from sam3core.engine import (
    NOTHING_TO_PROPAGATE,
    FrameScores,
    MaskResult,
    PropagationResult,
    RemoveResult,
    StopCheck,
    default_start_frame,
    frame_order,
)
from sam3core.errors import EngineInputError, ObjectIdError, PromptError
from sam3core.runtime.heap import trim_heap
from sam3core.validate import check_prompt
from sam3core.video import VideoSource

LOW_RES = 256  # side of the low-resolution mask output, as SAM's decoder gives
_MIN_AREA = 6  # work pixels below which a warped object counts as gone
_GONE_FRACTION = 0.04  # of the object's typical area: less than this left counts as gone
_EDGE_GONE_FRACTION = 0.15  # the same for a remnant at the frame edge
_SPECK_FRACTION = 0.08  # of the typical area: smaller fragments of a tracked mask are dropped
_COLOUR_EVERY = 5  # frames between colour-model updates while tracking
_ADAPT_CONFIDENCE = 0.6  # a tracked frame at least this sure may teach the fine colour model
_REDETECT_CONFIDENCE = 0.5  # re-found by colour alone: present, but the timeline should say "check"
_REJECT_MARGIN = np.ones((7, 7), np.uint8)  # an erased region kept off with 3 work px of slack (flow lag)


class ClassicalEngine:
    """No-weights engine; ``settings`` trades accuracy for speed (see docs/classical.md)."""

    name = "classical"

    def __init__(self, settings: ClassicalSettings | None = None) -> None:
        self.settings = settings or ClassicalSettings()
        self.device = torch.device("cpu")

    # -- session ------------------------------------------------------------------------------
    def init_state(self, video_path: str | Path | None = None, *, video: VideoSource | None = None,
                   offload_video_to_cpu: bool = False, offload_state_to_cpu: bool = False,
                   async_loading_frames: bool = False) -> ClassicalSession:
        """Open a session on a video file/frame folder, or on an already open ``VideoSource``.

        The offload/async flags exist for API compatibility; this engine always works on the CPU and
        decodes lazily.
        """
        if (video_path is None) == (video is None):
            raise EngineInputError("pass exactly one of video_path or video=VideoSource")
        owns = video is None
        source = VideoSource(video_path) if video is None else video  # type: ignore[arg-type]
        if not isinstance(source, VideoSource):
            raise TypeError(f"video must be a VideoSource, got {type(source).__name__}")
        h, w = source.height, source.width
        scale = min(1.0, self.settings.work_long_side / max(h, w))
        # A long thin strip (8192x64) must keep its short side: optical flow pyramids need ~32 pixels.
        scale = max(scale, min(1.0, 32 / min(h, w)))
        ww, wh = max(8, round(w * scale)), max(8, round(h * scale))
        return ClassicalSession(video=source, owns_video=owns, frames=FrameCache(source, (ww, wh)),
                                height=h, width=w, work_height=wh, work_width=ww)

    def reset_state(self, inference_state: ClassicalSession) -> None:
        """Forget every object, prompt and result (the video stays open)."""
        state = inputs.check_session(inference_state)
        state.tracks.clear()
        state.frames_tracked.clear()
        state.frames.clear()

    def clear_all_points_in_video(self, inference_state: ClassicalSession) -> None:
        self.reset_state(inference_state)

    def close(self, inference_state: ClassicalSession) -> None:
        """Release the decoder if this session opened it."""
        state = inputs.check_session(inference_state)
        state.frames.clear()
        if state.owns_video:
            state.video.close()

    def frame_scores(self, inference_state: ClassicalSession, frame_idx: int) -> FrameScores:
        """``{obj_id: {"engine_confidence": 0..1}}`` for the objects with a result on ``frame_idx``.

        1.0 on a prompted frame; on a tracked frame how well the result agrees with the optical-flow
        prior, the object's colours and its usual size (:meth:`ClassicalSession.confidence`); 0.0
        where the engine dropped the object as lost.
        """
        state = inputs.check_session(inference_state)
        frame = inputs.check_frame(state, frame_idx)
        return {o: {"engine_confidence": float(t.confidence[frame])}
                for o, t in state.tracks.items() if frame in t.confidence}

    def prefetch_features(self, inference_state: ClassicalSession, frame_idx: int,
                          should_stop: StopCheck | None = None) -> bool:
        """Nothing to encode ahead of a click: the frame is segmented from its pixels (always False)."""
        inputs.check_frame(inputs.check_session(inference_state), frame_idx)
        return False

    # -- prompts ------------------------------------------------------------------------------
    def add_new_points_or_box(self, inference_state: ClassicalSession, frame_idx: int, obj_id: int,
                              points: Any = None, labels: Any = None, clear_old_points: bool = True,
                              rel_coordinates: bool = True, box: Any = None) -> MaskResult:
        """Clicks and/or a box on one frame; returns (frame_idx, obj_ids, low_res, video_res) masks."""
        state = inputs.check_session(inference_state)
        frame = inputs.check_frame(state, frame_idx)
        obj = inputs.check_obj_id(obj_id)
        # The shared check (sam3core.validate): refuses what the CLI and the project store refuse.
        check_prompt(points, labels, box, width=state.width, height=state.height,
                     rel_coordinates=rel_coordinates)
        new_points = inputs.parse_points(state, points, labels, rel_coordinates)
        new_box = inputs.parse_box(state, box, rel_coordinates)
        if not new_points and new_box is None:
            raise PromptError("give at least one point or a box")
        if new_box is not None and not clear_old_points:
            raise PromptError("a box replaces the frame's prompt: pass clear_old_points=True with a box")
        track = state.tracks.setdefault(obj, ObjectTrack(obj))
        prev = track.prompts.get(frame)
        if clear_old_points:
            all_points, all_box = new_points, new_box
        else:
            all_points = (prev.points if prev is not None else []) + new_points
            all_box = prev.box if prev is not None else None

        s = state.scale
        to_work = [(x * s, y * s, lab) for x, y, lab in all_points]
        box_work = None if all_box is None else (all_box[0] * s, all_box[1] * s, all_box[2] * s,
                                                 all_box[3] * s)
        image = state.frames.rgb(frame)
        it = self.settings
        memory = prev.grabcut if prev is not None else None
        old_points = prev.points if prev is not None else []
        continues = (memory is not None and prev is not None and prev.box == all_box
                     and all(p in all_points for p in old_points))
        reused = False  # the frame's stored result comes back unchanged
        guessed = False  # clicks alone were cut in a box guessed around them
        existing = None  # the tracked or painted mask that clicks on this frame correct
        base = prev.base if continues and prev is not None else None
        if continues and memory is not None:
            added = [(x * s, y * s, lab) for x, y, lab in all_points if (x, y, lab) not in old_points]
            if added:
                mask, memory = refine_prompt(image, memory, added, to_work, box_work, it.click_refine_iters)
                assert prev is not None and prev.result is not None
                mask = negative_step(mask, memory, added, prev.result.unpack(), image)
            else:
                assert prev is not None and prev.result is not None
                mask, reused = prev.result.unpack(), True
        else:
            # Clicks correct what the frame shows: a painted mask, or the tracked result of a frame
            # without a prompt; a changed click set (a click taken back) starts afresh.
            if all_box is None and prev is not None and prev.mask is not None and prev.result is not None:
                existing = prev.result.unpack()
            elif all_box is None and prev is None and frame in track.outputs:
                existing = track.outputs[frame].unpack()
            if existing is not None and existing.any():
                base = PackedMask.pack(existing)
                mask, memory = refine_prompt(image, memory_from_mask(existing), to_work, to_work, None,
                                             it.click_iters)
                mask = negative_step(mask, memory, to_work, existing, image)
            else:
                cut_in = box_work
                if cut_in is None and it.click_box > 0:
                    # Clicks alone, no box: cut in a box guessed around them (docs/classical.md).
                    cut_in = click_box(to_work, image.shape[0], image.shape[1], it.click_box)
                mask, memory = segment_prompt(image, to_work, cut_in, it.click_iters,
                                              tight=box_work is not None)
                guessed = box_work is None and cut_in is not None
        if not reused and mask.any():
            if box_work is not None and it.box_motion_veto:
                mask = self._motion_veto(state, frame, mask, box_work, to_work)
            elif box_work is None and it.click_motion_veto and any(lab == 1 for _x, _y, lab in to_work):
                # Clicks have no box: the mask's own box stands in for it (the ring around it is
                # then mostly background, so a leak moving with it is found; docs/classical.md).
                # The tracked or painted mask that clicks correct is not judged, only what they
                # add to it: an object that moves like its background (a goat the camera follows)
                # would lose its body. Clicks alone are judged whole each time (the leak an earlier
                # click let in shows once the mask's box has grown: NoC@85 9 -> 20 on
                # horsejump-high when only the new pixels were).
                x0, y0, x1, y1 = bounding_box(mask) or (0, 0, 0, 0)
                vetoed = self._motion_veto(state, frame, mask, (x0, y0, x1, y1), to_work)
                mask = vetoed if base is None else vetoed | (mask & base.unpack())
        if guessed and mask.any():
            # Further clicks correct this mask as they would a painted one: the guessed box is no
            # limit to them (second click J over 51 DAVIS frame-0s 0.659, against 0.649 continuing
            # the guessed box's cut).
            memory = memory_from_mask(mask)
        track.rejected.pop(frame, None)  # clicks or a box replace an erased frame's "not here"
        track.prompts[frame] = FramePrompt(points=list(all_points), box=all_box, grabcut=memory,
                                           result=PackedMask.pack(mask), base=base)
        track.confidence[frame] = 1.0
        track.colour = update_colour_model(track.colour, image, mask)
        return self._frame_output(state, frame)

    def _motion_veto(self, state: ClassicalSession, frame: int, mask: np.ndarray, box: Box,
                     points: list[Point]) -> np.ndarray:
        """``mask`` less what moves like the background around ``box`` (sam3core.classical.boxmotion):
        the neighbour frames (nearest first, read only as far as needed) tell enclosed background
        from object."""
        if state.num_frames < 2:
            return mask
        step = 1 if frame + 1 < state.num_frames else -1
        near = [frame + step * k for k in VETO_OFFSETS if 0 <= frame + step * k < state.num_frames]
        later = (state.frames.grey(t) for t in near)
        return veto_background_motion(mask, state.frames.grey(frame), later, box, points,
                                      FlowField(self.settings.flow_preset), state.frames.rgb(frame))

    def add_new_points(self, inference_state: ClassicalSession, frame_idx: int, obj_id: int, points: Any,
                       labels: Any, clear_old_points: bool = True,
                       rel_coordinates: bool = True) -> MaskResult:
        return self.add_new_points_or_box(inference_state, frame_idx, obj_id, points=points, labels=labels,
                                          clear_old_points=clear_old_points, rel_coordinates=rel_coordinates)

    def add_new_mask(self, inference_state: ClassicalSession, frame_idx: int, obj_id: int,
                     mask: Any) -> MaskResult:
        """A painted (H, W) mask becomes the object's anchor on this frame, kept exactly as given."""
        state = inputs.check_session(inference_state)
        frame = inputs.check_frame(state, frame_idx)
        obj = inputs.check_obj_id(obj_id)
        full = inputs.parse_mask(state, mask)
        work = self._to_work(state, full)
        track = state.tracks.setdefault(obj, ObjectTrack(obj))
        shown = track.outputs.get(frame)
        if not work.any() and shown is not None and shown.bits.any():
            track.rejected[frame] = shown  # erased as wrong: whatever it lay on is not the object
        else:
            track.rejected.pop(frame, None)
        track.prompts[frame] = FramePrompt(mask=PackedMask.pack(full), result=PackedMask.pack(work))
        track.confidence[frame] = 1.0
        track.colour = update_colour_model(track.colour, state.frames.rgb(frame), work)
        return self._frame_output(state, frame)

    def clear_all_prompts_in_frame(self, inference_state: ClassicalSession, frame_idx: int, obj_id: int,
                                   need_output: bool = True) -> MaskResult | None:
        """Drop one object's prompt and result on one frame."""
        state = inputs.check_session(inference_state)
        frame = inputs.check_frame(state, frame_idx)
        track = state.tracks.get(inputs.check_obj_id(obj_id))
        if track is not None:
            track.prompts.pop(frame, None)
            track.outputs.pop(frame, None)
            track.confidence.pop(frame, None)
            track.rejected.pop(frame, None)
        return self._frame_output(state, frame) if need_output else None

    def remove_object(self, inference_state: ClassicalSession, obj_id: int, strict: bool = False,
                      need_output: bool = True) -> RemoveResult:
        """Forget an object; returns (remaining obj_ids, [(frame, video_res_masks)] of prompted frames)."""
        state = inputs.check_session(inference_state)
        obj = inputs.check_obj_id(obj_id)
        if obj not in state.tracks:
            if strict:
                raise ObjectIdError(f"object {obj} is not in this session (objects: {state.obj_ids})")
            return state.obj_ids, []
        del state.tracks[obj]
        updated: list[tuple[int, torch.Tensor]] = []
        if need_output and state.tracks:
            frames = sorted({f for t in state.tracks.values() for f in t.prompts})
            updated = [(f, self._frame_output(state, f)[3]) for f in frames]
        return state.obj_ids, updated

    # -- propagation --------------------------------------------------------------------------
    @torch.inference_mode()
    def propagate_in_video(self, inference_state: ClassicalSession, start_frame_idx: int | None = None,
                           max_frame_num_to_track: int | None = None, reverse: bool = False,
                           propagate_preflight: bool = False, *,
                           should_stop: StopCheck | None = None) -> Iterator[PropagationResult]:
        """Yield (frame_idx, obj_ids, low_res_masks, video_res_masks, obj_scores) frame by frame;
        ``should_stop`` is asked before each frame (one takes tens of milliseconds)."""
        state = inputs.check_session(inference_state)
        prompted = {f for t in state.tracks.values() for f in t.prompts}
        if not prompted:
            raise PromptError(NOTHING_TO_PROPAGATE)
        start = default_start_frame(prompted) if start_frame_idx is None else start_frame_idx
        order = list(frame_order(state.num_frames, start, max_frame_num_to_track, reverse))
        try:
            yield from self._track(state, order, should_stop)
        finally:
            # Each frame allocates and frees a few MB (frames, masks, flow fields) below glibc's mmap
            # threshold; without handing the free pages back the resident size only grows (measured on a
            # 200-frame 960x540 run with two objects: RSS +133 to +190 MB, back below the start with it).
            trim_heap()

    def _track(self, state: ClassicalSession, order: list[int],
               should_stop: StopCheck | None = None) -> Iterator[PropagationResult]:
        it = self.settings
        flow = FlowField(it.flow_preset)
        grid = pixel_grid(state.work_height, state.work_width)
        reach = it.reach_px(max(state.work_height, state.work_width))
        # obj -> soft map (work resolution, 0..1) on the previous frame (None: not started yet)
        soft: dict[int, np.ndarray | None] = {}
        lost_for: dict[int, int] = {}
        running: dict[int, float] = {}  # obj -> confidence reported on the previous frame
        hidden: dict[int, HiddenShape | None] = {}  # obj -> its whole shape while partly hidden
        rejected: dict[int, np.ndarray] = {}  # obj -> what the user erased, carried by the flow
        prev_t: int | None = None
        prev_lab: np.ndarray | None = None
        for step, t in enumerate(order):
            if should_stop is not None and should_stop():
                return
            ids = state.obj_ids
            image = state.frames.rgb(t)
            backward = trust = None
            if prev_t is not None and any(soft.get(o) is not None for o in ids):
                backward = flow.backward(state.frames.grey(t), state.frames.grey(prev_t))
                if it.fb_check:
                    forward = flow.backward(state.frames.grey(prev_t), state.frames.grey(t))
                    trust = flow_trust(backward, forward, grid)
            masks: dict[int, np.ndarray] = {}
            softs: dict[int, np.ndarray] = {}
            lab = None  # this frame in CIE Lab, made when the local model first needs it
            confidence: dict[int, float] = {}
            for o in ids:
                track = state.tracks[o]
                prompt = track.prompts.get(t)
                old = soft.get(o)
                if o in rejected and backward is not None:
                    rejected[o] = warp_soft(rejected[o], backward, grid)
                if prompt is not None and prompt.result is not None:
                    masks[o] = prompt.result.unpack()
                    confidence[o] = 1.0
                    if it.redetect and not masks[o].any():
                        if t in track.rejected:
                            rejected[o] = track.rejected[t].unpack().astype(np.float32)
                        elif old is not None and old.any() and backward is not None:
                            # Tracked into the empty anchor (a session rebuilt from the prompts has
                            # no shown mask to remember): what the track would claim is rejected.
                            rejected[o] = warp_soft(old, backward, grid)
                    # An anchor is the object's whole shape as the user gave it.
                    hidden[o] = update_hidden(None, masks[o].astype(np.float32), masks[o],
                                              float(np.count_nonzero(masks[o])), None)
                elif old is not None and backward is not None:
                    ref = (track.colour.ref_area if track.colour is not None
                           else float(np.count_nonzero(old > 0.5)))
                    local = None
                    if it.local_weight > 0 and prev_t is not None:
                        if prev_lab is None:
                            prev_lab = cv2.cvtColor(state.frames.rgb(prev_t), cv2.COLOR_RGB2LAB)
                        if lab is None:
                            lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
                        local = (prev_lab, lab)
                    # The whole shape carried through an occlusion, only while part of the
                    # object is still seen: one that vanished comes back through re-detection.
                    carry = carried(hidden.get(o)) if it.occlusion_carry and old.any() else None
                    res = track_step(old, backward, grid, image, track.appearance,
                                     colour_weight=it.colour_weight, reach_px=reach,
                                     prior_blur=it.prior_blur, ref_area=ref,
                                     shape_penalty=it.shape_penalty, motion_penalty=it.motion_penalty,
                                     trust=trust, local=local, local_weight=it.local_weight,
                                     local_cell=it.local_cell, motion_contrast=it.motion_contrast,
                                     motion_reward=it.motion_reward,
                                     carry=carry,
                                     carry_prior=it.carry_prior, edge_entry=it.edge_entry)
                    mask = res.mask
                    if it.band_refine and track.colour is not None:
                        # Video SnapCut's local re-decision along the outline: GrabCut on a narrow
                        # band learns this frame's colours where the flow-carried edge is unsure.
                        mask = refine_band(image, mask, 0.12, 1, colour_probability(track.colour, image),
                                           track.colour.ref_area)
                    mask = self._drop_specks(track, mask)
                    if it.occlusion_carry:
                        hidden[o] = update_hidden(hidden.get(o), res.soft, mask, ref,
                                                  object_motion(backward, res.core))
                    # A track is no surer than its least sure step since the last anchor: errors
                    # carried by the flow do not heal by themselves, so the confidence climbs back
                    # only slowly (docs/classical.md, "Confidence").
                    sure = min(res.confidence, running.get(o, 1.0) + it.confidence_recovery)
                    if self._vanished(track, mask) or sure < it.min_confidence:
                        # Unsure or gone: claim nothing rather than drift onto a neighbour.
                        masks[o] = np.zeros_like(mask)
                        confidence[o] = 0.0
                    else:
                        masks[o] = mask
                        softs[o] = np.where(mask, res.soft, np.minimum(res.soft, 0.49))
                        confidence[o] = sure
                elif step == 0 and t in track.outputs:
                    masks[o] = track.outputs[t].unpack()  # continue from what is shown on the start frame
                    confidence[o] = track.confidence.get(t, 1.0)
            if it.redetect:
                self._redetect(state, t, image, masks, soft, lost_for, confidence, rejected)
            work_logits = self._resolve_work(state, t, masks)
            for o in ids:
                if o not in masks:
                    continue
                track = state.tracks[o]
                final = work_logits[o] > 0
                # The overlap rule may have taken pixels: the soft map follows the final mask.
                base = softs.get(o, final.astype(np.float32))
                soft[o] = np.where(final, np.maximum(base, 0.51), np.minimum(base, 0.49)).astype(np.float32)
                track.outputs[t] = PackedMask.pack(final)
                track.confidence[t] = confidence.get(o, 1.0) if final.any() else 0.0
                running[o] = track.confidence[t]
                if t in track.prompts:
                    # An anchor restarts the colour models from the user's mask (after the overlap
                    # rule, so another object's colours are not learnt as this one's). An empty one
                    # says "not seen here" and teaches no colours: the object keeps its model, so it
                    # is found again when it comes back.
                    track.colour = update_colour_model(None, image, final) or track.colour
                    if track.prompts[t].base is not None and track.appearance is not None:
                        # A correction fixes a local error; restarting the fine model from it threw
                        # away what the first prompt taught (a negative click on a drift car's
                        # shadow that took a wheel: re-tracking from it lost the car, docs/classical.md).
                        track.appearance = blend_appearance(track.appearance, image, final,
                                                            it.correction_rate, reach)
                    else:
                        track.appearance = learn_appearance(image, final, reach) or track.appearance
                elif step % _COLOUR_EVERY == 0:
                    track.colour = update_colour_model(track.colour, image, final)
                    if (it.appearance_rate > 0 and track.appearance is not None
                            and confidence.get(o, 0.0) >= _ADAPT_CONFIDENCE):
                        # The object turns and the light changes: the fine model follows slowly, and
                        # only from frames the engine is sure of, so a drift is not learnt as object.
                        track.appearance = blend_appearance(track.appearance, image, final,
                                                            it.appearance_rate, reach)
            state.frames_tracked.add(t)
            prev_t = t
            prev_lab = lab
            frame_idx, obj_ids, low, video = self._frame_output(state, t)
            yield frame_idx, obj_ids, low, video, self._scores(state, t, obj_ids)

    def _scores(self, state: ClassicalSession, frame: int, ids: list[int]) -> torch.Tensor:
        """(N, 1) presence logits: > 0 where a mask is shown, scaled by the engine's confidence.

        A shown mask scores ``+0.5 .. +10`` (confidence ``min_confidence`` .. 1), an object without a
        mask ``-10``; :meth:`ClassicalSession.confidence` gives the raw values.
        """
        out = np.full((len(ids), 1), -LOGIT_LIMIT, np.float32)
        floor = self.settings.min_confidence
        span = max(1.0 - floor, 1e-6)
        for k, o in enumerate(ids):
            track = state.tracks[o]
            shown = track.outputs.get(frame)
            if shown is not None and shown.bits.any():
                conf = track.confidence.get(frame, 1.0)
                out[k, 0] = 0.5 + (LOGIT_LIMIT - 0.5) * float(np.clip((conf - floor) / span, 0.0, 1.0))
        return torch.from_numpy(out)

    @staticmethod
    def _vanished(track: ObjectTrack, warped: np.ndarray) -> bool:
        """A sliver left of an object (e.g. stuck at the frame edge after it left) counts as gone."""
        area = np.count_nonzero(warped)
        ref = track.colour.ref_area if track.colour is not None else 0.0
        if area < max(_MIN_AREA, _GONE_FRACTION * ref):
            return True
        # At the frame edge a leaving object's last pixels blend with the background they uncover;
        # a larger remnant counts as gone there (re-detection brings it back when it returns).
        return any(exit_sides(warped)) and area < _EDGE_GONE_FRACTION * ref

    @staticmethod
    def _drop_specks(track: ObjectTrack, mask: np.ndarray) -> np.ndarray:
        """Remove fragments far smaller than the object (left-overs where it was)."""
        if track.colour is None:
            return mask
        count, comp, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        if count <= 1:
            return mask
        keep = stats[:, cv2.CC_STAT_AREA] >= max(_MIN_AREA, _SPECK_FRACTION * track.colour.ref_area)
        keep[0] = False
        return keep[comp]

    def _redetect(self, state: ClassicalSession, frame: int, image: np.ndarray, masks: dict[int, np.ndarray],
                  soft: dict[int, np.ndarray | None], lost_for: dict[int, int],
                  confidence: dict[int, float], rejected: dict[int, np.ndarray]) -> None:
        """Bring back objects that were tracked, vanished, and reappear (by their colour model).

        ``rejected``: per object, where a mask the user erased (an empty anchor) has moved to. It lay on
        something of the object's colours that is not the object (a neighbour it drifted onto), so a
        region there is not taken for the object coming back.
        """
        for o, mask in masks.items():
            track = state.tracks[o]
            if mask.any():
                rejected.pop(o, None)  # seen again: what was erased before no longer tells anything
            if mask.any() or soft.get(o) is None or track.colour is None:
                lost_for.pop(o, None)
                continue
            if frame in track.prompts:
                continue  # the user's own answer on this frame (an empty mask: not seen here) stands
            if o not in lost_for:
                # Where it was last seen decides where it may come back: through the edge it left
                # by, or near where it was hidden.
                last = soft[o] > 0.5  # type: ignore[operator]
                box = bounding_box(last)
                if box is not None:
                    track.colour = replace(track.colour, last_box=box, exit_sides=exit_sides(last))
            lost_for[o] = lost_for.get(o, 0) + 1
            taken = np.zeros_like(mask)
            for other, m in masks.items():
                if other != o:
                    taken |= m
            if o in rejected:
                taken |= cv2.dilate((rejected[o] > 0.5).astype(np.uint8), _REJECT_MARGIN) > 0
            found = redetect(track.colour, image, taken, lost_for[o])
            if found is not None and self.settings.min_confidence <= _REDETECT_CONFIDENCE:
                masks[o] = refine_band(image, found, 0.12, 1)
                confidence[o] = _REDETECT_CONFIDENCE

    # -- outputs ------------------------------------------------------------------------------
    def _to_work(self, state: ClassicalSession, full: np.ndarray) -> np.ndarray:
        if full.shape == (state.work_height, state.work_width):
            return full.copy()
        small = cv2.resize(full.astype(np.float32), (state.work_width, state.work_height),
                           interpolation=cv2.INTER_AREA)
        return small >= 0.5

    def _resolve_work(self, state: ClassicalSession, frame: int, masks: dict[int, np.ndarray],
                      ) -> dict[int, np.ndarray]:
        """Work-resolution logits of the objects in ``masks`` after the no-overlap rule."""
        ids = list(masks)
        if not ids:
            return {}
        stack = np.stack([signed_distance_logits(masks[o], self.settings.logit_scale) for o in ids])
        extent = np.array([self._prompt_extent(state, state.tracks[o], frame) for o in ids])
        stack = resolve_overlaps(stack, extent)
        return {o: stack[k] for k, o in enumerate(ids)}

    @staticmethod
    def _prompt_extent(state: ClassicalSession, track: ObjectTrack, frame: int) -> float:
        """Work-pixel area a prompt on ``frame`` covers (box, else its mask); NaN without a prompt."""
        prompt = track.prompts.get(frame)
        if prompt is None:
            return float("nan")
        if prompt.box is not None:
            x0, y0, x1, y1 = prompt.box
            return (x1 - x0) * (y1 - y0) * state.scale**2
        if prompt.result is not None:
            return float(np.count_nonzero(prompt.result.unpack()))
        return float("nan")

    def _frame_output(self, state: ClassicalSession, frame: int) -> MaskResult:
        """All objects' masks on ``frame``: (frame, obj_ids, low_res (N,1,256,256), video_res (N,1,H,W))."""
        ids = state.obj_ids
        h, w = state.height, state.width
        full = np.full((len(ids), h, w), -LOGIT_LIMIT, np.float32)
        extent = np.array([self._prompt_extent(state, state.tracks[o], frame) for o in ids])
        work_masks: dict[int, np.ndarray] = {}
        for k, o in enumerate(ids):
            track = state.tracks[o]
            prompt = track.prompts.get(frame)
            if prompt is not None and prompt.mask is not None:
                full[k] = np.where(prompt.mask.unpack(), LOGIT_LIMIT, -LOGIT_LIMIT)
                continue
            source = prompt.result if prompt is not None else track.outputs.get(frame)
            if source is not None:
                work_masks[o] = source.unpack()
        if work_masks:
            resolved = self._resolve_work(state, frame, work_masks)
            for k, o in enumerate(ids):
                if o in resolved:
                    full[k] = cv2.resize(resolved[o], (w, h), interpolation=cv2.INTER_LINEAR)
        full = resolve_overlaps(full, extent)
        low = np.stack([cv2.resize(m, (LOW_RES, LOW_RES), interpolation=cv2.INTER_LINEAR) for m in full]) \
            if len(ids) else np.zeros((0, LOW_RES, LOW_RES), np.float32)
        return frame, ids, torch.from_numpy(low[:, None]), torch.from_numpy(full[:, None])
