"""One step of the SAM 2.1 / SAM 3 memory tracker for one object on one frame.

:class:`TrackerModel` holds the built submodules under the official checkpoint names (``image_encoder``,
``memory_attention``, ``memory_encoder``, ``sam_prompt_encoder``, ``sam_mask_decoder``, ``obj_ptr_proj``,
...) plus the top-level learned tensors, so ``load_state_dict`` takes an official ``{"model": ...}`` dict
unchanged. Selecting which past frames condition the current one lives in :mod:`sam3core.sam.memory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sam3core.sam.inference_state import FrameFeatures, PointPrompt
from sam3core.sam.memory import MemoryBank, gather_memory
from sam3core.sam.networks.image_encoder import ImageEncoder
from sam3core.sam.tracking_config import TrackerConfig

NO_OBJ_SCORE = -1024.0  # mask logit of an object judged absent


def _field(out: Any, name: str) -> Any:
    """Read a module output that is either a dataclass (ours) or a dict (reference layout)."""
    return out[name] if isinstance(out, dict) else getattr(out, name)


@dataclass
class SamOutput:
    """Decoder result for a batch of B objects on one frame."""

    low_res_multimasks: torch.Tensor  # (B, M, h, w) logits, M = 3 with multimask output else 1
    ious: torch.Tensor  # (B, M) predicted IoU
    low_res_masks: torch.Tensor  # (B, 1, h, w) best mask
    # (B, 1, S, S) at the model input size: the user's mask for mask prompts, else None (upsampled from
    # ``low_res_masks`` only when the memory encoder needs it; a click does not)
    high_res_masks: torch.Tensor | None
    obj_ptr: torch.Tensor  # (B, C)
    object_score_logits: torch.Tensor  # (B, 1)


@dataclass
class StepOutput:
    """What one tracking step hands back to the predictor."""

    pred_masks: torch.Tensor  # (B, 1, h, w) low-res logits
    obj_ptr: torch.Tensor  # (B, C)
    object_score_logits: torch.Tensor  # (B, 1)
    iou_score: torch.Tensor  # (B,) best predicted IoU
    maskmem_features: torch.Tensor | None  # (B, C_mem, H, W) or None when the memory encoder was skipped
    maskmem_pos_enc: torch.Tensor | None  # (B, C_mem, H, W)


def sine_pe_1d(positions: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """Transformer-style sine/cosine encoding of (N,) positions -> (N, dim)."""
    half = dim // 2
    steps = torch.arange(half, dtype=torch.float32, device=positions.device)
    freqs = temperature ** (2 * (steps // 2) / half)
    angles = positions.unsqueeze(-1) / freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class TrackerModel(nn.Module):
    """Submodules + learned tensors of the tracker, and the tracking step built from them."""

    def __init__(self, *, image_encoder: nn.Module, memory_attention: nn.Module, memory_encoder: nn.Module,
                 prompt_encoder: nn.Module, mask_decoder: nn.Module, obj_ptr_proj: nn.Module,
                 config: TrackerConfig, hidden_dim: int = 256, mem_dim: int = 64) -> None:
        super().__init__()
        self.config = config
        self.hidden_dim = hidden_dim
        self.mem_dim = mem_dim
        self.image_encoder = image_encoder
        self.memory_attention = memory_attention
        self.memory_encoder = memory_encoder
        self.sam_prompt_encoder = prompt_encoder
        self.sam_mask_decoder = mask_decoder
        self.obj_ptr_proj = obj_ptr_proj
        self.obj_ptr_tpos_proj = nn.Linear(hidden_dim, mem_dim)
        # Brings a 0/1 mask prompt to the decoder's low-res logit scale (stride 4) to get a pointer.
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(config.num_maskmem, 1, 1, mem_dim))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, hidden_dim))
        self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, mem_dim))
        for param in (self.maskmem_tpos_enc, self.no_mem_embed, self.no_mem_pos_enc, self.no_obj_ptr,
                      self.no_obj_embed_spatial):
            nn.init.trunc_normal_(param, std=0.02)

    @property
    def device(self) -> torch.device:
        return self.no_mem_embed.device

    # -- image features ---------------------------------------------------------------------
    def forward_image(self, image: torch.Tensor) -> FrameFeatures:
        """(1, 3, S, S) normalised image -> flattened multi-level features for the tracking step."""
        high_res = self.config.use_high_res_features_in_sam
        # The decoder's projections of the two fine levels run once per frame, not on every click.
        heads = [self.sam_mask_decoder.conv_s0, self.sam_mask_decoder.conv_s1] if high_res else None
        if isinstance(self.image_encoder, ImageEncoder):
            # only the coarsest level's position encoding is used; the neck may fold the projections
            out = self.image_encoder(image, coarse_pos_only=True, heads=heads)
            fpn = list(out.backbone_fpn)
            pos = list(out.vision_pos_enc)
        else:  # a reference-layout encoder returning a dict
            out = self.image_encoder(image)
            fpn = list(_field(out, "backbone_fpn"))  # levels, fine to coarse, (1, C, H_l, W_l)
            pos = list(_field(out, "vision_pos_enc"))
            if high_res:
                fpn[0] = self.sam_mask_decoder.conv_s0(fpn[0])
                fpn[1] = self.sam_mask_decoder.conv_s1(fpn[1])
        levels = 3 if high_res else 1
        fpn, pos = fpn[-levels:], pos[-levels:]
        return FrameFeatures(
            vision_feats=[x.flatten(2).permute(2, 0, 1) for x in fpn],  # (HW_l, 1, C_l)
            vision_pos=pos[-1].flatten(2).permute(2, 0, 1),  # (HW, 1, C)
            feat_sizes=[(x.shape[-2], x.shape[-1]) for x in fpn],
        )

    @staticmethod
    def _top_map(feats: FrameFeatures) -> torch.Tensor:
        height, width = feats.feat_sizes[-1]
        top = feats.vision_feats[-1]  # (HW, B, C)
        return top.permute(1, 2, 0).reshape(top.shape[1], top.shape[2], height, width)  # (B, C, H, W)

    @staticmethod
    def _high_res(feats: FrameFeatures) -> list[torch.Tensor] | None:
        if len(feats.vision_feats) == 1:
            return None
        return [x.permute(1, 2, 0).reshape(x.shape[1], x.shape[2], *size)  # (B, C_l, H_l, W_l)
                for x, size in zip(feats.vision_feats[:-1], feats.feat_sizes[:-1])]

    # -- SAM heads --------------------------------------------------------------------------
    def forward_sam_heads(self, backbone_features: torch.Tensor, points: PointPrompt | None = None,
                          mask_inputs: torch.Tensor | None = None,
                          high_res_features: list[torch.Tensor] | None = None,
                          multimask_output: bool = False) -> SamOutput:
        """Prompt encoder + mask decoder on (B, C, H, W) features; points in model pixels."""
        batch = backbone_features.shape[0]
        device = backbone_features.device
        if points is not None:
            coords, labels = points.coords, points.labels
        else:  # no click: one padding point (label -1) so the decoder sees a well-formed prompt
            coords = torch.zeros(batch, 1, 2, device=device)
            labels = -torch.ones(batch, 1, dtype=torch.int32, device=device)
        dense_prompt = None
        if mask_inputs is not None:
            target = tuple(self.sam_prompt_encoder.mask_input_size)
            dense_prompt = mask_inputs
            if tuple(mask_inputs.shape[-2:]) != target:
                dense_prompt = F.interpolate(mask_inputs.float(), size=target, mode="bilinear",
                                             align_corners=False, antialias=True)
        sparse, dense = self.sam_prompt_encoder(points=(coords, labels), boxes=None, masks=dense_prompt)
        multimasks, ious, tokens, score_logits = self.sam_mask_decoder(
            image_embeddings=backbone_features, image_pe=self.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
            multimask_output=multimask_output, repeat_image=False, high_res_features=high_res_features,
        )
        present = score_logits > 0  # (B, 1)
        # Spatial memory must agree with the hard present/absent decision.
        multimasks = torch.where(present[:, None, None], multimasks, NO_OBJ_SCORE).float()
        token = tokens[:, 0]
        if multimask_output:
            best = torch.argmax(ious, dim=-1)
            rows = torch.arange(batch, device=device)
            low_res = multimasks[rows, best].unsqueeze(1)
            if tokens.shape[1] > 1:
                token = tokens[rows, best]
        else:
            low_res = multimasks
        obj_ptr = self.obj_ptr_proj(token)
        weight = score_logits.sigmoid() if self.config.soft_no_obj_ptr else present.float()
        if self.config.fixed_no_obj_ptr:
            obj_ptr = weight * obj_ptr
        obj_ptr = obj_ptr + (1 - weight) * self.no_obj_ptr
        return SamOutput(multimasks, ious, low_res, None, obj_ptr, score_logits)

    def mask_as_output(self, feats: FrameFeatures, mask_inputs: torch.Tensor) -> SamOutput:
        """A 0/1 user mask (B, 1, S, S) taken as the result (+-10 logits); decoder only makes the pointer."""
        scale, bias = 20.0, -10.0
        high_res = mask_inputs.float() * scale + bias
        # at the decoder's low-res size (4 x the feature grid: SAM 2.1 256 = S / 4, SAM 3 288 != S / 4), as
        # both references do, so mask results stack with click results on the same frame
        side = self.config.low_res_mask_size
        low_res = F.interpolate(high_res, size=(side, side), mode="bilinear", align_corners=False,
                                antialias=True)
        ious = mask_inputs.new_ones(mask_inputs.shape[0], 1).float()
        pointer = self.forward_sam_heads(self._top_map(feats),
                                         mask_inputs=self.mask_downsample(mask_inputs.float()),
                                         high_res_features=self._high_res(feats)).obj_ptr
        present = torch.any(mask_inputs.flatten(1).float() > 0.0, dim=1)[:, None].float()  # (B, 1)
        score_logits = scale * present + bias
        if self.config.fixed_no_obj_ptr:
            pointer = present * pointer
        pointer = pointer + (1 - present) * self.no_obj_ptr
        return SamOutput(low_res, ious, low_res, high_res, pointer, score_logits)

    # -- memory -----------------------------------------------------------------------------
    def condition_on_memory(self, frame_idx: int, is_init_cond_frame: bool, feats: FrameFeatures,
                            bank: MemoryBank, num_frames: int, reverse: bool) -> torch.Tensor:
        """Fuse the top-level features with the object's memories -> (B, C, H, W)."""
        top = feats.vision_feats[-1]  # (HW, B, C)
        batch, channels = top.shape[1], top.shape[2]
        height, width = feats.feat_sizes[-1]
        if is_init_cond_frame and self.config.directly_add_no_mem_embed:
            fused = top + self.no_mem_embed
            return fused.permute(1, 2, 0).reshape(batch, channels, height, width)
        if is_init_cond_frame:
            memory = self.no_mem_embed.expand(1, batch, self.mem_dim)
            memory_pos = self.no_mem_pos_enc.expand(1, batch, self.mem_dim)
            num_ptr_tokens = 0
        else:
            memory, memory_pos, num_ptr_tokens = gather_memory(self, frame_idx, bank, num_frames, reverse,
                                                               batch=batch)
        fused = self.memory_attention(curr=feats.vision_feats[-1:], curr_pos=[feats.vision_pos],
                                      memory=memory, memory_pos=memory_pos, num_obj_ptr_tokens=num_ptr_tokens)
        return fused.permute(1, 2, 0).reshape(batch, channels, height, width)  # (HW, B, C) -> (B, C, H, W)

    def encode_memory(self, feats: FrameFeatures, high_res_masks: torch.Tensor,
                      object_score_logits: torch.Tensor,
                      mask_from_pts: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, S, S) mask logits -> spatial memory (B, C_mem, H, W) and its position encoding."""
        cfg = self.config
        pix_feat = self._top_map(feats)
        masks = high_res_masks
        if cfg.non_overlap_masks_for_mem_enc:
            masks = non_overlapping(masks)
        if cfg.binarize_mask_from_pts_for_mem_enc and mask_from_pts:
            # prompted frames are remembered exactly as the user saw them
            mask_for_mem = (masks > 0).float()
        else:
            mask_for_mem = torch.sigmoid(masks)
        if cfg.sigmoid_scale_for_mem_enc != 1.0:
            mask_for_mem = mask_for_mem * cfg.sigmoid_scale_for_mem_enc
        if cfg.sigmoid_bias_for_mem_enc != 0.0:
            mask_for_mem = mask_for_mem + cfg.sigmoid_bias_for_mem_enc
        out = self.memory_encoder(pix_feat, mask_for_mem, skip_mask_sigmoid=True)
        if isinstance(out, tuple):  # ours: (features, [pos])
            features, pos = out
        else:  # reference layout: {"vision_features": ..., "vision_pos_enc": [...]}
            features, pos = _field(out, "vision_features"), _field(out, "vision_pos_enc")
        pos = pos[-1] if isinstance(pos, (list, tuple)) else pos
        absent = 1.0 - (object_score_logits > 0).float()  # (B, 1)
        features = features + absent[..., None, None] * self.no_obj_embed_spatial[..., None, None]
        return features, pos

    # -- the step ---------------------------------------------------------------------------
    def use_multimask(self, is_init_cond_frame: bool, points: PointPrompt | None) -> bool:
        cfg = self.config
        num_points = 0 if points is None else points.labels.shape[1]
        return (cfg.multimask_output_in_sam and (is_init_cond_frame or cfg.multimask_output_for_tracking)
                and cfg.multimask_min_pt_num <= num_points <= cfg.multimask_max_pt_num)

    def track_step(self, *, frame_idx: int, is_init_cond_frame: bool, feats: FrameFeatures,
                   bank: MemoryBank, num_frames: int, points: PointPrompt | None = None,
                   mask_inputs: torch.Tensor | None = None, reverse: bool = False,
                   run_mem_encoder: bool = True,
                   prev_mask_logits: torch.Tensor | None = None) -> StepOutput:
        """Segment one object on one frame from its prompts and/or its memory bank."""
        if mask_inputs is not None and self.config.use_mask_input_as_output_without_sam:
            sam = self.mask_as_output(feats, mask_inputs)
        else:
            pix_feat = self.condition_on_memory(frame_idx, is_init_cond_frame, feats, bank, num_frames,
                                                reverse)
            if prev_mask_logits is not None:
                mask_inputs = prev_mask_logits  # earlier logits on this frame refine the new clicks
            sam = self.forward_sam_heads(pix_feat, points=points, mask_inputs=mask_inputs,
                                         high_res_features=self._high_res(feats),
                                         multimask_output=self.use_multimask(is_init_cond_frame, points))
        maskmem, maskmem_pos = None, None
        if run_mem_encoder and self.config.num_maskmem > 0:
            high_res = sam.high_res_masks
            if high_res is None:
                size = self.config.image_size
                high_res = F.interpolate(sam.low_res_masks, size=(size, size), mode="bilinear",
                                         align_corners=False)
            maskmem, maskmem_pos = self.encode_memory(feats, high_res, sam.object_score_logits,
                                                      mask_from_pts=points is not None)
        return StepOutput(pred_masks=sam.low_res_masks, obj_ptr=sam.obj_ptr,
                          object_score_logits=sam.object_score_logits, iou_score=sam.ious.max(-1)[0],
                          maskmem_features=maskmem, maskmem_pos_enc=maskmem_pos)

    def obj_ptr_pos_enc(self, positions: list[int], max_ptrs: int, device: torch.device) -> torch.Tensor:
        """Temporal encoding of pointer offsets (N,) -> (N, C_mem), normalised by the pointer window."""
        t_diff_max = max(max_ptrs - 1, 1)
        pos = torch.tensor(positions, device=device, dtype=torch.float32) / t_diff_max
        return self.obj_ptr_tpos_proj(sine_pe_1d(pos, dim=self.hidden_dim))


def non_overlapping(masks: torch.Tensor) -> torch.Tensor:
    """Keep each pixel only for the highest-scoring object of (N, 1, H, W) logits; others clamp to -10."""
    if masks.shape[0] == 1:
        return masks
    winner = torch.argmax(masks, dim=0, keepdim=True)
    rows = torch.arange(masks.shape[0], device=masks.device)[:, None, None, None]
    return torch.where(winner == rows, masks, torch.clamp(masks, max=-10.0))
