"""Seeded synthetic video clips with exact ground truth, for tests, benchmarks and the bundled sample.

Each clip shows textured objects (ellipses, rounded boxes, stars, polygons, random blobs) that move,
rotate, change scale and deform non-rigidly over a textured background that pans and zooms; objects
occlude one another by a fixed depth order, one of them may leave the frame and come back, and the
frames get blur, sensor noise and a slight illumination flicker. The ground truth is the exact label
map of the rendered polygons (0 = background, object ids 1..K, the front object wins).

Everything is drawn from ``numpy.random.default_rng(seed)``, so a seed reproduces a clip bit for bit
on one platform.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from sam3core.video import write_video

SHAPES = ("ellipse", "rounded_box", "star", "polygon", "blob")
_ANGLES = 120  # polygon vertices per outline; enough for a smooth outline at 1080p


def davis_palette() -> list[int]:
    """The 256-colour palette of DAVIS annotation PNGs (bit-interleaved label -> RGB), flat list."""
    palette = []
    for label in range(256):
        r = g = b = 0
        value = label
        for bit in range(8):
            r |= ((value >> 0) & 1) << (7 - bit)
            g |= ((value >> 1) & 1) << (7 - bit)
            b |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        palette += [r, g, b]
    return palette


def write_label_png(path: str | Path, labels: np.ndarray) -> None:
    """Write an (H, W) uint8 label map as an indexed PNG with the DAVIS palette."""
    image = Image.fromarray(np.asarray(labels, dtype=np.uint8), mode="P")
    image.putpalette(davis_palette())
    image.save(str(path))


def read_label_png(path: str | Path) -> np.ndarray:
    """Read an indexed (or grey) annotation PNG as an (H, W) uint8 label map."""
    image = Image.open(str(path))
    if image.mode not in ("P", "L"):
        raise ValueError(f"{path}: annotation PNG must be indexed or greyscale, got mode {image.mode}")
    return np.asarray(image, dtype=np.uint8)


@dataclass
class SyntheticClip:
    """A rendered clip: ``frames`` (H, W, 3) RGB uint8 and ``masks`` (H, W) uint8 label maps."""

    frames: list[np.ndarray]
    masks: list[np.ndarray]
    fps: float = 24.0
    seed: int = 0
    shapes: dict[int, str] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def height(self) -> int:
        return int(self.frames[0].shape[0])

    @property
    def width(self) -> int:
        return int(self.frames[0].shape[1])

    @property
    def obj_ids(self) -> list[int]:
        ids: set[int] = set()
        for labels in self.masks:
            ids.update(int(v) for v in np.unique(labels) if v)
        return sorted(ids)

    def object_mask(self, frame: int, obj_id: int) -> np.ndarray:
        """(H, W) bool ground truth of one object on one frame."""
        return self.masks[frame] == obj_id

    def first_box(self, obj_id: int, frame: int = 0) -> tuple[int, int, int, int] | None:
        """Tight (x0, y0, x1, y1) pixel box of the object on ``frame``, None when it is not visible."""
        ys, xs = np.nonzero(self.masks[frame] == obj_id)
        if xs.size == 0:
            return None
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    def write(self, folder: str | Path, *, video_name: str = "video.mp4", jpeg_frames: bool = False) -> Path:
        """Write ``video.mp4`` (or ``JPEGImages/*.jpg`` with ``jpeg_frames``) and ``Annotations/*.png``.

        Returns the path of the video (the mp4 file or the JPEG folder).
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        video = folder / ("JPEGImages" if jpeg_frames else video_name)
        write_video(video, self.frames, fps=self.fps)
        ann = folder / "Annotations"
        ann.mkdir(exist_ok=True)
        for i, labels in enumerate(self.masks):
            write_label_png(ann / f"{i:05d}.png", labels)
        return video


# -- textures ------------------------------------------------------------------------------------
def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Band-limited noise in [0, 1], (H, W) float32: random values on a coarse grid, cubic upsampled."""
    gh, gw = max(2, int(height / cell) + 2), max(2, int(width / cell) + 2)
    grid = rng.random((gh, gw)).astype(np.float32)
    up = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(up.min()), float(up.max())
    return (up - lo) / max(hi - lo, 1e-6)


def _hsv_color(hue: float, sat: float, val: float) -> np.ndarray:
    hsv = np.uint8([[[int(hue * 180) % 180, int(sat * 255), int(val * 255)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _object_texture(rng: np.random.Generator, size: int, hue: float) -> np.ndarray:
    """(size, size, 3) uint8: a saturated base colour with a second-colour pattern and fine grain."""
    base = _hsv_color(hue, rng.uniform(0.55, 0.95), rng.uniform(0.55, 0.95))
    second = _hsv_color(hue + rng.uniform(-0.08, 0.08), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    kind = rng.integers(3)
    if kind == 0:  # stripes
        angle = rng.uniform(0, math.pi)
        period = rng.uniform(6, 16)
        pattern = 0.5 + 0.5 * np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period)
    elif kind == 1:  # spots
        pattern = (_smooth_noise(rng, size, size, rng.uniform(5, 10)) > 0.6).astype(np.float32)
        pattern = cv2.GaussianBlur(pattern, (0, 0), 1.2)
    else:  # marbling
        pattern = _smooth_noise(rng, size, size, rng.uniform(8, 20))
    grain = _smooth_noise(rng, size, size, 2.0)[..., None] - 0.5
    tex = base * (1 - pattern[..., None]) + second * pattern[..., None] + 40 * grain
    return np.clip(tex, 0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8 textured background: colour fields, clutter shapes and grain."""
    hues = rng.random(3)
    canvas = np.zeros((height, width, 3), np.float32)
    weights = [_smooth_noise(rng, height, width, rng.uniform(60, 160)) for _ in hues]
    total = sum(weights) + 1e-6
    for hue, w in zip(hues, weights):
        canvas += (w / total)[..., None] * _hsv_color(hue, rng.uniform(0.15, 0.5), rng.uniform(0.35, 0.8))
    clutter = np.zeros_like(canvas)
    clutter_mask = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(20, 40))):
        color = _hsv_color(rng.random(), rng.uniform(0.1, 0.45), rng.uniform(0.3, 0.85)).tolist()
        center = (int(rng.integers(width)), int(rng.integers(height)))
        if rng.random() < 0.5:
            axes = (int(rng.integers(10, 60)), int(rng.integers(10, 60)))
            cv2.ellipse(clutter, center, axes, float(rng.uniform(0, 180)), 0, 360, color, -1)
            cv2.ellipse(clutter_mask, center, axes, 0, 0, 360, 1.0, -1)
        else:
            end = (center[0] + int(rng.integers(-120, 120)), center[1] + int(rng.integers(-120, 120)))
            thickness = int(rng.integers(3, 12))
            cv2.line(clutter, center, end, color, thickness)
            cv2.line(clutter_mask, center, end, 1.0, thickness)
    alpha = cv2.GaussianBlur(clutter_mask, (0, 0), 1.0)[..., None] * 0.8
    canvas = canvas * (1 - alpha) + clutter * alpha
    grain = _smooth_noise(rng, height, width, 3.0)[..., None] - 0.5
    return np.clip(canvas + 30 * grain, 0, 255).astype(np.uint8)


# -- shapes and motion ---------------------------------------------------------------------------
def _outline(rng: np.random.Generator, shape: str) -> np.ndarray:
    """Polar radius profile r(angle) of a shape, (_ANGLES,) float, max 1."""
    ang = np.linspace(0, 2 * math.pi, _ANGLES, endpoint=False)
    if shape == "ellipse":
        aspect = rng.uniform(0.55, 0.95)
        r = 1 / np.sqrt(np.cos(ang) ** 2 + (np.sin(ang) / aspect) ** 2)
    elif shape == "rounded_box":
        n = 4.0
        aspect = rng.uniform(0.6, 1.0)
        r = (np.abs(np.cos(ang)) ** n + np.abs(np.sin(ang) / aspect) ** n) ** (-1 / n)
    elif shape == "star":
        points = int(rng.integers(4, 7))
        r = 1 + rng.uniform(0.25, 0.4) * np.cos(points * ang)
    elif shape == "polygon":
        sides = int(rng.integers(3, 7))
        sector = 2 * math.pi / sides
        r = math.cos(math.pi / sides) / np.cos(np.mod(ang, sector) - sector / 2)
    elif shape == "blob":
        r = np.ones_like(ang)
        for k in range(2, 5):
            r += rng.uniform(0.05, 0.18) / (k - 1) * np.cos(k * ang + rng.uniform(0, 2 * math.pi))
    else:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
    return r / r.max()


@dataclass
class _Actor:
    obj_id: int
    shape: str
    profile: np.ndarray  # (_ANGLES,) radius profile, max 1
    radius: float  # pixels at scale 1
    texture: np.ndarray  # (S, S, 3) uint8 in the object's own frame
    position: Callable[[float], tuple[float, float]]
    scale: Callable[[float], float]
    angle: Callable[[float], float]
    wobble: tuple[float, int, float, float]  # amplitude, lobes, speed, phase

    def outline(self, t: float) -> np.ndarray:
        """(_ANGLES, 2) float polygon in frame pixels at time ``t`` (frames)."""
        amp, lobes, speed, phase = self.wobble
        ang = np.linspace(0, 2 * math.pi, _ANGLES, endpoint=False)
        r = self.radius * self.scale(t) * self.profile * (1 + amp * np.sin(lobes * ang + speed * t + phase))
        theta = ang + self.angle(t)
        cx, cy = self.position(t)
        return np.stack([cx + r * np.cos(theta), cy + r * np.sin(theta)], axis=1)

    def texture_transform(self, t: float) -> np.ndarray:
        """(2, 3) affine map from texture pixels to frame pixels at time ``t``."""
        s, a = self.scale(t), self.angle(t)
        c = (self.texture.shape[1] - 1) / 2
        cx, cy = self.position(t)
        rot = s * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        return np.hstack([rot, (np.array([cx, cy]) - rot @ np.array([c, c]))[:, None]])


def _make_actor(rng: np.random.Generator, obj_id: int, height: int, width: int, num_frames: int,
                hue: float, leaves: bool, max_speed: float) -> _Actor:
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    radius = float(rng.uniform(0.1, 0.17) * min(height, width))
    wobble_amp = float(rng.uniform(0.04, 0.12))
    reach = radius * 1.45 * (1 + wobble_amp)  # largest extent over scale and wobble
    size = int(2 * math.ceil(reach / 0.7)) + 8
    texture = _object_texture(rng, size, hue)
    cx0 = float(rng.uniform(0.3, 0.7) * width)
    cy0 = float(rng.uniform(0.3, 0.7) * height)
    duration = max(num_frames - 1, 1)
    if leaves:
        # Out through a side edge and back: smooth-step there over 40% of the clip, fully outside for
        # the middle 20%, back over the last 40%. The trip length is capped so that the peak speed
        # (1.5 x trip / (0.4 x duration) for a smooth step) stays within twice max_speed.
        side = 1.0 if rng.random() < 0.5 else -1.0
        edge = width if side > 0 else 0.0
        trip = min(2 * max_speed * 0.4 * duration / 1.5, 0.6 * width + 1.15 * reach)
        cx0 = edge - side * (trip - 1.15 * reach)
        amp_y = float(rng.uniform(0.05, 0.12) * height)

        def position(t: float) -> tuple[float, float]:
            u = t / duration
            ramp = min(u, 1 - u) / 0.4
            g = 1.0 if ramp >= 1 else ramp * ramp * (3 - 2 * ramp)
            return cx0 + side * trip * g, cy0 + amp_y * math.sin(2 * math.pi * u)
    else:
        ax = float(rng.uniform(0.12, 0.25) * width)
        ay = float(rng.uniform(0.1, 0.22) * height)
        fx = float(rng.uniform(0.6, 1.4)) * 2 * math.pi / duration
        fy = float(rng.uniform(0.6, 1.4)) * 2 * math.pi / duration
        px, py = float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, 2 * math.pi))
        # Keep the per-frame displacement below max_speed pixels.
        peak_speed = math.hypot(ax * fx, ay * fy)
        if peak_speed > max_speed:
            ax, ay = ax * max_speed / peak_speed, ay * max_speed / peak_speed

        def position(t: float) -> tuple[float, float]:
            return cx0 + ax * math.sin(fx * t + px), cy0 + ay * math.sin(fy * t + py)

    s_amp = float(rng.uniform(0.15, 0.35))
    s_freq = float(rng.uniform(0.5, 1.5)) * 2 * math.pi / duration
    s_phase = float(rng.uniform(0, 2 * math.pi))
    spin = float(rng.uniform(-0.6, 0.6)) * 2 * math.pi / duration
    a0 = float(rng.uniform(0, 2 * math.pi))
    wobble = (wobble_amp, int(rng.integers(2, 4)), float(rng.uniform(0.1, 0.3)), float(rng.uniform(0, 6.3)))
    return _Actor(
        obj_id=obj_id, shape=shape, profile=_outline(rng, shape), radius=radius, texture=texture,
        position=position,
        scale=lambda t: 1 + s_amp * math.sin(s_freq * t + s_phase),
        angle=lambda t: a0 + spin * t,
        wobble=wobble,
    )


def generate_clip(seed: int, *, num_frames: int = 48, height: int = 360, width: int = 640,
                  num_objects: int = 3, leave_frame: bool = True, noise: float = 4.0, blur: float = 0.8,
                  max_speed: float | None = None, fps: float = 24.0) -> SyntheticClip:
    """Render a reproducible clip; see the module docstring for what it shows.

    ``leave_frame`` makes object 1 exit through a side edge mid-clip and return; ``noise`` is the
    standard deviation of Gaussian sensor noise (8-bit units), ``blur`` the Gaussian blur sigma in
    pixels; ``max_speed`` caps the per-frame displacement of the wandering objects (default 1.5% of
    the frame diagonal).
    """
    if num_frames < 1 or height < 16 or width < 16:
        raise ValueError(f"clip needs >= 1 frame of >= 16x16 pixels, got {num_frames} of {width}x{height}")
    if not 1 <= num_objects <= 20:
        raise ValueError(f"num_objects must be in 1..20, got {num_objects}")
    rng = np.random.default_rng(seed)
    speed = max_speed if max_speed is not None else 0.015 * math.hypot(height, width)
    pad = int(0.15 * max(height, width))
    background = _background(rng, height + 2 * pad, width + 2 * pad)
    hue0 = rng.random()
    hues = [(hue0 + k / num_objects + rng.uniform(-0.05, 0.05)) % 1 for k in range(num_objects)]
    actors = [
        _make_actor(rng, k + 1, height, width, num_frames, hues[k], leaves=leave_frame and k == 0,
                    max_speed=speed)
        for k in range(num_objects)
    ]
    depth = [actors[int(i)] for i in rng.permutation(num_objects)]  # back to front
    pan = rng.uniform(-1, 1, 2) * pad * 0.8
    zoom = float(rng.uniform(0.0, 0.06))
    flicker = float(rng.uniform(0.0, 0.04))
    frames: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for t in range(num_frames):
        u = t / max(num_frames - 1, 1)
        scale = 1 + zoom * u
        shift = pan * (u - 0.5)
        # Background: crop of the padded canvas following a pan with a slow zoom about the centre.
        bg_m = np.array([[scale, 0, -pad + shift[0] - (scale - 1) * width / 2],
                         [0, scale, -pad + shift[1] - (scale - 1) * height / 2]], np.float32)
        frame = cv2.warpAffine(background, bg_m, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        labels = np.zeros((height, width), np.uint8)
        for actor in depth:
            poly = np.round(actor.outline(float(t)) * 16).astype(np.int32)
            mask = np.zeros((height, width), np.uint8)
            cv2.fillPoly(mask, [poly], 1, lineType=cv2.LINE_8, shift=4)
            if not mask.any():
                continue
            tex = cv2.warpAffine(actor.texture, actor.texture_transform(float(t)), (width, height),
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            # Soft 1-px edge for the picture only; the label map stays exact.
            alpha = cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0.6)[..., None]
            frame = frame * (1 - alpha) + tex.astype(np.float32) * alpha
            labels[mask > 0] = actor.obj_id
        frame *= 1 + flicker * math.sin(2 * math.pi * u * 1.5)
        if blur > 0:
            frame = cv2.GaussianBlur(frame, (0, 0), blur)
        if noise > 0:
            frame += rng.normal(0, noise, frame.shape).astype(np.float32)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
        masks.append(labels)
    return SyntheticClip(frames, masks, fps=fps, seed=seed, shapes={a.obj_id: a.shape for a in actors})


def generate_set(seed: int, count: int, **kwargs: object) -> list[SyntheticClip]:
    """``count`` clips with seeds derived from ``seed``; keyword arguments go to :func:`generate_clip`."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=count)
    return [generate_clip(int(s), **kwargs) for s in seeds]  # type: ignore[arg-type]
