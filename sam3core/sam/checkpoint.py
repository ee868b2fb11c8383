"""Reading, identifying and strictly loading model checkpoints.

Official files (``sam2.1_hiera_*.pt``, ``sam3.pt``) are ``{"model": state_dict}`` written by
``torch.save``; a bare state dict is accepted too. Everything is validated before any weight is
copied, so a bad file never leaves a half-loaded model, and every failure is one
:class:`CheckpointError` naming the file and what was expected.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from sam3core.sam.network_config import SAM2_CONFIGS

SAM3_NAME = "sam3"
SAM3_PREFIXES = ("tracker.", "detector.")
_TRUNK_PATCH_KEY = "image_encoder.trunk.patch_embed.proj.weight"
_TRUNK_BLOCK_PREFIX = "image_encoder.trunk.blocks."
_SHOW = 5  # examples listed per kind of problem


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, not a checkpoint, or for another model."""


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict stored in ``path`` (``{"model": sd}`` or a bare ``sd``), tensors on the CPU.

    Uses ``torch.load(weights_only=True)``, memory-mapped when the file format allows it, so large
    checkpoints are paged in only as the weights are copied into a model.
    """
    path = Path(path)
    expectation = "a PyTorch checkpoint file (.pt) holding a model state dict"
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist (expected {expectation})")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory, expected {expectation}")
    try:
        obj = _load(path)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure (struct.error, zip, pickle...) is a bad file
        message = f"cannot read checkpoint {path}: {_reason(exc)} (expected {expectation})"
        raise CheckpointError(message) from None
    if isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"checkpoint {path} holds {_describe(obj)}, expected a model state dict "
                              "(a mapping of parameter names to tensors, possibly under 'model')")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"checkpoint {path} is not a state dict: {len(bad)} entries are not "
                              f"name -> tensor pairs (e.g. {', '.join(map(repr, bad[:_SHOW]))})")
    return dict(obj)


def _load(path: Path) -> object:
    with warnings.catch_warnings():
        # Plain pickles are refused below with a clear error; torch's protocol notice adds nothing.
        warnings.filterwarnings("ignore", message="Detected pickle protocol")
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            # Legacy (non-zip) torch.save files cannot be memory-mapped; read them normally.
            if "mmap" not in str(exc):
                raise
        return torch.load(path, map_location="cpu", weights_only=True)


def _reason(exc: BaseException) -> str:
    """Plain-language cause of a torch.load failure (torch's own text suggests unsafe workarounds)."""
    text = str(exc)
    if isinstance(exc, (EOFError, zipfile.BadZipFile)) or "zip archive" in text:
        return "the file is truncated or damaged"
    if "Weights only load failed" in text or "Unsupported global" in text:
        return "it is not a checkpoint, or holds Python objects other than tensors (refused for safety)"
    return f"it is not a PyTorch checkpoint, or it is truncated or damaged ({type(exc).__name__})"


def _describe(obj: object) -> str:
    if isinstance(obj, Mapping):
        return "an empty mapping" if not obj else f"a mapping with keys {list(obj)[:_SHOW]}"
    return f"a {type(obj).__name__}"


def detect_model_name(checkpoint: str | Path | Mapping[str, torch.Tensor]) -> str:
    """Registry name of the model a checkpoint (path or state dict) was saved from.

    SAM 2.1 sizes are told apart by the Hiera trunk's embedding width and block count (their only
    differences besides heads/windows); SAM 3 by its ``tracker.``/``detector.`` key prefixes.
    """
    source = str(checkpoint) if isinstance(checkpoint, (str, Path)) else "the given state dict"
    sd = read_checkpoint(checkpoint) if isinstance(checkpoint, (str, Path)) else checkpoint
    name = _detect(sd)
    if name is None:
        raise CheckpointError(f"{source} is not a known checkpoint: expected one of "
                              f"{', '.join([*SAM2_CONFIGS, SAM3_NAME])} ({_sam2_summary(sd)})")
    return name


def _detect(sd: Mapping[str, torch.Tensor]) -> str | None:
    if any(k.startswith(SAM3_PREFIXES) for k in sd):
        return SAM3_NAME
    signature = _sam2_signature(sd)
    if signature is None:
        return None
    for name, config in SAM2_CONFIGS.items():
        if signature == (config.hiera.embed_dim, sum(config.hiera.stages)):
            return name
    return None


def _sam2_signature(sd: Mapping[str, torch.Tensor]) -> tuple[int, int] | None:
    """(trunk embedding width, trunk block count), or None without a Hiera trunk."""
    patch = sd.get(_TRUNK_PATCH_KEY)
    if patch is None or len(patch.shape) != 4:
        return None
    blocks = {k[len(_TRUNK_BLOCK_PREFIX):].split(".", 1)[0] for k in sd if k.startswith(_TRUNK_BLOCK_PREFIX)}
    return int(patch.shape[0]), len(blocks)


def _sam2_summary(sd: Mapping[str, torch.Tensor]) -> str:
    signature = _sam2_signature(sd)
    if signature is None:
        return f"{len(sd)} tensors, no {_TRUNK_PATCH_KEY}; first keys: {list(sd)[:3]}"
    return f"Hiera trunk of width {signature[0]} with {signature[1]} blocks"


def state_dict_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """Name -> shape of everything ``module.state_dict()`` holds (works on ``meta`` modules)."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def check_state_dict(expected_shapes: Mapping[str, tuple[int, ...]], state_dict: Mapping[str, torch.Tensor],
                     *, source: str, expected: str) -> None:
    """Raise :class:`CheckpointError` unless ``state_dict`` has exactly the expected keys and shapes."""
    missing = [k for k in expected_shapes if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected_shapes]
    mismatched = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(shape)}"
        for k, shape in expected_shapes.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(shape)
    ]
    if not (missing or unexpected or mismatched):
        return
    problems = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                         ("shape mismatches", mismatched)):
        if items:
            more = f", ... ({len(items) - _SHOW} more)" if len(items) > _SHOW else ""
            problems.append(f"{len(items)} {label}: {', '.join(items[:_SHOW])}{more}")
    found = _detect(state_dict)
    hint = f" It looks like a {found} checkpoint." if found and found != expected else ""
    raise CheckpointError(f"checkpoint {source} does not match the {expected} model; nothing was loaded. "
                          + "; ".join(problems) + "." + hint)


def load_state_dict_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str | Path, *,
                           expected: str | None = None) -> None:
    """Copy ``state_dict`` into ``module`` after checking every key and shape (all or nothing).

    ``source`` (the file) and ``expected`` (the model asked for; by default the module's class name)
    appear in the error message.
    """
    expected = expected or type(module).__name__
    check_state_dict(state_dict_shapes(module), state_dict, source=str(source), expected=expected)
    module.load_state_dict(dict(state_dict), strict=True)
