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
