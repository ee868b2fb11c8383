"""Abandoning a network's work half-way: an encoding done ahead of a click (see
:meth:`sam3core.sam.predictor.SamPredictor.prefetch_features`) or a propagated frame being cancelled.

A full-size image encoding takes seconds on a CPU, and so does a tracking step's memory attention. An
app encodes the frame the user is looking at before the click comes; when the user moves on, that work
is no longer wanted and should not delay the next request; when the user cancels a propagation, the
frame under way should not take seconds more. Torch cannot interrupt an op, but the networks are stacks
of blocks: a check between two blocks bounds the wasted time to one block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from torch import nn


class EncodingStoppedError(Exception):
    """Raised between two blocks when the caller no longer wants the work."""


# The block stacks of the encoders (Hiera and ViT trunks: ``blocks``) and of the tracking step (memory
# attention, memory encoder, two-way transformer: ``layers``).
BLOCK_STACKS = ("blocks", "layers")


@contextlib.contextmanager
def stop_between_blocks(encoder: nn.Module, should_stop: Callable[[], bool] | None,
                        stacks: tuple[str, ...] = ("blocks",)) -> Iterator[None]:
    """While active, every block of ``encoder``'s block stacks (``nn.ModuleList``s named as in
    ``stacks``; default ``blocks``: the Hiera and ViT trunks) first asks ``should_stop()``, and raises
    :class:`EncodingStoppedError` when it answers True; so does each composite part of a block (an
    attention, an MLP). The ``Linear`` layers of an MLP are no blocks: they take microseconds, and a
    check before each would only add overhead."""
    if should_stop is None:
        yield
        return

    def check(_module: nn.Module, _inputs: object) -> None:
        if should_stop():
            raise EncodingStoppedError

    blocks = [block for name, stack in encoder.named_modules()
              if name.split(".")[-1] in stacks and isinstance(stack, nn.ModuleList)
              for block in stack if not isinstance(block, nn.Linear)]
    # Also before each composite part of a block (its attentions, its MLP): a memory-attention layer
    # takes seconds on a CPU, most of it in its cross-attention, so its self-attention is cut off.
    parts = [part for block in blocks for part in block.children() if next(part.children(), None) is not None]
    handles = [module.register_forward_pre_hook(check) for module in (*blocks, *parts)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
