"""How a click or a box changes an object's prompt on a frame — the one rule of the window and of scripts.

Qt-free, so the GUI (``app/ui/prompt_editing.py``) and headless drivers of the tracking session build
exactly the same prompts.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.domain.model import Prompt


def click_prompt(base: Prompt | None, frame: int, obj_id: int, x: float, y: float, positive: bool,
                 shown: np.ndarray | None = None) -> Prompt:
    """The frame's prompt ``base`` (None: none yet) plus one click at video pixel (x, y).

    A first click on a frame that already shows a mask (``shown``: propagated, painted, imported)
    corrects that mask: the mask goes into the prompt as context, as a SAM refinement click expects — a
    lone negative click would otherwise produce an empty mask. Later clicks keep that context.
    """
    if base is None:
        base = Prompt(frame, obj_id, mask=shown if shown is not None and shown.any() else None)
    return replace(base, points=(*base.points, (float(x), float(y))),
                   labels=(*base.labels, 1 if positive else 0))


def box_prompt(base: Prompt | None, frame: int, obj_id: int,
               box: tuple[float, float, float, float]) -> Prompt:
    """The frame's prompt with its box replaced (corners in any order); a box replaces a mask context."""
    x0, y0, x1, y1 = box
    new_box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    return replace(base or Prompt(frame, obj_id), box=new_box, mask=None)


def painted_last(prompt: Prompt, stored: np.ndarray | None) -> bool:
    """Whether the prompt's mask was painted after its clicks/box: it is then the frame's stored mask
    too (a click's answer differs from the mask it refined). Such a mask already holds what the clicks
    asked for, so the engine must take it as it is: fed first and refined by the clicks again, a GrabCut
    or SAM refinement may drop the painted pixels (the classical engine kept none of a 633-pixel stroke).
    """
    if prompt.mask is None or (not prompt.points and prompt.box is None) or stored is None:
        return False
    return stored.shape == prompt.mask.shape and bool(np.array_equal(stored, prompt.mask))


def engine_prompt(prompt: Prompt, stored: np.ndarray | None) -> Prompt:
    """What the engine is given for a stored prompt (``stored``: the frame's stored mask of that object):
    a mask painted last alone (:func:`painted_last`), the clicks and box staying in the project for the
    user and for the next click; otherwise the prompt as it is (its mask, if any, is the clicks' context)."""
    return Prompt(prompt.frame, prompt.obj_id, mask=prompt.mask) if painted_last(prompt, stored) else prompt
