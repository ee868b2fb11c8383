"""Folders of numbered images as videos: natural order, EXIF orientation, every pixel format to RGB."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sam3core.video.errors import VideoError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def natural_key(name: str) -> tuple:
    """Sort key in which digit runs compare as numbers: ``img2`` < ``img10``, ``cam1_9`` < ``cam1_10`` <
    ``cam2_1`` (a key on the last number alone would interleave the cameras)."""
    parts = re.split(r"(\d+)", name.lower())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p), name


def list_image_frames(folder: Path) -> list[Path]:
    """Image files of a frame folder in natural order of their names. Hidden files (``.DS_Store``,
    macOS ``._IMG_1.jpg`` resource forks) are not frames."""
    files = [p for p in Path(folder).iterdir()
             if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) RGB uint8 of one image file, turned upright by its EXIF orientation.

    Greyscale, 1-bit, palette, RGBA/LA (alpha dropped, as a video player shows it), CMYK, 16-bit
    and float images all come back as 8-bit RGB; 16-bit samples keep their high byte.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                # exif_transpose copies even an upright image: only call it where there is a turn
                turned = image.getexif().get(0x0112, 1) not in (0, 1)
                upright = ImageOps.exif_transpose(image) if turned else image
                return to_rgb8(upright, path)
    except VideoError:
        raise
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:
        raise VideoError(f"{path}: cannot be read as an image ({exc})") from exc


def to_rgb8(image: Image.Image, path: Path) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        grey = np.asarray(image).astype(np.int64)
        # 16-bit data (PNG/TIFF) is what these modes hold in practice; keep the high byte, like the
        # RGB 16-bit case that Pillow already reduces.
        grey = np.clip(grey, 0, 65535) >> 8 if grey.max(initial=0) > 255 else np.clip(grey, 0, 255)
        rgb = np.repeat(grey.astype(np.uint8)[..., None], 3, axis=-1)
    elif mode == "F":
        grey = np.nan_to_num(np.asarray(image, np.float64))
        scale = 255.0 if grey.max(initial=0.0) <= 1.0 else 1.0
        rgb = np.repeat(np.clip(grey * scale, 0, 255).round().astype(np.uint8)[..., None], 3, axis=-1)
    else:
        rgb = np.asarray(image if mode == "RGB" else image.convert("RGB"))
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise VideoError(f"{path}: unsupported image layout {mode} {rgb.shape}")
    return np.ascontiguousarray(rgb)


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) after EXIF orientation, read from the header only (no pixel decoding)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise VideoError(f"{path}: cannot be read as an image ({exc})") from exc
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)
