"""Test videos made with PyAV: every frame carries its own number as a block code, so a test can tell
which frame a decoder really returned.

Each file is small (80-160 px, 30-120 frames) so the whole matrix encodes in a few seconds. The code
sits in the top 16 rows: 16 bits, one 8x8 block each (dark = 0, bright = 1), robust to any encoder at
the qualities used here. Below it a textured, moving background gives inter-frame codecs real motion
to predict, so B-frames and long GOPs are exercised.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

BITS = 16
BLOCK = 8


def frame_image(index: int, height: int = 96, width: int = 128) -> np.ndarray:
    """(H, W, 3) RGB uint8 frame ``index``: the code of ``index`` on a moving texture."""
    yy, xx = np.mgrid[0:height, 0:width]
    shift = 3 * index
    texture = 96 + 48 * np.sin((xx + shift) / 5.0) * np.cos((yy - shift / 2) / 7.0)
    rgb = np.stack([texture, np.roll(texture, 9, axis=1), 200 - texture], axis=-1)
    rgb[yy * width // max(1, height) % 37 < 2] = (20, 180, 60)  # a few diagonal lines
    image = np.clip(rgb, 0, 255).astype(np.uint8)
    return stamp_code(image, index)


def stamp_code(image: np.ndarray, index: int) -> np.ndarray:
    per_row = image.shape[1] // BLOCK
    for bit in range(BITS):
        row, col = divmod(bit, per_row)
        y, x = row * BLOCK, col * BLOCK
        image[y:y + BLOCK, x:x + BLOCK] = 235 if (index >> bit) & 1 else 16
    return image


def read_code(image: np.ndarray) -> int:
    """The frame number stamped by :func:`stamp_code` (read from the block centres)."""
    grey = image.astype(np.float32).mean(axis=-1)
    per_row = image.shape[1] // BLOCK
    value = 0
    for bit in range(BITS):
        row, col = divmod(bit, per_row)
        y, x = row * BLOCK, col * BLOCK
        if grey[y + 2:y + BLOCK - 2, x + 2:x + BLOCK - 2].mean() > 128:
            value |= 1 << bit
    return value


@dataclass(frozen=True)
class Spec:
    name: str
    suffix: str
    codec: str
    frames: int = 60
    width: int = 128
    height: int = 96
    pix_fmt: str = "yuv420p"
    options: dict[str, str] = field(default_factory=dict)
    gop: int | None = None
    b_frames: int | None = None
    vfr: bool = False               # frames alternately 20 ms and 45 ms apart
    rotation: int = 0               # display matrix, degrees counter-clockwise
    corrupt: int | None = None      # replace this packet's payload (decode order) with garbage
    cut: int = 0                    # shift timestamps so the first ``cut`` frames fall before 0: an MP4
    #                                 edit list then hides them (as a trim without re-encoding does)
    container_format: str | None = None
    container_options: dict[str, str] = field(default_factory=dict)


def encode(spec: Spec, folder: Path) -> Path:
    """Write ``spec`` into ``folder`` and return the file."""
    path = folder / f"{spec.name}{spec.suffix}"
    out = av.open(str(path), "w", format=spec.container_format, options=spec.container_options)
    stream = out.add_stream(spec.codec, rate=30, options=dict(spec.options))
    stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, spec.pix_fmt
    if spec.vfr:
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.time_base = Fraction(1, 1000)
    if spec.gop is not None:
        stream.codec_context.gop_size = spec.gop
    if spec.b_frames is not None:
        stream.codec_context.max_b_frames = spec.b_frames
    if spec.codec == "mpeg4":  # fixed quantiser 3 (ffmpeg -q:v 3)
        stream.codec_context.qscale, stream.codec_context.global_quality = True, 3 * 118
    if spec.rotation:
        stream.set_display_rotation(spec.rotation)
    packets: list[av.Packet] = []
    t_ms = 0
    for i in range(spec.frames):
        frame = av.VideoFrame.from_ndarray(stored_image(spec, i), format="rgb24")
        if spec.vfr:
            frame.pts, frame.time_base = t_ms, Fraction(1, 1000)
            t_ms += 20 if i % 2 == 0 else 45
        else:
            frame.pts = i
        packets += stream.encode(frame)
    packets += stream.encode(None)
    for k, packet in enumerate(packets):
        if spec.corrupt is not None and k == spec.corrupt:
            packet = _garbage_like(packet)
            packet.stream = stream
        if spec.cut:
            packet.pts, packet.dts = packet.pts - spec.cut, packet.dts - spec.cut
        out.mux(packet)
    out.close()
    return path


def upright_size(spec: Spec) -> tuple[int, int]:
    """(height, width) of the frames as players show them."""
    return (spec.width, spec.height) if spec.rotation % 180 else (spec.height, spec.width)


def stored_image(spec: Spec, index: int) -> np.ndarray:
    """What the file stores: the upright frame turned back by the display rotation (counter-clockwise
    degrees, so a player turns it upright again)."""
    upright = frame_image(index, *upright_size(spec))
    return np.ascontiguousarray(np.rot90(upright, k=-(spec.rotation // 90)))


def _garbage_like(packet: av.Packet) -> av.Packet:
    """The packet with everything after its first NAL header bytes replaced by noise: the framing the
    muxer needs survives, the payload is undecodable (bit rot, a bad sector)."""
    data = bytearray(bytes(packet))
    data[5:] = np.random.default_rng(7).integers(0, 256, size=len(data) - 5, dtype=np.uint8).tobytes()
    bad = av.Packet(bytes(data))
    bad.pts, bad.dts, bad.time_base, bad.is_keyframe = packet.pts, packet.dts, packet.time_base, False
    return bad


def visible(spec: Spec) -> range:
    """The frame numbers (stamped codes) a player shows, in order."""
    return range(spec.cut, spec.frames)


def available(codec: str) -> bool:
    return codec in av.codecs_available


MATRIX: tuple[Spec, ...] = (
    Spec("h264_cfr", ".mp4", "libx264", b_frames=0, gop=12, options={"preset": "veryfast"}),
    Spec("h264_cfr_bframes", ".mp4", "libx264", b_frames=3, gop=12, options={"preset": "veryfast"}),
    Spec("h264_vfr", ".mp4", "libx264", b_frames=0, gop=15, vfr=True, options={"preset": "veryfast"}),
    Spec("h264_vfr_bframes", ".mp4", "libx264", b_frames=3, gop=60, vfr=True, frames=120,
         options={"preset": "veryfast"}),
    Spec("h264_vfr_bframes_mkv", ".mkv", "libx264", b_frames=3, gop=60, vfr=True, frames=120,
         options={"preset": "veryfast"}),
    Spec("h264_long_gop_open", ".mp4", "libx264", b_frames=3, gop=250, frames=90,
         options={"preset": "veryfast", "x264-params": "open-gop=1:keyint=40:min-keyint=40"}),
    Spec("hevc_bframes", ".mp4", "libx265", b_frames=3, gop=24,
         options={"preset": "ultrafast", "x265-params": "log-level=error"}),
    Spec("vp9", ".webm", "libvpx-vp9", gop=20, options={"deadline": "realtime", "cpu-used": "8"}),
    Spec("vp9_alt_ref", ".webm", "libvpx-vp9", gop=30,  # hidden alt-ref frames packed in superframes
         options={"deadline": "good", "cpu-used": "8", "auto-alt-ref": "1", "lag-in-frames": "16"}),
    Spec("av1", ".mp4", "libsvtav1", gop=30, width=128, height=96, options={"preset": "12"}),
    Spec("mpeg4_bframes", ".avi", "mpeg4", b_frames=2, gop=12),
    Spec("mjpeg", ".avi", "mjpeg", pix_fmt="yuvj420p", options={"q": "3"}),
    Spec("h264_rotated_phone", ".mp4", "libx264", b_frames=2, gop=30, rotation=-90, width=160,
         height=96, options={"preset": "veryfast"}),
    Spec("h264_corrupt", ".mp4", "libx264", b_frames=0, gop=10, corrupt=25, options={"preset": "veryfast"}),
    Spec("mjpeg_corrupt", ".avi", "mjpeg", pix_fmt="yuvj420p", corrupt=30, options={"q": "3"}),
    Spec("h264_edit_list", ".mp4", "libx264", b_frames=2, gop=12, frames=45, cut=5,
         options={"preset": "veryfast"}),
    Spec("mpeg2_program_stream", ".mpg", "mpeg2video", b_frames=2, gop=12, frames=50, container_format="vob"),
    # Interlaced H.264 as x264 codes it: MBAFF (frame pictures, each macroblock pair frame- or
    # field-coded), top and bottom field first. x264 cannot code PAFF (separate field pictures); see
    # docs/video.md for that limit.
    Spec("h264_mbaff_tff", ".mp4", "libx264", b_frames=3, gop=12,
         options={"preset": "veryfast", "x264-params": "interlaced=1:tff=1"}),
    Spec("h264_mbaff_bff_mkv", ".mkv", "libx264", b_frames=3, gop=12,
         options={"preset": "veryfast", "x264-params": "interlaced=1:bff=1"}),
    # Broadcast and camcorder files: MPEG-TS (.ts; AVCHD's .mts/.m2ts), here with B-frames and with
    # interlaced MBAFF as camcorders record 1080i; a phone's 3GP (the MP4 family).
    Spec("h264_mpegts_bframes", ".ts", "libx264", b_frames=3, gop=24, options={"preset": "veryfast"}),
    Spec("h264_avchd_mbaff_mts", ".mts", "libx264", b_frames=2, gop=12, container_format="mpegts",
         options={"preset": "veryfast", "x264-params": "interlaced=1:tff=1"}),
    Spec("h264_m2ts", ".m2ts", "libx264", b_frames=2, gop=15, container_format="mpegts",
         options={"preset": "veryfast"}),
    Spec("h264_3gp", ".3gp", "libx264", b_frames=0, gop=15,
         options={"preset": "veryfast", "profile": "baseline"}),
)


def exif_folder(folder: Path, frames: int = 12, orientation: int = 6) -> Path:
    """JPEGs stored sideways with an EXIF orientation tag (6 = rotate 90 clockwise to view), as phones do."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        upright = frame_image(i, 96, 128)
        stored = np.rot90(upright, k=1)  # the inverse of "rotate 90 clockwise"
        exif = Image.Exif()
        exif[0x0112] = orientation
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(stored)).save(buf, "JPEG", quality=95, exif=exif)
        (folder / f"IMG_{i + 1}.jpg").write_bytes(buf.getvalue())
    return folder
