"""The frame source: exact, streamed access to the frames of a video file or a folder of images.

Every engine, exporter and the GUI read frames through :class:`VideoSource`; :func:`write_video` and
:class:`VideoWriter` encode. See :mod:`sam3core.video.source` for how frames are found exactly.
"""

from sam3core.video.errors import DamagedFrameError, VideoError
from sam3core.video.images import IMAGE_SUFFIXES, list_image_frames, natural_key, read_image
from sam3core.video.source import READER, VideoInfo, VideoSource
from sam3core.video.writer import VIDEO_SUFFIXES, VideoWriter, write_video

__all__ = ["IMAGE_SUFFIXES", "READER", "VIDEO_SUFFIXES", "DamagedFrameError", "VideoError", "VideoInfo",
           "VideoSource", "VideoWriter", "list_image_frames", "natural_key", "read_image", "write_video"]
