"""Render resources/icons/masklet.svg to the PNG sizes desktops ask for, and a Windows .ico.

Run after editing the SVG:  ``QT_QPA_PLATFORM=offscreen python packaging/render_icons.py``
The PNGs are committed so neither the app nor the build needs an SVG renderer at start-up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(svg: Path, out_dir: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"masklet-{size}.png"
        if not image.save(str(path)):
            raise SystemExit(f"{path}: cannot be written")
        written.append(path)
    return written


def write_ico(pngs: list[Path], out: Path) -> Path:
    from PIL import Image

    largest = Image.open(max(pngs, key=lambda p: int(p.stem.split("-")[-1])))
    largest.save(out, format="ICO", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    return out


def main() -> int:
    pngs = render(ICONS / "masklet.svg", ICONS)
    ico = write_ico(pngs, ICONS / "masklet.ico")
    for path in (*pngs, ico):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
