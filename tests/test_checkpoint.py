"""Checkpoint reading, model detection and strict all-or-nothing loading."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from sam3core.sam.checkpoint import (
    CheckpointError,
    detect_model_name,
    load_state_dict_strict,
    read_checkpoint,
    state_dict_shapes,
)
from sam3core.sam.network_config import SAM2_CONFIGS, tiny_test_config
from sam3core.sam.networks import build_sam2_modules

TINY = tiny_test_config()


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _container(seed: int) -> nn.Module:
    """The five networks under their checkpoint names (the tracker adds its own top-level tensors)."""
    torch.manual_seed(seed)
    return nn.ModuleDict(build_sam2_modules(TINY).named()).eval()


def _meta_state_dict(name: str) -> dict[str, torch.Tensor]:
    """Full-size state dict of shapes only (no memory) for a registry size."""
    modules = build_sam2_modules(SAM2_CONFIGS[name], device="meta")
    shapes = state_dict_shapes(nn.ModuleDict(modules.named()))
    return {k: torch.empty(s, device="meta") for k, s in shapes.items()}


def _outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.inference_mode():
        feats = model["image_encoder"](x)
        mem, _ = model["memory_encoder"](feats.vision_features, torch.randn(1, 1, 128, 128, generator=_gen()))
        return [feats.vision_features, *feats.backbone_fpn, mem]


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(7)


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    torch.save({"model": _container(1).state_dict()}, path)
    return path


def test_round_trip_gives_identical_outputs(tiny_file):
    source = _container(1)
    target = _container(2)
    x = torch.randn(1, 3, 128, 128, generator=_gen())
    assert not torch.equal(_outputs(source, x)[0], _outputs(target, x)[0])
    sd = read_checkpoint(tiny_file)
    load_state_dict_strict(target, sd, source=str(tiny_file), expected=TINY.name)
    for a, b in zip(_outputs(source, x), _outputs(target, x)):
        assert torch.equal(a, b)


def test_bare_state_dict_is_accepted(tmp_path):
    sd = _container(3).state_dict()
    path = tmp_path / "bare.pt"
    torch.save(sd, path)
    loaded = read_checkpoint(path)
    assert loaded.keys() == sd.keys()
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)


def _assert_error(path: Path, *fragments: str) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message  # one line, no traceback soup
    return info.value


def test_garbage_bytes(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(bytes(range(256)) * 40)
    _assert_error(path, "PyTorch checkpoint")


def test_truncated_file(tmp_path, tiny_file):
    path = tmp_path / "truncated.pt"
    data = tiny_file.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _assert_error(path, "truncated")


def test_text_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("these are not weights\n")
    _assert_error(path, "PyTorch checkpoint")


def test_directory_and_missing_file(tmp_path):
    _assert_error(tmp_path, "directory")
    _assert_error(tmp_path / "nope.pt", "does not exist")


def test_pickled_non_state_dicts(tmp_path):
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], listed)
    _assert_error(listed, "state dict")
    mixed = tmp_path / "mixed.pt"
    torch.save({"model": {"a": torch.zeros(1), "b": 3}}, mixed)
    _assert_error(mixed, "not a state dict")
    arbitrary = tmp_path / "arbitrary.pt"
    with open(arbitrary, "wb") as f:
        pickle.dump(Path("x"), f)  # a pickle of a class weights_only refuses
    _assert_error(arbitrary)


def test_other_size_is_rejected_and_nothing_is_loaded(tmp_path):
    target = _container(4)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    other = {k: v for k, v in _meta_state_dict("sam2.1_hiera_large").items()}
    with pytest.raises(CheckpointError) as info:
        load_state_dict_strict(target, other, source="/models/large.pt", expected=TINY.name)
    message = str(info.value)
    assert "/models/large.pt" in message and TINY.name in message
    assert "shape mismatches" in message and "unexpected keys" in message
    assert "looks like a sam2.1_hiera_large checkpoint" in message
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_missing_and_partial_mismatch_lists_are_counted():
    target = _container(5)
    sd = dict(target.state_dict())
    removed = [k for k in sd if k.startswith("memory_attention.layers.1.")]
    for k in removed:
        del sd[k]
    sd["memory_attention.norm.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError) as info:
        load_state_dict_strict(target, sd, source="t.pt", expected="tiny")
    message = str(info.value)
    assert f"{len(removed)} missing keys" in message and f"({len(removed) - 5} more)" in message
    assert "1 shape mismatches: memory_attention.norm.weight: file (3,) vs model (32,)" in message


@pytest.mark.parametrize("name", sorted(SAM2_CONFIGS))
def test_detect_all_sam2_sizes(name):
    assert detect_model_name(_meta_state_dict(name)) == name


def test_detect_from_file_and_sam3(tmp_path):
    path = tmp_path / "small.pt"
    small = {k: torch.zeros(v.shape) for k, v in _meta_state_dict("sam2.1_hiera_small").items()
             if k.startswith("image_encoder.trunk.")}
    torch.save({"model": small}, path)
    assert detect_model_name(path) == "sam2.1_hiera_small"
    assert detect_model_name({"tracker.backbone.x": torch.zeros(1), "detector.y": torch.zeros(1)}) == "sam3"


def test_detect_unknown(tmp_path, tiny_file):
    with pytest.raises(CheckpointError, match="not a known checkpoint"):
        detect_model_name({"foo.weight": torch.zeros(2)})
    with pytest.raises(CheckpointError, match=str(tiny_file)):
        detect_model_name(tiny_file)  # a width-8 trunk is no registry size


def test_source_positional_and_default_expected_name():
    target = _container(6)
    with pytest.raises(CheckpointError, match=r"checkpoint /x/y\.pt does not match the ModuleDict model"):
        load_state_dict_strict(target, {"foo": torch.zeros(1)}, Path("/x/y.pt"))


@pytest.mark.parametrize(
    "blob", [b"\x80", b"\x80\x02K", b"PK\x03\x04" + b"\x00" * 6, b"\x00" * 3, b"\x8a\x0a"])
def test_short_junk_is_a_checkpoint_error(tmp_path, blob):
    # Tiny files trip decoders in odd places (struct.error, zip headers); each must be one clear error.
    path = tmp_path / "junk.pt"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError, match="junk.pt"):
        detect_model_name(path)
