"""A tiny random SAM 2.1 for tests and benchmarks of the cluster code (no weights can be downloaded).

:func:`write_tiny_checkpoint` saves a small network with the official key layout; :func:`tiny_factory`
is an engine factory (:data:`app.cluster.recipe.EngineFactory`) that builds it from that file the way
:func:`sam3core.engine.build_engine` builds a registry SAM 2.1, and anything else through the registry.
It lives in the package (not in tests/) because Ray workers import it by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

TINY_MODEL = "sam2.1_hiera_tiny"
# build_engine's SAM 2.1 behaviour (corrections stay conditioning frames, small holes filled).
ENGINE_OVERRIDES = {"add_all_frames_to_correct_as_cond": True, "fill_hole_area": 8}


def write_tiny_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """A random tiny SAM 2.1 checkpoint whose objects are "present" (random heads would say absent)."""
    from sam3core.sam.network_config import tiny_test_config
    from sam3core.sam.registry import build_sam2_tracker_model

    torch.manual_seed(seed)
    model = build_sam2_tracker_model(tiny_test_config())
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(4.0)
    path = Path(path)
    torch.save({"model": model.state_dict()}, path)
    return path


def tiny_factory(model: str | None, checkpoint: str | None, device: str) -> Any:
    """The tiny SAM 2.1 from ``checkpoint`` when ``model`` is :data:`TINY_MODEL`, else the registry's."""
    if model == TINY_MODEL and checkpoint is not None:
        from sam3core.factory import resolve_device
        from sam3core.sam.network_config import tiny_test_config
        from sam3core.sam.registry import build_tracker

        return build_tracker(TINY_MODEL, checkpoint=checkpoint, config=tiny_test_config(),
                             device=resolve_device(device), tracker_overrides=dict(ENGINE_OVERRIDES))
    from sam3core.factory import build_engine

    return build_engine(model, checkpoint=checkpoint, device=device)
