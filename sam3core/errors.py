"""One exception family for everything an engine refuses, the same type from every engine.

Callers (the GUI worker, ``masklet track``, a remote engine's client) catch :class:`EngineInputError`
for any bad input and show its message; a finer subclass says what was wrong. All of them are
``ValueError``s (a frame out of range is also an ``IndexError``), so code written against the seed API's
``except ValueError`` keeps working; an id that is not an integer is an ``ObjectIdError``, not a
``TypeError``. :class:`EngineError` is for an engine that cannot be built or run at all.
"""

from __future__ import annotations


class EngineError(RuntimeError):
    """An engine that cannot be built (unknown name, bad checkpoint, unavailable device)."""


class EngineInputError(ValueError):
    """Bad input to an engine: the message names the value and what is allowed."""


class FrameIndexError(EngineInputError, IndexError):
    """A frame index outside ``[0, num_frames)`` or not an integer."""


class ObjectIdError(EngineInputError):
    """An object id that is not a non-negative integer, or that the session does not know."""


class PromptError(EngineInputError):
    """Points, labels or a box that are not finite, not inside the image, empty or malformed."""


class MaskError(EngineInputError):
    """A mask prompt of the wrong shape, dtype or size for the video."""
