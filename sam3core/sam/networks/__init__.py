"""The SAM trackers' networks: SAM 2.1's image encoder (Hiera + FPN neck) and the heads and memory modules
that SAM 2.1 and SAM 3 share (our implementation; parameter names follow the official checkpoints). SAM 3's
ViT trunk and neck are in :mod:`sam3core.sam.sam3`.

Build everything with ``sam3core.sam.networks.build.build_sam2_modules(config, device=None) -> Sam2Modules``
(fields ``image_encoder``, ``sam_prompt_encoder``, ``sam_mask_decoder``, ``memory_encoder``,
``memory_attention``; configs in :mod:`sam3core.sam.network_config`). Shapes below are for a 1024 input,
C = 256.

- ``ImageEncoder`` (image_encoder.py): ``forward(x (B,3,1024,1024)) -> BackboneOutput`` frozen dataclass:
  ``vision_features`` (B,C,64,64), ``vision_pos_enc`` and ``backbone_fpn``: lists of (B,C,256,256),
  (B,C,128,128), (B,C,64,64), highest resolution first (after the scalp drop).
- ``Hiera`` (hiera.py): ``forward(x) -> list[(B,C_s,H_s,W_s)]`` per stage, highest resolution first;
  ``channel_list`` lowest resolution first.
- ``FpnNeck`` (fpn_neck.py): ``forward(xs) -> (features, pos)`` lists, highest resolution first.
- ``PromptEncoder`` (prompt_encoder.py): ``forward(points: (coords (B,N,2) pixels in the 1024 frame,
  labels (B,N)) | None, boxes (B,4) | None, masks (B,1,256,256) | None) -> (sparse (B,N',C),
  dense (B,C,64,64))``; ``get_dense_pe() -> (1,C,64,64)``; ``mask_input_size``, ``image_embedding_size``,
  ``input_image_size``. Labels: -1 padding, 0 negative, 1 positive, 2/3 box corners.
- ``MaskDecoder`` (mask_decoder.py): ``forward(image_embeddings (B,C,64,64), image_pe (1,C,64,64),
  sparse_prompt_embeddings, dense_prompt_embeddings, multimask_output: bool, repeat_image: bool,
  high_res_features: [s0 (B,C/8,256,256), s1 (B,C/4,128,128)] | None) -> (masks (B,M,256,256),
  iou_pred (B,M), sam_tokens_out (B,M_tok,C), object_score_logits (B,1))``; ``conv_s0``/``conv_s1``
  project backbone_fpn[0]/[1] to the high-res features (the tracker applies them).
- ``MemoryEncoder`` (memory_encoder.py): ``forward(pix_feat (B,C,64,64), masks (B,1,1024,1024),
  skip_mask_sigmoid=False) -> (features (B,64,64,64), [pos (B,64,64,64)])``.
- ``MemoryAttention`` (memory_attention.py): ``forward(curr (4096,B,C), memory (M,B,64), curr_pos
  (4096,B,C), memory_pos (M,B,64), num_obj_ptr_tokens=0) -> (4096,B,C)``, sequence-first; the last
  ``num_obj_ptr_tokens`` memory tokens are object pointers (not rotated).
- ``TwoWayTransformer`` (two_way_transformer.py), ``Attention``/``RoPEAttention`` (attention.py),
  ``AxialRope``/``apply_rope`` (rope.py), ``PositionEmbeddingSine``/``PositionEmbeddingRandom``
  (position_encoding.py), ``MLP``/``LayerNorm2d`` (common.py; ``MLP(in, hidden, out, num_layers)``
  keeps its linears in ``layers`` as the tracker's ``obj_ptr_proj`` needs).
"""

from sam3core.sam.networks.build import Sam2Modules, build_sam2_modules
from sam3core.sam.networks.common import MLP, LayerNorm2d
from sam3core.sam.networks.image_encoder import BackboneOutput, ImageEncoder
from sam3core.sam.networks.mask_decoder import MaskDecoder
from sam3core.sam.networks.memory_attention import MemoryAttention
from sam3core.sam.networks.memory_encoder import MemoryEncoder
from sam3core.sam.networks.position_encoding import PositionEmbeddingSine
from sam3core.sam.networks.prompt_encoder import PromptEncoder

__all__ = [
    "MLP", "BackboneOutput", "ImageEncoder", "LayerNorm2d", "MaskDecoder", "MemoryAttention", "MemoryEncoder",
    "PositionEmbeddingSine", "PromptEncoder", "Sam2Modules", "build_sam2_modules",
]
