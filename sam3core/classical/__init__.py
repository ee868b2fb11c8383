"""The classical engine: click/box segmentation and mask propagation without model weights.

GrabCut seeded by boxes and clicks makes masks; DIS optical flow carries them through the video and a
narrow-band GrabCut snaps them to the new frame. Same predictor API as the SAM trackers
(see :mod:`sam3core.engine`).
"""

from sam3core.classical.engine import ClassicalEngine
from sam3core.classical.state import ClassicalSession, ClassicalSettings

__all__ = ["ClassicalEngine", "ClassicalSession", "ClassicalSettings"]
