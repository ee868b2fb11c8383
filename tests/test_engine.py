from __future__ import annotations

import pytest
import torch

from sam3core.errors import EngineError
from sam3core.factory import ENGINE_NAMES, available_devices, build_engine, resolve_device


def test_no_name_and_no_checkpoint_is_the_classical_engine() -> None:
    engine = build_engine()
    assert engine.name == "classical"


def test_unknown_engine_names_the_choices() -> None:
    with pytest.raises(EngineError, match="sam2.1_hiera_tiny"):
        build_engine("sam4")


def test_unavailable_device_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(EngineError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device(None).type in available_devices()
    assert "classical" in ENGINE_NAMES and "sam3" in ENGINE_NAMES


@pytest.mark.parametrize("device", ["cuda", "mps", "cuda:0"])
def test_the_classical_engine_refuses_a_gpu(device: str) -> None:
    with pytest.raises(EngineError, match="CPU only"):
        build_engine("classical", device=device)
    with pytest.raises(EngineError, match="CPU only"):
        build_engine(None, device=device)  # no name, no checkpoint: the classical engine
    assert build_engine("classical", device="auto").device.type == "cpu"
    assert build_engine("classical", device="cpu").device.type == "cpu"


def test_app_sam2_engine_keeps_corrections_but_the_reference_api_does_not() -> None:
    from sam3core.sam.registry import build_tracker

    engine = build_engine("sam2.1_hiera_tiny", device="cpu", random_weights=True)
    assert engine.config.add_all_frames_to_correct_as_cond
    reference_like = build_tracker("sam2.1_hiera_tiny", device="cpu")
    assert not reference_like.config.add_all_frames_to_correct_as_cond


def test_a_sam_model_without_a_checkpoint_is_refused_unless_random_weights_are_asked_for() -> None:
    for name in ("sam2.1_hiera_tiny", "sam3"):
        with pytest.raises(EngineError, match=f"{name} needs its checkpoint file.*Model checkpoints"):
            build_engine(name)
