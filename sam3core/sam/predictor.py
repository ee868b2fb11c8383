"""The seed notebook's stateful video predictor API on top of :class:`~sam3core.sam.tracker.TrackerModel`.

Differences from the reference, all on the side of memory and interactivity:
frames are decoded on demand through :class:`~sam3core.video.VideoSource` (never all held as tensors);
image features of the last few visited frames are cached, so another click on a frame runs only the
prompt encoder and the decoder; results are kept per object on CPU, and spatial memories of tracked frames
are kept for a bounded window and recomputed exactly when needed again; objects may be added at any time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from sam3core.engine import (
    NOTHING_TO_PROPAGATE,
    FrameScores,
    MaskResult,
    PropagationResult,
    RemoveResult,
    StopCheck,
    check_frame_index,
    check_object_id,
    default_start_frame,
    frame_order,
)
from sam3core.errors import EngineInputError, ObjectIdError, PromptError
from sam3core.runtime.heap import off_heap, recycle_heap, trim_heap
from sam3core.runtime.prefetch import BLOCK_STACKS, EncodingStoppedError, stop_between_blocks
from sam3core.sam.consolidation import clear_around, clearing_applies, consolidate_prompted_frames
from sam3core.sam.inference_state import FrameFeatures, FrameMemory, ObjectState, PointPrompt, Session
from sam3core.sam.memory import ObjectBank, memory_score
from sam3core.sam.postprocess import fill_small_holes
from sam3core.sam.preprocess import Preprocessor
from sam3core.sam.prompt_input import concat_prompts, limit_points, to_mask_input, to_point_prompt
from sam3core.sam.tracker import NO_OBJ_SCORE, StepOutput, TrackerModel, non_overlapping
from sam3core.video import VideoSource


class SamPredictor:
    """SAM 2.1 / SAM 3 video predictor with the seed notebook's calls (``name`` and ``device`` exposed)."""

    def __init__(self, model: TrackerModel, *, name: str, feature_cache_size: int = 4,
                 memory_cache_size: int = 32) -> None:
        self.model = model.eval()
        self.name = name
        self.config = model.config
        self.preprocess = Preprocessor(model.config.preprocess)
        self.feature_cache_size = feature_cache_size
        self.memory_cache_size = max(memory_cache_size, 2 * model.config.num_maskmem)
        recycle_heap()

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def image_size(self) -> int:
        return self.config.image_size

    def autocast(self) -> contextlib.AbstractContextManager:
        """bfloat16 autocast on CUDA (as the reference), nothing elsewhere."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- session ------------------------------------------------------------------------------
    @torch.inference_mode()
    def init_state(self, video_path: str | Path | None = None, *, video: VideoSource | None = None,
                   offload_video_to_cpu: bool = False, offload_state_to_cpu: bool = False,
                   async_loading_frames: bool = False) -> Session:
        """Open a session on a video file / frame folder, or on an already open :class:`VideoSource`.

        ``offload_video_to_cpu`` and ``async_loading_frames`` are accepted for compatibility: frames are
        always decoded on demand on the CPU. ``offload_state_to_cpu`` keeps spatial memories on the CPU.
        """
        del async_loading_frames
        if (video_path is None) == (video is None):
            raise EngineInputError("give exactly one of video_path or video")
        owns = video is None
        source = VideoSource(video_path, cache_frames=8) if video is None else video
        device = self.device
        return Session(video=source, num_frames=source.num_frames, video_height=source.height,
                       video_width=source.width, device=device,
                       storage_device=torch.device("cpu") if offload_state_to_cpu else device,
                       offload_video_to_cpu=offload_video_to_cpu, offload_state_to_cpu=offload_state_to_cpu,
                       owns_video=owns, feature_cache_size=self.feature_cache_size,
                       memory_cache_size=self.memory_cache_size)

    @torch.inference_mode()
    def reset_state(self, inference_state: Session) -> None:
        """Forget every object, prompt and result (cached image features stay: same video)."""
        for obj in inference_state.objects.values():
            obj.clear_results()
        inference_state.objects.clear()
        inference_state.memory_lru.clear()

    def clear_all_points_in_video(self, inference_state: Session) -> None:
        self.reset_state(inference_state)

    @torch.inference_mode()
    def prefetch_features(self, inference_state: Session, frame_idx: int,
                          should_stop: Callable[[], bool] | None = None) -> bool:
        """Encode a frame into the session's feature cache before it is clicked (an app calls this while
        the user looks at the frame), so the click runs only the prompt encoder and the decoder.

        ``should_stop`` is asked between image-encoder blocks; True abandons the encoding, caching
        nothing. Returns whether features were computed now (False: cached already, or stopped).
        """
        frame_idx = check_frame_index(frame_idx, inference_state.num_frames)
        if frame_idx in inference_state.feature_cache:
            return False
        try:
            with stop_between_blocks(self.model.image_encoder, should_stop):
                self.frame_features(inference_state, frame_idx)
        except EncodingStoppedError:
            return False
        finally:
            trim_heap()  # the encoder's temporaries: an idle app keeps only what it holds
        return True

    # -- prompts ------------------------------------------------------------------------------
    @torch.inference_mode()
    def add_new_points_or_box(self, inference_state: Session, frame_idx: int, obj_id: int, points: Any = None,
                              labels: Any = None, clear_old_points: bool = True, rel_coordinates: bool = True,
                              box: Any = None, normalize_coords: bool = True) -> MaskResult:
        """Clicks and/or a box on one frame for one object -> ``(frame_idx, obj_ids, low_res, video_res)``.

        Coordinates are fractions of the frame (0..1) with ``rel_coordinates=True`` (default), video pixels
        otherwise. With ``clear_old_points=False`` the clicks are added to the frame's earlier ones.
        """
        del normalize_coords  # the reference's pixel flag; ``rel_coordinates`` decides here
        session = inference_state
        frame_idx = check_frame_index(frame_idx, session.num_frames)
        obj_id = check_object_id(obj_id)
        if box is not None and not clear_old_points:
            raise PromptError("a box must come before any click on a frame: use clear_old_points=True")
        prompt = to_point_prompt(points, labels, box, rel_coordinates=rel_coordinates,
                                 video_width=session.video_width, video_height=session.video_height,
                                 image_size=self.image_size)
        obj = self._object(session, obj_id)
        old = None if clear_old_points else obj.point_inputs.get(frame_idx)
        prompt = limit_points(concat_prompts(old, prompt), self.config.max_point_num_in_prompt_enc)
        obj.point_inputs[frame_idx] = prompt
        obj.mask_inputs.pop(frame_idx, None)
        is_init, reverse, is_cond = self._frame_role(obj, frame_idx)
        prev = self._lookup(obj, frame_idx, is_cond)
        self.frame_features(session, frame_idx)
        prev_logits = None if prev is None else torch.clamp(prev.pred_masks.to(self.device), -32.0, 32.0)
        entry = self.step(session, obj, frame_idx, is_init_cond_frame=is_init, reverse=reverse,
                           points=prompt, prev_logits=prev_logits)
        (obj.temp_cond if is_cond else obj.temp_non_cond)[frame_idx] = entry
        return self._frame_result(session, frame_idx, is_cond)

    def add_new_points(self, inference_state: Session, frame_idx: int, obj_id: int, points: Any, labels: Any,
                       clear_old_points: bool = True, rel_coordinates: bool = True,
                       normalize_coords: bool = True) -> MaskResult:
        return self.add_new_points_or_box(inference_state, frame_idx, obj_id, points=points, labels=labels,
                                          clear_old_points=clear_old_points, rel_coordinates=rel_coordinates)

    @torch.inference_mode()
    def add_new_mask(self, inference_state: Session, frame_idx: int, obj_id: int, mask: Any) -> MaskResult:
        """A (H, W) mask (video size) as the object's prompt on a frame."""
        session = inference_state
        frame_idx = check_frame_index(frame_idx, session.num_frames)
        obj_id = check_object_id(obj_id)
        mask_in = to_mask_input(mask, self.image_size, session.video_height, session.video_width)
        mask_in = mask_in.to(self.device)
        obj = self._object(session, obj_id)
        obj.mask_inputs[frame_idx] = mask_in
        obj.point_inputs.pop(frame_idx, None)
        is_init, reverse, is_cond = self._frame_role(obj, frame_idx)
        self.frame_features(session, frame_idx)
        entry = self.step(session, obj, frame_idx, is_init_cond_frame=is_init, reverse=reverse,
                           mask_inputs=mask_in)
        (obj.temp_cond if is_cond else obj.temp_non_cond)[frame_idx] = entry
        return self._frame_result(session, frame_idx, is_cond)

    @torch.inference_mode()
    def remove_object(self, inference_state: Session, obj_id: int, strict: bool = False,
                      need_output: bool = True) -> RemoveResult:
        """Drop an object; returns the remaining ids and the re-rendered masks of its prompted frames.

        An unknown id changes nothing, or raises :class:`~sam3core.errors.ObjectIdError` with ``strict``.
        """
        session = inference_state
        obj = session.objects.get(check_object_id(obj_id))
        if obj is None:
            if not strict:
                return session.obj_ids, []
            raise ObjectIdError(f"cannot remove object {obj_id}: no such object (objects: {session.obj_ids})")
        frames = sorted(set(obj.point_inputs) | set(obj.mask_inputs))
        del session.objects[obj_id]
        for key in [k for k in session.memory_lru if k[0] == obj_id]:
            del session.memory_lru[key]
        updated: list[tuple[int, torch.Tensor]] = []
        if need_output and session.objects:
            for frame_idx in frames:
                is_cond = any(frame_idx in o.temp_cond for o in session.objects.values())
                updated.append((frame_idx, self._frame_result(session, frame_idx, is_cond)[3]))
        return session.obj_ids, updated

    # -- propagation --------------------------------------------------------------------------
    @torch.inference_mode()
    def propagate_in_video_preflight(self, inference_state: Session) -> None:
        """Encode the memories of freshly prompted frames and merge them into the memory banks."""
        session = inference_state
        if not session.objects:
            raise PromptError(NOTHING_TO_PROPAGATE)
        clear = clearing_applies(self.config, session)
        if self.config.consolidate_prompted_frames:
            consolidate_prompted_frames(self, session, clear)
        for obj in session.objects.values():
            for temp, bank in ((obj.temp_non_cond, obj.non_cond), (obj.temp_cond, obj.cond)):
                for frame_idx, entry in temp.items():
                    if entry.maskmem_features is None:
                        entry.mask_from_pts = True  # remembered exactly as the user saw it
                        self.encode_entry(session, obj, frame_idx, entry)
                    bank[frame_idx] = entry
                    obj.hidden.discard(frame_idx)
                    if clear:
                        clear_around(self.config, session, frame_idx)
                temp.clear()
            if not obj.cond:
                raise PromptError(f"object {obj.obj_id} has no prompt on any frame: add points, a box or "
                                  "a mask")
            for frame_idx in obj.cond:
                obj.non_cond.pop(frame_idx, None)

    def frame_scores(self, inference_state: Session, frame_idx: int) -> FrameScores:
        """Per object, the confidence of its current result on ``frame_idx`` beyond the object score that
        ``propagate_in_video`` yields: ``iou`` (the decoder's predicted IoU) and ``memory_score`` (SAM 3's
        memory-selection score; None for SAM 2.1). Objects without a result there are left out."""
        frame_idx = check_frame_index(frame_idx, inference_state.num_frames)
        out: FrameScores = {}
        for obj_id, obj in inference_state.objects.items():
            entry = self._lookup(obj, frame_idx, True)
            if entry is None:
                entry = self._lookup(obj, frame_idx, False)
            if entry is not None:
                out[obj_id] = {"iou": entry.iou_score, "memory_score": entry.eff_iou_score}
        return out

    @torch.inference_mode()
    def propagate_in_video(self, inference_state: Session, start_frame_idx: int | None = None,
                           max_frame_num_to_track: int | None = None, reverse: bool = False,
                           propagate_preflight: bool = True, *,
                           should_stop: StopCheck | None = None) -> Iterator[PropagationResult]:
        """Track every object frame by frame; yields ``(frame_idx, obj_ids, low_res, video_res, obj_scores)``.

        Prompts are always merged first (``propagate_preflight`` is accepted for compatibility). Stop
        iterating to cancel: every yielded frame's results are already stored. ``should_stop`` is asked
        before each frame and between the blocks of its networks (a frame takes seconds on a CPU): True
        ends the run, the frame under way not yielded and its partial results dropped.
        """
        del propagate_preflight
        session = inference_state
        self.propagate_in_video_preflight(session)
        if start_frame_idx is None:
            start_frame_idx = default_start_frame(t for obj in session.objects.values() for t in obj.cond)
        order = frame_order(session.num_frames, start_frame_idx, max_frame_num_to_track, reverse)
        clear = clearing_applies(self.config, session)
        try:
            for frame_idx in order:
                if should_stop is not None and should_stop():
                    return
                try:
                    # The hooks come off before the yield: a click between two frames runs unhooked.
                    with stop_between_blocks(self.model, should_stop, BLOCK_STACKS):
                        result = self._track_frame_or_nothing(session, frame_idx, reverse, clear)
                except EncodingStoppedError:
                    return
                # Long-lived results land between the frame's temporaries and fragment the heap: without
                # this the resident size creeps up ~1-2 MB per frame and sits ~350 MB above the live
                # size (measured: 963 vs 590 MB after 20 frames, peak 978 vs 870, for ~4% more time).
                trim_heap()
                yield result
        finally:
            trim_heap()  # also on cancel: an idle app keeps only what it holds

    def _track_frame_or_nothing(self, session: Session, frame_idx: int, reverse: bool,
                                clear: bool) -> PropagationResult:
        """:meth:`_track_frame`; stopped half-way, the objects already stepped on the frame get back the
        result they had there (none, or an older run's), so no unannounced result is ever used."""
        before = {obj_id: (obj.non_cond.get(frame_idx), obj.tracked.get(frame_idx))
                  for obj_id, obj in session.objects.items()}
        try:
            return self._track_frame(session, frame_idx, reverse, clear)
        except EncodingStoppedError:
            for obj_id, (entry, tracked) in before.items():
                obj = session.objects[obj_id]
                if entry is None:
                    obj.non_cond.pop(frame_idx, None)
                else:
                    obj.non_cond[frame_idx] = entry
                if tracked is None:
                    obj.tracked.pop(frame_idx, None)
                else:
                    obj.tracked[frame_idx] = tracked
            raise

    def _track_frame(self, session: Session, frame_idx: int, reverse: bool, clear: bool) -> PropagationResult:
        """Every object's result on one frame: its prompt's or a tracking step's (stored before return)."""
        obj_ids = session.obj_ids
        masks, scores, tracked = [], [], []
        for obj in session.objects.values():
            entry = obj.cond.get(frame_idx)
            if entry is not None:
                if clear:
                    clear_around(self.config, session, frame_idx)
            else:
                entry = self.step(session, obj, frame_idx, is_init_cond_frame=False, reverse=reverse,
                                   run_mem_encoder=True)
                obj.non_cond[frame_idx] = entry
                tracked.append(entry)
            obj.tracked[frame_idx] = reverse
            masks.append(entry.pred_masks)
            scores.append(entry.object_score_logits)
        for obj in session.objects.values():
            obj.hidden.discard(frame_idx)  # this frame's results are current again
        if self.config.shared_memory_selection and len(tracked) > 1:
            shared = sum(float(e.eff_iou_score or 0.0) for e in tracked) / len(tracked)
            for entry in tracked:
                entry.eff_iou_score = shared
        low_res = torch.cat(masks, dim=0).to(self.device)  # (N, 1, h, w)
        return frame_idx, obj_ids, low_res, self._to_video_res(session, low_res), torch.cat(scores, dim=0)

    def close(self, inference_state: Session) -> None:
        """Release the session's caches and spill file (and its decoder if ``init_state`` opened it)."""
        inference_state.close()

    # -- internals ----------------------------------------------------------------------------
    def _object(self, session: Session, obj_id: int) -> ObjectState:
        obj = session.objects.get(obj_id)
        if obj is None:
            obj = session.objects[obj_id] = ObjectState(obj_id)
        return obj

    def _frame_role(self, obj: ObjectState, frame_idx: int) -> tuple[bool, bool, bool]:
        """(initial conditioning frame?, tracked in reverse?, stored as conditioning frame?)."""
        is_init = frame_idx not in obj.tracked
        reverse = False if is_init else obj.tracked[frame_idx]
        return is_init, reverse, is_init or self.config.add_all_frames_to_correct_as_cond

    @staticmethod
    def _lookup(obj: ObjectState, frame_idx: int, is_cond: bool) -> FrameMemory | None:
        out = (obj.temp_cond if is_cond else obj.temp_non_cond).get(frame_idx)
        if out is None:
            out = obj.cond.get(frame_idx)
        if out is None:
            out = obj.visible_non_cond(frame_idx)
        return out

    # -- the tracking step and memories (also used by sam3core.sam.consolidation) -----------------
    def frame_features(self, session: Session, frame_idx: int) -> FrameFeatures:
        """The frame's image features, from the session's cache or encoded now (and cached)."""
        feats = session.feature_cache.get(frame_idx)
        if feats is not None:
            session.feature_cache.move_to_end(frame_idx)
            return feats
        image = self.preprocess(session.video[frame_idx], self.device)
        with self.autocast():
            feats = self.model.forward_image(image)
        # kept for several frames: outside the heap that the next frames' temporaries reuse
        feats.vision_feats = [off_heap(x.permute(1, 2, 0)).permute(2, 0, 1) for x in feats.vision_feats]
        session.stats.image_encoder_calls += 1
        session.feature_cache[frame_idx] = feats
        while len(session.feature_cache) > max(1, session.feature_cache_size):
            session.feature_cache.popitem(last=False)
        return feats

    def step(self, session: Session, obj: ObjectState, frame_idx: int, *, is_init_cond_frame: bool,
              reverse: bool, points: PointPrompt | None = None, mask_inputs: torch.Tensor | None = None,
              run_mem_encoder: bool = False, prev_logits: torch.Tensor | None = None) -> FrameMemory:
        """One tracking step of ``obj`` on a frame -> its stored result (memory kept when encoded)."""
        feats = self.frame_features(session, frame_idx)
        if points is not None:
            points = PointPrompt(points.coords.to(self.device), points.labels.to(self.device))
        with self.autocast():
            out: StepOutput = self.model.track_step(
                frame_idx=frame_idx, is_init_cond_frame=is_init_cond_frame, feats=feats,
                bank=ObjectBank(self, session, obj), num_frames=session.num_frames, points=points,
                mask_inputs=mask_inputs, reverse=reverse, run_mem_encoder=run_mem_encoder,
                prev_mask_logits=prev_logits)
        logits = out.pred_masks.float()
        filled = fill_small_holes(logits, self.config.fill_hole_area)  # as the reference, before storing
        entry = FrameMemory(logits=filled.cpu(), obj_ptr=out.obj_ptr.float(),
                            object_score_logits=out.object_score_logits.float().cpu(),
                            mask_from_pts=points is not None)
        entry.iou_score = float(out.iou_score.float().mean())
        if self.config.use_memory_selection:
            entry.eff_iou_score = memory_score(out.object_score_logits.float(), out.iou_score.float())
        if out.maskmem_features is not None:
            assert out.maskmem_pos_enc is not None
            if filled is not logits:  # the memory saw the unfilled mask
                entry.memory_logits = logits.cpu()
            self.keep_memory(session, obj, frame_idx, entry, out.maskmem_features, out.maskmem_pos_enc)
        return entry

    def encode_entry(self, session: Session, obj: ObjectState, frame_idx: int, entry: FrameMemory) -> None:
        """Spatial memory of a stored result, from its low-res logits and the frame's image features."""
        feats = self.frame_features(session, frame_idx)
        size = self.config.image_size
        source = entry.pred_masks if entry.memory_logits is None else entry.memory_logits
        high_res = F.interpolate(source.to(session.device), size=(size, size), mode="bilinear",
                                 align_corners=False)
        with self.autocast():
            scores = entry.object_score_logits.to(session.device)
            features, pos = self.model.encode_memory(feats, high_res, scores, entry.mask_from_pts)
        self.keep_memory(session, obj, frame_idx, entry, features, pos)

    def keep_memory(self, session: Session, obj: ObjectState, frame_idx: int, entry: FrameMemory,
                     features: torch.Tensor, pos: torch.Tensor) -> None:
        """Store an entry's spatial memory (bfloat16, off the heap) and evict the least recently used."""
        entry.maskmem_features = off_heap(features.to(torch.bfloat16).to(session.storage_device))
        if session.maskmem_pos_enc is None:
            session.maskmem_pos_enc = pos[0:1].float().clone()
        key = (obj.obj_id, frame_idx)
        session.memory_lru[key] = None
        session.memory_lru.move_to_end(key)
        limit = session.memory_cache_size * max(1, len(session.objects))
        while len(session.memory_lru) > limit:
            (old_id, old_frame), _ = session.memory_lru.popitem(last=False)
            old_obj = session.objects.get(old_id)
            if old_obj is None:
                continue
            old = old_obj.non_cond.get(old_frame)
            # conditioning frames and unmerged prompt results keep their memory for good
            if (old is not None and not old.pinned and old_frame not in old_obj.cond
                    and old_frame not in old_obj.temp_non_cond):
                old.maskmem_features = None
                old.spill(session.spill, (old_id, old_frame))  # the logits too: RSS stays flat

    def _frame_result(self, session: Session, frame_idx: int, is_cond: bool) -> MaskResult:
        side = self.config.low_res_mask_size
        low_res = torch.full((len(session.objects), 1, side, side), NO_OBJ_SCORE, dtype=torch.float32)
        for i, obj in enumerate(session.objects.values()):
            out = self._lookup(obj, frame_idx, is_cond)
            if out is not None:
                logits = out.pred_masks
                low_res[i:i + 1] = logits if logits.shape[-1] == side else F.interpolate(
                    logits, size=(side, side), mode="bilinear", align_corners=False)
        low_res = low_res.to(self.device)
        return frame_idx, session.obj_ids, low_res, self._to_video_res(session, low_res)

    def _to_video_res(self, session: Session, low_res: torch.Tensor) -> torch.Tensor:
        """(N, 1, h, w) logits -> (N, 1, H, W) at the video's size."""
        video = F.interpolate(low_res, size=(session.video_height, session.video_width), mode="bilinear",
                              align_corners=False)
        if self.config.non_overlap_masks_for_output:
            video = non_overlapping(video)
        return video
