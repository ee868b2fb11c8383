"""Frozen settings of the memory tracker: what differs between SAM 2.1 and SAM 3 lives here as data.

The tracking step (:mod:`sam3core.sam.tracker`) and the predictor (:mod:`sam3core.sam.predictor`) read only
these fields, so a new model family sets values instead of subclassing. Defaults are SAM 2.1's video-predictor
settings (the ``sam2.1_hiera_*.yaml`` values plus the video builder's post-processing overrides).
"""

from __future__ import annotations

from dataclasses import dataclass, field

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PreprocessConfig:
    """How an RGB uint8 frame becomes the (1, 3, S, S) float model input.

    The frame is resized (aspect ratio not kept) to ``image_size`` squared with PIL's ``resample`` filter,
    scaled to 0..1 and normalised with ``mean``/``std``.
    """

    image_size: int = 1024
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    resample: str = "bicubic"  # PIL filter name: the reference resizes frames with PIL's default


@dataclass(frozen=True)
class TrackerConfig:
    """Behaviour of one tracking step and of the session bookkeeping around it."""

    # -- geometry ---------------------------------------------------------------------------
    image_size: int = 1024
    backbone_stride: int = 16  # image_size // backbone_stride = side of the top feature map
    use_high_res_features_in_sam: bool = True  # feed FPN levels 0 and 1 to the mask decoder
    # -- memory -----------------------------------------------------------------------------
    num_maskmem: int = 7  # 1 current frame + 6 past frames
    memory_temporal_stride_for_eval: int = 1
    max_cond_frames_in_attn: int = -1  # -1: every conditioning frame; SAM 3 uses 4
    keep_first_cond_frame: bool = False  # with a limit: always keep the earliest conditioning frame
    directly_add_no_mem_embed: bool = True
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    binarize_mask_from_pts_for_mem_enc: bool = True
    non_overlap_masks_for_mem_enc: bool = False
    # memory selection ("temporal disambiguation", SAM 3): only past frames whose
    # normalised object score x predicted IoU exceeds ``mf_threshold`` become memories
    use_memory_selection: bool = False
    mf_threshold: float = 0.01
    # -- object pointers --------------------------------------------------------------------
    max_obj_ptrs_in_encoder: int = 16
    only_obj_ptrs_in_the_past_for_eval: bool = True
    use_signed_tpos_enc_to_obj_ptrs: bool = True
    fixed_no_obj_ptr: bool = True
    soft_no_obj_ptr: bool = False
    # -- SAM heads --------------------------------------------------------------------------
    use_mask_input_as_output_without_sam: bool = True
    multimask_output_in_sam: bool = True
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    multimask_output_for_tracking: bool = True
    # -- interaction (predictor) ------------------------------------------------------------
    # a frame that receives a correction after being tracked becomes a conditioning frame
    add_all_frames_to_correct_as_cond: bool = False
    # drop the non-conditioning memories within num_maskmem * stride frames of a prompted frame
    clear_non_cond_mem_around_input: bool = False
    clear_non_cond_mem_for_multi_obj: bool = False
    # with clearing on: the surrounding frames are only hidden from later look-ups of an object's previous
    # result (click refinement, consolidation, returned masks); memory attention still reads them (SAM 3)
    clear_hides_from_lookups_only: bool = False
    # prompted frames are merged for all objects at once (SAM 3): a frame prompted for any object becomes
    # a prompted frame of every object (their current results, kept and not re-tracked), and memories are
    # encoded after the non-overlap constraint across objects; otherwise each object alone (SAM 2.1)
    consolidate_prompted_frames: bool = False
    # memory selection scores a tracked frame once for all objects (mean over objects, SAM 3)
    shared_memory_selection: bool = False
    # > 0: background regions of at most this many low-res pixels in a predicted mask become foreground
    # (sam3core.sam.postprocess). The official SAM 2.1 video predictor uses 8 but its CUDA kernel is skipped
    # on CPU; 0 here reproduces a CPU run of the reference, the app's engines use 8 as on a GPU.
    fill_hole_area: int = 0
    # > 0: keep only the first n//2 and the last n - n//2 clicks of a frame in the prompt encoder
    max_point_num_in_prompt_enc: int = 0
    non_overlap_masks_for_output: bool = False
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    @property
    def feature_size(self) -> int:
        """Side of the top (lowest-resolution) feature map: 64 for SAM 2.1, 72 for SAM 3."""
        return self.image_size // self.backbone_stride

    @property
    def low_res_mask_size(self) -> int:
        """Side of the decoder's low-resolution mask logits: 256 for SAM 2.1, 288 for SAM 3."""
        return self.feature_size * 4


SAM2_TRACKER_CONFIG = TrackerConfig()
