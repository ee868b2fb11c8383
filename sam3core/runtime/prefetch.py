"""Abandoning an image encoding half-way, for encodings done ahead of a click (see
:meth:`sam3core.sam.predictor.SamPredictor.prefetch_features`).

A full-size image encoding takes seconds on a CPU. An app encodes the frame the user is looking at
before the click comes; when the user moves on, that work is no longer wanted and should not delay the
next request. Torch cannot interrupt an op, but the encoders are stacks of blocks: a check between two
blocks bounds the wasted time to one block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from torch import nn


class EncodingStoppedError(Exception):
    """Raised between two encoder blocks when the caller no longer wants the encoding."""


@contextlib.contextmanager
def stop_between_blocks(encoder: nn.Module, should_stop: Callable[[], bool] | None) -> Iterator[None]:
    """While active, every block of ``encoder``'s block stacks (``nn.ModuleList``s named ``blocks``:
    the Hiera and ViT trunks) first asks ``should_stop()``, and raises :class:`EncodingStoppedError`
    when it answers True."""
    if should_stop is None:
        yield
        return

    def check(_module: nn.Module, _inputs: object) -> None:
        if should_stop():
            raise EncodingStoppedError

    handles = [block.register_forward_pre_hook(check)
               for name, stack in encoder.named_modules()
               if name.split(".")[-1] == "blocks" and isinstance(stack, nn.ModuleList)
               for block in stack]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
