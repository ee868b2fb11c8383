"""Hostile and careless input to the frame source: pipes, devices, empty, truncated and tiny videos,
image folders of every pixel format, mixed sizes, odd names."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from app.cli import main
from sam3core.video import VideoError, VideoSource, natural_key, write_video
from tests.video_matrix import MATRIX, encode, frame_image, read_code


def _small_video(path: Path, width: int, height: int, frames: int = 6) -> Path:
    codec, pix_fmt = ("libx264", "yuv420p") if width % 2 == 0 and height % 2 == 0 else ("mjpeg", "yuvj444p")
    if path.suffix == ".avi":
        codec, pix_fmt = "mjpeg", "yuvj444p"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for i in range(frames):
            image = np.full((height, width, 3), 30 * i, np.uint8)
            image[height // 4:height // 2 + 1, width // 4:width // 2 + 1] = 250
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _opens_within(path: Path, seconds: float = 20.0) -> BaseException | None:
    """Open ``path`` in a thread; fail the test if that hangs (a FIFO would block a naive open)."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            VideoSource(path).close()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"opening {path} hung"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_named_mp4_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    error = _opens_within(fifo)
    assert isinstance(error, VideoError) and "not a regular file" in str(error) and str(fifo) in str(error)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_device_named_mp4_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "camera.mp4"
    link.symlink_to("/dev/zero")
    error = _opens_within(link)
    assert isinstance(error, VideoError) and "not a regular file" in str(error)


def test_zero_byte_and_garbage_and_truncated_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        VideoSource(empty)
    garbage = tmp_path / "garbage.mkv"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoError, match="garbage.mkv"):
        VideoSource(garbage)
    whole = encode(MATRIX[0], tmp_path)  # mp4 with its index (moov) at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(VideoError, match="cut.mp4"):
        VideoSource(cut)


def test_truncated_stream_keeps_the_frames_it_has(tmp_path: Path) -> None:
    whole = encode(MATRIX[0], tmp_path)  # H.264 CFR, 60 frames
    mkv = tmp_path / "whole.mkv"
    with av.open(str(whole)) as src, av.open(str(mkv), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.stream = stream
                dst.mux(packet)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(mkv.read_bytes()[: int(mkv.stat().st_size * 0.6)])  # mkv streams: readable up to the cut
    with VideoSource(cut) as video:
        assert 10 < video.num_frames < 60
        assert [read_code(video[i]) for i in range(video.num_frames)] == list(range(video.num_frames))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = encode(MATRIX[0], tmp_path)
    path.chmod(0)
    try:
        with pytest.raises(VideoError, match="permission denied"):
            VideoSource(path)
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (8, 8)])
def test_tiny_videos_are_refused_clearly(tmp_path: Path, size: tuple[int, int],
                                         capsys: pytest.CaptureFixture) -> None:
    path = _small_video(tmp_path / f"tiny{size[0]}.avi", *size)
    with pytest.raises(VideoError, match=f"{size[0]}x{size[1]} pixels cannot be annotated"):
        VideoSource(path)
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps({"objects": [{"id": 1, "prompts": [
        {"frame": 0, "points": [[0, 0]], "labels": [1]}]}]}))
    code = main(["track", str(path), "--prompts", str(prompts), "--project", str(tmp_path / "t.masklet")])
    assert code == 2 and "cannot be annotated" in capsys.readouterr().err
    assert not (tmp_path / "t.masklet").exists()


def test_long_thin_strip_opens_and_tracks(tmp_path: Path) -> None:
    path = _small_video(tmp_path / "strip.mp4", 8192, 64)
    with VideoSource(path) as video:
        assert (video.num_frames, video.height, video.width) == (6, 64, 8192)
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps({"objects": [{"id": 1, "prompts": [
        {"frame": 0, "points": [[3000, 24]], "labels": [1]}]}]}))
    assert main(["track", str(path), "--prompts", str(prompts), "--project", str(tmp_path / "s.masklet"),
                 "--model", "classical"]) == 0
    from sam3core.sam.preprocess import Preprocessor
    from sam3core.sam.tracking_config import PreprocessConfig

    with VideoSource(path) as video:
        tensor = Preprocessor(PreprocessConfig())(video[0])  # SAM's input: the strip squashed to a square
    assert tuple(tensor.shape[-2:]) == (1024, 1024) and bool(tensor.isfinite().all())


def test_image_folder_pixel_formats(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    rgb = frame_image(0, 96, 128)
    grey = rgb.mean(axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(folder / "f1.png")
    Image.fromarray(grey).save(folder / "f2.png")                                   # L
    cv2.imwrite(str(folder / "f3.png"), grey.astype(np.uint16) * 257)              # 16-bit grey
    cv2.imwrite(str(folder / "f4.png"), rgb[..., ::-1].astype(np.uint16) * 257)    # 16-bit RGB
    Image.fromarray(np.dstack([rgb, np.full(grey.shape, 128, np.uint8)])).save(folder / "f5.png")  # RGBA
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "f6.png")
    Image.fromarray(rgb).save(folder / "f7.tif")
    (folder / ".DS_Store").write_bytes(b"\0\0")
    (folder / "._f1.png").write_bytes(b"AppleDouble")
    with VideoSource(folder) as video:
        assert video.num_frames == 7
        for i in range(7):
            frame = video[i]
            assert frame.shape == (96, 128, 3) and frame.dtype == np.uint8
            assert read_code(frame) == 0, f"frame {i}"
        assert np.array_equal(video[3], rgb) and np.array_equal(video[4], rgb)
        assert np.abs(video[2].astype(int) - grey[..., None]).max() <= 1


def test_mixed_size_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    write_video(folder, [frame_image(i) for i in range(3)])
    Image.fromarray(frame_image(3, 80, 128)).save(folder / "00003.jpg")
    with pytest.raises(VideoError, match=r"differ in size .*00003.jpg is 128x80"):
        VideoSource(folder)


def test_natural_sort_of_names() -> None:
    names = ["cam2_frame1.png", "cam1_frame10.png", "cam1_frame9.png", "IMG_100.jpg", "IMG_20.jpg"]
    assert sorted(names, key=natural_key) == ["cam1_frame9.png", "cam1_frame10.png", "cam2_frame1.png",
                                              "IMG_20.jpg", "IMG_100.jpg"]


def test_unreadable_file_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = encode(MATRIX[0], tmp_path)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == path else real_access(p, mode))
    with pytest.raises(VideoError, match="permission denied") as info:
        VideoSource(path)
    assert str(path) in str(info.value)
